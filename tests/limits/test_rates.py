"""Rate limits and concurrency caps; every test runs against the in-process and the Redis backend."""

from __future__ import annotations

import asyncio

from gateway.limits import RateLimits, Settlement
from tests.limits.conftest import Harness, ask


async def test_exactly_rpm_of_200_concurrent_requests_pass(harness: Harness) -> None:
    limits = RateLimits(rpm=50)
    results = await asyncio.gather(*(harness.backend.admit(ask(org_limits=limits)) for _ in range(200)))
    allowed = [r for r in results if r.allowed]
    assert len(allowed) == 50
    refused = [r for r in results if not r.allowed]
    assert {r.reason for r in refused} == {"org_rpm"}
    assert all(0 < r.retry_after_s <= 1.2 for r in refused)
    assert all(r.requests_remaining == 0 and r.requests_limit == 50 for r in refused)


async def test_subject_limit_is_separate_from_the_org(harness: Harness) -> None:
    org, sub = RateLimits(rpm=100), RateLimits(rpm=3)
    alice = [await harness.backend.admit(ask(org_limits=org, subject_limits=sub)) for _ in range(5)]
    assert [a.allowed for a in alice] == [True, True, True, False, False]
    assert alice[-1].reason == "subject_rpm"
    bob = await harness.backend.admit(ask(subject="bob", org_limits=org, subject_limits=sub))
    assert bob.allowed
    # The header reports the tighter of the two limits.
    assert (alice[2].requests_limit, alice[2].requests_remaining) == (3, 0)


async def test_no_second_burst_after_the_first_is_spent(harness: Harness) -> None:
    limits = RateLimits(rpm=60)
    first = await asyncio.gather(*(harness.backend.admit(ask(org_limits=limits)) for _ in range(60)))
    assert all(a.allowed for a in first)
    await harness.advance(1.05)
    later = await asyncio.gather(*(harness.backend.admit(ask(org_limits=limits)) for _ in range(10)))
    # A fixed window would hand out up to 60 more once its minute rolls over; GCRA refills one per second.
    assert sum(a.allowed for a in later) == 1


async def test_window_edge_gives_no_double_burst(harness: Harness) -> None:
    if harness.clock is None:
        return  # Redis time cannot be moved to a minute edge; the test above covers Redis.
    harness.clock.set(MINUTE_EDGE - 0.1)
    limits = RateLimits(rpm=30)
    before = [await harness.backend.admit(ask(org_limits=limits)) for _ in range(30)]
    harness.clock.set(MINUTE_EDGE + 0.1)
    after = [await harness.backend.admit(ask(org_limits=limits)) for _ in range(30)]
    assert sum(a.allowed for a in before) == 30
    assert sum(a.allowed for a in after) == 0
    harness.clock.advance(30)
    assert sum([(await harness.backend.admit(ask(org_limits=limits))).allowed for _ in range(30)]) == 15


MINUTE_EDGE = 1_750_248_060.0


async def test_tokens_are_consumed_and_corrected_at_settlement(harness: Harness) -> None:
    limits = RateLimits(tpm=1000)
    first = await harness.backend.admit(ask(org_limits=limits, tokens=600, request_id="t1"))
    assert first.allowed
    assert first.tokens_limit == 1000 and 399 <= first.tokens_remaining <= 400
    second = await harness.backend.admit(ask(org_limits=limits, tokens=600))
    assert (second.allowed, second.reason) == (False, "org_tpm")
    # The answer used 100 tokens, not 600: the 500 difference is given back.
    await harness.backend.settle(Settlement("t1", "acme", "alice", "m", 0.0, 100))
    third = await harness.backend.admit(ask(org_limits=limits, tokens=600, request_id="t3"))
    assert third.allowed
    # Now one that used far more than it estimated: the excess is charged.
    await harness.backend.settle(Settlement("t3", "acme", "alice", "m", 0.0, 900))
    fourth = await harness.backend.admit(ask(org_limits=limits, tokens=1))
    assert (fourth.allowed, fourth.reason) == (False, "org_tpm")
    assert fourth.retry_after_s > 0


async def test_subject_tpm_corrected_too(harness: Harness) -> None:
    sub = RateLimits(tpm=100)
    assert (await harness.backend.admit(ask(subject_limits=sub, tokens=100, request_id="s1"))).allowed
    assert (await harness.backend.admit(ask(subject_limits=sub, tokens=50))).reason == "subject_tpm"
    await harness.backend.settle(Settlement("s1", "acme", "alice", "m", 0.0, 10))
    assert (await harness.backend.admit(ask(subject_limits=sub, tokens=50))).allowed


async def test_release_refunds_the_token_estimate(harness: Harness) -> None:
    limits = RateLimits(tpm=1000)
    assert (await harness.backend.admit(ask(org_limits=limits, tokens=900, request_id="r1"))).allowed
    assert not (await harness.backend.admit(ask(org_limits=limits, tokens=900))).allowed
    await harness.backend.release("r1", "acme", "alice")
    assert (await harness.backend.admit(ask(org_limits=limits, tokens=900))).allowed


async def test_concurrency_cap_and_its_release(harness: Harness) -> None:
    limits = RateLimits(max_concurrent=3)
    admitted = [await harness.backend.admit(ask(org_limits=limits, request_id=f"c{i}")) for i in range(3)]
    assert all(a.allowed for a in admitted)
    refused = await harness.backend.admit(ask(org_limits=limits))
    assert (refused.allowed, refused.reason) == (False, "org_concurrency")
    assert refused.retry_after_s > 0
    await harness.backend.release("c0", "acme", "alice")
    assert (await harness.backend.admit(ask(org_limits=limits, request_id="c3"))).allowed
    assert not (await harness.backend.admit(ask(org_limits=limits))).allowed
    await harness.backend.settle(Settlement("c1", "acme", "alice", "m", 0.0, 0))
    assert (await harness.backend.admit(ask(org_limits=limits))).allowed


async def test_subject_concurrency_under_concurrent_arrivals(harness: Harness) -> None:
    sub = RateLimits(max_concurrent=2)
    results = await asyncio.gather(*(harness.backend.admit(ask(subject_limits=sub)) for _ in range(50)))
    assert sum(r.allowed for r in results) == 2
    assert {r.reason for r in results if not r.allowed} == {"subject_concurrency"}
    assert (await harness.backend.admit(ask(subject="bob", subject_limits=sub))).allowed


async def test_expired_reservation_frees_its_concurrency_slot(harness: Harness) -> None:
    limits = RateLimits(max_concurrent=1)
    assert (await harness.backend.admit(ask(org_limits=limits, subject_limits=limits, ttl_s=0.3))).allowed
    assert not (await harness.backend.admit(ask(org_limits=limits, subject_limits=limits))).allowed
    await harness.advance(0.4)
    assert (await harness.backend.admit(ask(org_limits=limits, subject_limits=limits))).allowed


async def test_headers_describe_the_limits(harness: Harness) -> None:
    admission = await harness.backend.admit(ask(org_limits=RateLimits(rpm=10, tpm=1000), tokens=250))
    assert (admission.requests_limit, admission.requests_remaining) == (10, 9)
    assert 5.9 <= admission.requests_reset_s <= 6.0
    assert (admission.tokens_limit, admission.tokens_remaining) == (1000, 750)
    headers = admission.headers()
    assert headers["x-ratelimit-remaining-requests"] == "9"
    assert headers["x-ratelimit-limit-tokens"] == "1000"
    assert headers["x-ratelimit-reset-tokens"].endswith("s")
    assert "retry-after" not in headers
    unlimited = await harness.backend.admit(ask())
    assert unlimited.requests_limit is None and unlimited.headers() == {}


async def test_refused_request_consumes_nothing(harness: Harness) -> None:
    # The subject limit refuses; the org limit must not have been charged for it.
    org, sub = RateLimits(rpm=5), RateLimits(rpm=1)
    assert (await harness.backend.admit(ask(org_limits=org, subject_limits=sub))).allowed
    for _ in range(10):
        assert not (await harness.backend.admit(ask(org_limits=org, subject_limits=sub))).allowed
    others = [await harness.backend.admit(ask(subject=f"s{i}", org_limits=org, subject_limits=sub)) for i in range(5)]
    assert [a.allowed for a in others] == [True, True, True, True, False]


async def test_same_request_id_admitted_twice_consumes_once(harness: Harness) -> None:
    limits = RateLimits(rpm=2)
    assert (await harness.backend.admit(ask(org_limits=limits, request_id="dup"))).allowed
    assert (await harness.backend.admit(ask(org_limits=limits, request_id="dup"))).allowed
    assert (await harness.backend.admit(ask(org_limits=limits))).allowed
    assert not (await harness.backend.admit(ask(org_limits=limits))).allowed
