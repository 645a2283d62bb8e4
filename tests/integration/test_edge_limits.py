"""Limits at the edge, over real sockets against a real `gateway serve`: timeouts, header bounds, concurrency cap.

Each finding of the hardening probe is reproduced: a socket that never sends a byte, a slowloris, a trickling
body, an oversized header and too many headers, and more concurrent requests than the cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from gateway.auth.tokens import mint_token
from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, UPSTREAM_KEY, GatewayProcess
from tests.servers import serve

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.0
MAX_CONCURRENT = 4


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    directory: Path = tmp_path_factory.mktemp("edge")
    policy = directory / "policy.yaml"
    policy.write_text("defaults: {rpm: null, tpm: null}\n")
    with serve(create_sim_app()) as sim:
        env = {
            "OPENROUTER_BASE_URL": f"{sim.url}/api/v1", "OPENROUTER_API_KEY": UPSTREAM_KEY,
            "GATEWAY_JWT_SECRET": JWT_SECRET, "GATEWAY_POLICY_FILE": str(policy), "REDIS_URL": "",
            "GATEWAY_SPOOL_DIR": str(directory / "spool"), "GATEWAY_ACCESS_LOG": "false",
            "GATEWAY_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), "GATEWAY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "GATEWAY_MAX_HEADER_BYTES": "8192", "GATEWAY_MAX_HEADERS": "50",
            "GATEWAY_MAX_CONCURRENT_REQUESTS": str(MAX_CONCURRENT),
        }
        process = GatewayProcess(env)
        try:
            process.wait_ready()
            yield process
        finally:
            process.stop()


def _connect(gateway: GatewayProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", gateway.port), timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the gateway closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _json_body(response: bytes) -> dict:
    return orjson.loads(response.split(b"\r\n\r\n", 1)[1])


def test_a_socket_that_never_sends_a_byte_is_closed_within_the_header_timeout(gateway: GatewayProcess) -> None:
    with _connect(gateway) as sock:
        started = time.monotonic()
        assert _read_all(sock) == b""
        elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT_S * 0.8 <= elapsed < HEADER_TIMEOUT_S + 1.5


def test_a_slowloris_is_cut_with_a_408(gateway: GatewayProcess) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: " + b"a" * 40
    with _connect(gateway) as sock:
        started = time.monotonic()
        sock.settimeout(0.25)
        received = b""
        for byte in request:  # one header byte every quarter second, never finishing the headers
            try:
                sock.sendall(bytes([byte]))
                received += sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if received:
                break
        sock.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            received += _read_all(sock)
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert _json_body(received)["error"]["code"] == "request_timeout"
    assert elapsed < HEADER_TIMEOUT_S + 1.5


def test_a_trickling_body_is_cut_with_a_408(gateway: GatewayProcess) -> None:
    token = mint_token(JWT_SECRET, org="acme", subject="slow")
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n").encode()
    with _connect(gateway) as sock:
        started = time.monotonic()
        sock.sendall(head + b'{"model": ')
        received = _read_all(sock)
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert _json_body(received)["error"]["type"] == "invalid_request_error"
    assert BODY_TIMEOUT_S * 0.8 <= elapsed < BODY_TIMEOUT_S + 1.5


@pytest.mark.parametrize("headers", [
    [("X-Big", "a" * 64 * 1024)],  # one oversized header
    [(f"X-Many-{i}", "v") for i in range(200)],  # too many headers, each small
    [("X-Big", "a" * 8 * 1024 * 1024)],  # the probe's 8 MiB header
], ids=["64KiB-header", "200-headers", "8MiB-header"])
def test_oversized_or_too_many_headers_are_refused(gateway: GatewayProcess, headers: list[tuple[str, str]]) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n"
    request += b"".join(f"{name}: {value}\r\n".encode() for name, value in headers) + b"\r\n"
    with _connect(gateway) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)  # may be refused and closed before we finish sending: also not served
        try:
            received = _read_all(sock)
        except ConnectionResetError:
            received = b""
    assert not received.startswith(b"HTTP/1.1 200")
    if received:
        assert received.startswith(b"HTTP/1.1 431"), received[:200]
        assert _json_body(received)["error"]["code"] == "headers_too_large"
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200  # and the gateway serves everyone else


def test_over_the_concurrency_cap_a_clean_503(gateway: GatewayProcess) -> None:
    token = mint_token(JWT_SECRET, org="acme", subject="busy")
    slow = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "sim": {"ttft_ms": 1500}}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30, headers={"authorization": f"Bearer {token}"},
                                     limits=httpx.Limits(max_connections=50)) as client:
            holders = [asyncio.ensure_future(client.post("/v1/chat/completions", json=slow))
                       for _ in range(MAX_CONCURRENT)]
            await asyncio.sleep(0.5)  # the first four are in flight, waiting on the simulator
            extra = await asyncio.gather(*(client.post("/v1/chat/completions", json=slow) for _ in range(3)))
            return [*await asyncio.gather(*holders), *extra]

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses[:MAX_CONCURRENT]] == [200] * MAX_CONCURRENT
    for refused in responses[MAX_CONCURRENT:]:
        assert refused.status_code == 503
        assert refused.json()["error"] == {"message": refused.json()["error"]["message"], "type": "api_error",
                                           "param": None, "code": "overloaded"}
        assert refused.headers["retry-after"] == "1" and refused.headers["x-request-id"]
    assert httpx.post(f"{gateway.url}/v1/chat/completions", json={**slow, "sim": {}},
                      headers={"authorization": f"Bearer {token}"}, timeout=30).status_code == 200


def test_large_bodies_and_keep_alive_requests_are_served(gateway: GatewayProcess) -> None:
    """The header bound counts header bytes only, and the deadlines follow each request on a kept-alive socket."""
    token = mint_token(JWT_SECRET, org="acme", subject="big")
    big = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 100_000}], "max_tokens": 5}
    with httpx.Client(base_url=gateway.url, timeout=30, headers={"authorization": f"Bearer {token}"}) as client:
        for _ in range(3):
            assert client.post("/v1/chat/completions", json=big).status_code == 200
            time.sleep(HEADER_TIMEOUT_S * 0.6)  # idle between requests, within the keep-alive timeout
        assert client.get("/healthz").status_code == 200
