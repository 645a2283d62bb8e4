"""Full-jitter backoff bounds and Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from gateway.errors import RateLimitError
from gateway.resilience import full_jitter, parse_retry_after, retry_after_of


def test_full_jitter_spans_zero_to_the_exponential_ceiling() -> None:
    assert full_jitter(0, 0.25, 8.0, lambda: 0.0) == 0.0
    assert full_jitter(0, 0.25, 8.0, lambda: 0.5) == pytest.approx(0.125)
    assert full_jitter(3, 0.25, 8.0, lambda: 0.5) == pytest.approx(1.0)  # ceiling 0.25 * 2**3 = 2


def test_full_jitter_ceiling_is_capped_at_max_delay_even_for_huge_retry_counts() -> None:
    assert full_jitter(10, 0.25, 8.0, lambda: 0.999) == pytest.approx(8.0 * 0.999)
    assert full_jitter(10_000, 0.25, 8.0, lambda: 0.5) == pytest.approx(4.0)


def test_full_jitter_draws_stay_in_bounds_and_spread_out() -> None:
    rng = random.Random(7)
    draws = [full_jitter(2, 0.5, 8.0, rng.random) for _ in range(2000)]
    assert all(0 <= draw < 2.0 for draw in draws)
    # Uniform over [0, 2): mean near 1 and both halves well populated (no clustering at the ceiling).
    assert 0.9 < sum(draws) / len(draws) < 1.1
    assert sum(draw < 1.0 for draw in draws) > 800


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("2.5", 2.5), (" 7 ", 7.0), ("0", 0.0), ("-3", 0.0), ("soon", None), ("inf", None), (None, None)],
)
def test_retry_after_delta_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_http_date_is_relative_to_now() -> None:
    moment = datetime(2025, 6, 18, 12, 0, 30, tzinfo=UTC)
    assert parse_retry_after(format_datetime(moment, usegmt=True), now_epoch_s=moment.timestamp() - 30) == 30.0
    assert parse_retry_after(format_datetime(moment, usegmt=True), now_epoch_s=moment.timestamp() + 30) == 0.0


def test_retry_after_is_read_from_the_relayed_headers_whatever_their_case() -> None:
    assert retry_after_of(RateLimitError("slow down", headers={"Retry-After": "4"})) == 4.0
    assert retry_after_of(RateLimitError("slow down", headers={"retry-after": "0.5"})) == 0.5
    assert retry_after_of(RateLimitError("slow down")) is None
