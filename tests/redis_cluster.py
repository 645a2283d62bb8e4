"""A real three-node Redis Cluster for the tests, started from the redis-server binary (never skipped)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.redis_server import HOW_TO_GET_ONE
from tests.servers import free_port

NODES = 3


CLUSTER_BUS_OFFSET = 10_000  # each node also listens on port + 10000 for the cluster bus


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    """A free port whose cluster-bus port (+10000) exists and is free too."""
    while True:
        port = free_port()
        if port + CLUSTER_BUS_OFFSET <= 65_535 and _bindable(port + CLUSTER_BUS_OFFSET):
            return port


def _info(cli: str, port: int) -> str:
    result = subprocess.run([cli, "-p", str(port), "cluster", "info"], capture_output=True, text=True, timeout=5)
    return result.stdout


@contextmanager
def redis_cluster() -> Iterator[str]:
    """Yields `redis://127.0.0.1:<port>` of one node of a fresh cluster covering every slot; tears it down after."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        raise RuntimeError(f"The Redis Cluster tests start their own nodes. {HOW_TO_GET_ONE}")
    workdir = Path(tempfile.mkdtemp(prefix="gateway-redis-cluster-"))
    ports = [_free_port() for _ in range(NODES)]
    nodes = [
        subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(workdir / f"nodes-{port}.conf"), "--dir", str(workdir),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:
        deadline = time.monotonic() + 15
        while any(_info(cli, port) == "" for port in ports):
            if time.monotonic() > deadline or any(node.poll() is not None for node in nodes):
                raise RuntimeError("redis-server did not start in cluster mode")
            time.sleep(0.05)
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
        while any("cluster_state:ok" not in _info(cli, port) for port in ports):
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{ports[0]}"
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
