"""The policy's `timeouts.connect_s` bounds connecting to OpenRouter, proven against a listener that never accepts."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from gateway.errors import UpstreamTimeoutError
from gateway.policy.loader import parse_policy
from gateway.resilience.memory_breaker import MemoryBreakerStore
from gateway.settings import Settings
from gateway.upstream.client import UpstreamClient, build_transport
from gateway.upstream.plan import Resilience


@pytest.fixture
def unanswered_address() -> Iterator[tuple[str, int]]:
    """A listening socket whose accept queue is full: further connection attempts hang in SYN_SENT."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    address = server.getsockname()
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # a non-blocking connect is still in progress
            filler.connect(address)
        fillers.append(filler)
    time.sleep(0.1)
    try:
        yield address
    finally:
        for sock in [*fillers, server]:
            sock.close()


def test_the_plan_carries_the_policys_connect_timeout() -> None:
    policy = parse_policy("timeouts: {connect_s: 0.25, first_byte_s: 5, idle_s: 5, total_s: 30}")
    plan = Resilience(MemoryBreakerStore()).plan(policy, policy.resolve("openai/gpt-4o-mini", "acme"))
    assert (plan.connect_s, plan.first_byte_s, plan.idle_s, plan.deadline_s) == (0.25, 5, 5, 30)


async def test_a_connect_timeout_ends_the_attempt_long_before_the_settings_default(
    unanswered_address: tuple[str, int],
) -> None:
    host, port = unanswered_address
    settings = Settings(openrouter_base_url=f"http://{host}:{port}/api/v1", openrouter_api_key="sk-or-v1-test",
                        upstream_connect_timeout_s=30)
    transport = build_transport(settings)
    client = UpstreamClient.on_transport(transport, settings)
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamTimeoutError):
            await client.post("/chat/completions", b"{}", stream=False, connect_timeout_s=0.3)
        with pytest.raises(UpstreamTimeoutError):
            await client.post("/chat/completions", b"{}", stream=True, read_timeout_s=5, connect_timeout_s=0.3)
    finally:
        await transport.aclose()
    assert time.monotonic() - started < 5  # the settings' 30 s would have been waited otherwise
