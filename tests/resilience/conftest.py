"""Breaker stores under one harness (memory on a fake clock, Redis on real time) and the simulator on a socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.resilience import BreakerStore, MemoryBreakerStore, RedisBreakerStore
from gateway.settings import Settings
from gateway.sim.app import create_sim_app
from gateway.upstream.client import UpstreamClient, build_transport
from tests.resilience.fakes import FakeClock
from tests.servers import ServerThread, serve

UPSTREAM_KEY = "sk-or-v1-resilience-tests"


@dataclass
class StoreHarness:
    """A breaker store plus the means to let time pass: the fake clock in memory, real sleep against Redis."""

    store: BreakerStore
    kind: str
    clock: FakeClock | None = None

    async def advance(self, seconds: float) -> None:
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            await asyncio.sleep(seconds)


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[StoreHarness]:
    if request.param == "memory":
        clock = FakeClock()
        yield StoreHarness(MemoryBreakerStore(clock), "memory", clock)
        return
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield StoreHarness(RedisBreakerStore(client), "redis")
    finally:
        await client.aclose()


@pytest.fixture
async def second_redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """Another connection to the (already flushed) test db: a second replica's view of the shared state."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@dataclass
class Sim:
    server: ServerThread
    control: httpx.Client

    @property
    def base_url(self) -> str:
        return f"{self.server.url}/api/v1"

    def fault(self, **spec: object) -> None:
        self.control.post("/_sim/faults", json=spec).raise_for_status()

    def clear_faults(self) -> None:
        self.control.delete("/_sim/faults").raise_for_status()

    def requests_by_model(self) -> dict[str, int]:
        return self.control.get("/_sim/stats").json()["requests_by_model"]  # type: ignore[no-any-return]

    def requests_total(self) -> int:
        return self.control.get("/_sim/stats").json()["requests_total"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread) -> Iterator[Sim]:
    with httpx.Client(base_url=sim_server.url, timeout=10) as control:
        control.post("/_sim/reset").raise_for_status()
        yield Sim(sim_server, control)


@pytest.fixture
async def upstream(sim: Sim) -> AsyncIterator[UpstreamClient]:
    """The gateway's real upstream client (aiohttp transport) pointed at the simulator."""
    settings = Settings(openrouter_base_url=sim.base_url, openrouter_api_key=UPSTREAM_KEY)  # type: ignore[call-arg]
    transport = build_transport(settings)
    try:
        yield UpstreamClient.on_transport(transport, settings)
    finally:
        await transport.aclose()
