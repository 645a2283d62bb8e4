"""Budget alert webhooks over real sockets: a receiver that is briefly down still gets each alert exactly once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.alerts import AlertNotifier
from gateway.limits.types import BudgetAlert
from gateway.metrics import Metrics
from tests.servers import serve

ALERT = BudgetAlert(org="acme", period="daily", period_key="2026-12-01", threshold=80, spent_usd=8.0, budget_usd=10.0)


class FlakyReceiver:
    """Answers the scripted statuses in turn (then 204), keeping every body it was sent."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, object]] = []

    async def receive(self, request: Request) -> Response:
        self.bodies.append(orjson.loads(await request.body()))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 204)


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[tuple[FlakyReceiver, str]]:
    sink = FlakyReceiver(list(request.param))
    with serve(Starlette(routes=[Route("/hook", sink.receive, methods=["POST"])])) as server:
        yield sink, f"{server.url}/hook"


async def _notify(url: str) -> None:
    async with httpx.AsyncClient() as http:
        await AlertNotifier(http, url, Metrics(), retry_wait_s=0.01).notify([ALERT])


@pytest.mark.parametrize("receiver", [[503, 502, 429]], indirect=True)
async def test_a_failing_receiver_is_retried_until_it_accepts(receiver: tuple[FlakyReceiver, str]) -> None:
    sink, url = receiver
    await _notify(url)
    assert len(sink.bodies) == 4  # three failures, then the delivery
    assert sink.bodies[-1] == {"org": "acme", "period": "daily", "period_key": "2026-12-01", "threshold": 80,
                               "spent_usd": 8.0, "budget_usd": 10.0}


@pytest.mark.parametrize("receiver", [[400]], indirect=True)
async def test_a_refusal_is_not_retried(receiver: tuple[FlakyReceiver, str]) -> None:
    sink, url = receiver
    await _notify(url)
    assert len(sink.bodies) == 1


@pytest.mark.parametrize("receiver", [[500] * 10], indirect=True)
async def test_retries_are_bounded(receiver: tuple[FlakyReceiver, str]) -> None:
    sink, url = receiver
    await _notify(url)
    assert len(sink.bodies) == 4


async def test_an_unreachable_receiver_does_not_raise() -> None:
    await _notify("http://127.0.0.1:1/hook")  # connection refused on every attempt: logged, not raised
