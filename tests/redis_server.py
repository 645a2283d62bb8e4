"""Find a real Redis for the tests: REDIS_URL, else 127.0.0.1:6379, else a redis-server we start; never skip."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from urllib.parse import urlparse

TEST_DB = int(os.environ.get("GATEWAY_TEST_REDIS_DB", "15"))
HOW_TO_GET_ONE = (
    "The tests need a real Redis. Set REDIS_URL, run one on 127.0.0.1:6379, "
    "or install redis-server (e.g. `apt-get install redis-server`) so the tests can start one."
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _with_db(url: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{TEST_DB}").geturl()


def locate_or_start() -> tuple[str, subprocess.Popen[bytes] | None]:
    """Return (redis url with the test db, process we started or None)."""
    env_url = os.environ.get("REDIS_URL")
    if env_url:
        return _with_db(env_url), None
    if _reachable("127.0.0.1", 6379):
        return f"redis://127.0.0.1:6379/{TEST_DB}", None
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(HOW_TO_GET_ONE)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="gateway-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _reachable("127.0.0.1", port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not start on port {port}. {HOW_TO_GET_ONE}")
        time.sleep(0.05)
    return f"redis://127.0.0.1:{port}/{TEST_DB}", proc
