"""`GET /metrics`, optionally behind a bearer token (`GATEWAY_METRICS_TOKEN`) that Prometheus sends."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import AuthenticationError
from gateway.metrics import Metrics


class MetricsEndpoint:
    """Without a token, anyone who reaches the port can scrape; with one, only `Authorization: Bearer <token>`.

    The comparison is constant-time, and the refusal is the OpenAI-shaped 401 every other endpoint gives.
    """

    def __init__(self, metrics: Metrics, token: str | None) -> None:
        self._metrics = metrics
        self._expected = f"Bearer {token}".encode() if token else None

    async def render(self, request: Request) -> Response:
        if self._expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, self._expected):
                error = AuthenticationError("/metrics needs the metrics bearer token.", code="metrics_token_required")
                return Response(error.body(), status_code=error.status, media_type="application/json",
                                headers=error.headers)
        body, content_type = self._metrics.render()
        return Response(body, headers={"content-type": content_type})
