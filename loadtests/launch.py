"""Starting the benchmarks' servers as child processes on loopback, and waiting until they answer."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not come up")


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """A child process (its output discarded), yielded once `ready_url` answers; terminated after."""
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_http(ready_url)
        yield child
    finally:
        child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@contextmanager
def maybe(start: bool, cmd: list[str], env: dict[str, str], ready_url: str) -> Iterator[None]:
    if not start:
        yield
        return
    with process(cmd, env, ready_url):
        yield
