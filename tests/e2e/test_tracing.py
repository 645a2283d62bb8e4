"""With GATEWAY_OTEL_ENDPOINT set, every call through the gateway reaches the collector as one span."""

from __future__ import annotations

import httpx

from gateway.app import create_app
from gateway.auth.tokens import mint_token
from tests.e2e.conftest import JWT_SECRET, Sim, gateway_settings
from tests.metering.otlp_collector import Collector, attributes
from tests.metering.traffic import CHEAP_MODEL, chat
from tests.servers import ServerThread, serve


def test_calls_are_exported_as_spans_and_flushed_on_shutdown(sim_server: ServerThread, sim: Sim) -> None:
    collector = Collector()
    token = mint_token(JWT_SECRET, org="acme", subject="alice", roles=["user"])
    with serve(collector.app()) as otlp:
        settings = gateway_settings(f"{sim_server.url}/api/v1", otel_endpoint=f"{otlp.url}/v1/traces")
        with serve(create_app(settings)) as gateway, httpx.Client(
            base_url=f"{gateway.url}/v1", headers={"authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            ok = client.post("/chat/completions", json=chat("trace me"))
            sim.fault(model=CHEAP_MODEL, error=400, count=1)
            failed = client.post("/chat/completions", json=chat("and me"))
        # The gateway has stopped: its lifespan flushed the batch before the collector goes away.

    assert ok.status_code == 200 and failed.status_code == 400
    assert {content_type for content_type, _ in collector.posts} == {"application/x-protobuf"}
    spans = {attributes(span)["http.response.status_code"]: span for span in collector.spans()}
    assert sorted(spans) == [200, 400]
    assert spans[200].name == f"chat {CHEAP_MODEL}"
    assert attributes(spans[200])["gateway.org"] == "acme"
    assert attributes(spans[200])["gen_ai.response.id"] == ok.json()["id"]
    assert spans[400].status.code == spans[400].status.STATUS_CODE_ERROR
