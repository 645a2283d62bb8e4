"""Single-flight: one producer call per key at a time, every concurrent caller gets its outcome."""

from __future__ import annotations

import asyncio

import pytest

from gateway.cache import Coalescer


class SlowProducer:
    def __init__(self, value: bytes = b"answer", error: Exception | None = None) -> None:
        self.calls = 0
        self.value = value
        self.error = error
        self.release = asyncio.Event()

    async def __call__(self) -> bytes:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error
        return self.value


async def start(
    coalescer: Coalescer, key: str, producer: SlowProducer, count: int
) -> list[asyncio.Task[tuple[bytes, bool]]]:
    tasks = [asyncio.create_task(coalescer.run(key, producer)) for _ in range(count)]
    await asyncio.sleep(0)  # let every task reach its await
    return tasks


async def test_twenty_concurrent_callers_make_one_call() -> None:
    coalescer = Coalescer()
    producer = SlowProducer()
    tasks = await start(coalescer, "k", producer, 20)
    assert coalescer.inflight == 1
    producer.release.set()
    results = await asyncio.gather(*tasks)
    assert producer.calls == 1
    assert [value for value, _ in results] == [b"answer"] * 20
    assert sum(leader for _, leader in results) == 1
    assert coalescer.inflight == 0


async def test_leader_exception_reaches_every_waiter() -> None:
    coalescer = Coalescer()
    producer = SlowProducer(error=ValueError("upstream down"))
    tasks = await start(coalescer, "k", producer, 5)
    producer.release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert producer.calls == 1
    assert all(isinstance(outcome, ValueError) and str(outcome) == "upstream down" for outcome in outcomes)
    assert coalescer.inflight == 0


async def test_a_call_after_completion_runs_the_producer_again() -> None:
    coalescer = Coalescer()
    producer = SlowProducer()
    producer.release.set()
    assert await coalescer.run("k", producer) == (b"answer", True)
    assert await coalescer.run("k", producer) == (b"answer", True)
    assert producer.calls == 2


async def test_a_call_after_a_failure_runs_the_producer_again() -> None:
    coalescer = Coalescer()
    failing = SlowProducer(error=RuntimeError("boom"))
    failing.release.set()
    with pytest.raises(RuntimeError):
        await coalescer.run("k", failing)
    working = SlowProducer()
    working.release.set()
    assert await coalescer.run("k", working) == (b"answer", True)


async def test_different_keys_do_not_share_a_flight() -> None:
    coalescer = Coalescer()
    first, second = SlowProducer(b"one"), SlowProducer(b"two")
    tasks = await start(coalescer, "a", first, 3) + await start(coalescer, "b", second, 3)
    first.release.set()
    second.release.set()
    results = await asyncio.gather(*tasks)
    assert (first.calls, second.calls) == (1, 1)
    assert [value for value, _ in results] == [b"one"] * 3 + [b"two"] * 3


async def test_a_cancelled_leader_hands_over_to_a_waiter() -> None:
    coalescer = Coalescer()
    producer = SlowProducer()
    leader, *waiters = await start(coalescer, "k", producer, 3)
    leader.cancel()
    # Release only once a waiter has taken over and is itself waiting on the producer; released earlier,
    # the new leader would finish before the other waiter woke, and that one would lead a third flight.
    for _ in range(50):
        if producer.calls == 2:
            break
        await asyncio.sleep(0)
    assert producer.calls == 2
    assert coalescer.inflight == 1
    producer.release.set()
    results = await asyncio.gather(*waiters)
    assert leader.cancelled()
    assert [value for value, _ in results] == [b"answer", b"answer"]
    assert sum(was_leader for _, was_leader in results) == 1  # one waiter took over
    assert producer.calls == 2


async def test_a_cancelled_waiter_leaves_the_others_alone() -> None:
    coalescer = Coalescer()
    producer = SlowProducer()
    leader, quitter, stayer = await start(coalescer, "k", producer, 3)
    quitter.cancel()
    await asyncio.sleep(0)
    producer.release.set()
    assert await leader == (b"answer", True)
    assert await stayer == (b"answer", False)
    assert quitter.cancelled()
    assert producer.calls == 1
