"""/generation, /key, /credits, cancellation billing and the /_sim control surface."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlparse

import httpx
import orjson
import pytest

from tests.sim.conftest import AUTH, KEY, Sim, sse_events, user


def test_generation_consistent_with_usage(sim: Sim) -> None:
    response = sim.chat({"model": "deepseek/deepseek-r1", "messages": user("Explain tides")},
                        {"HTTP-Referer": "https://app.example", "X-Title": "Tide app"})
    body = response.json()
    data = sim.generation(body["id"]).json()["data"]
    usage = body["usage"]
    assert data["id"] == body["id"] and data["total_cost"] == usage["cost"] == data["usage"]
    assert data["native_tokens_prompt"] == usage["prompt_tokens"]
    assert data["native_tokens_completion"] == usage["completion_tokens"]
    assert data["native_tokens_reasoning"] == usage["completion_tokens_details"]["reasoning_tokens"] > 0
    assert data["provider_name"] == body["provider"] and data["model"] == "deepseek/deepseek-r1"
    assert data["streamed"] is False and data["cancelled"] is False and data["finish_reason"] == "stop"
    assert data["http_referer"] == "https://app.example" and data["app_title"] == "Tide app"
    assert isinstance(data["latency"], int) and isinstance(data["generation_time"], int)
    assert sim.generation("gen-0-unknown").status_code == 404


def test_generation_delay(sim: Sim) -> None:
    sim.configure(generation_delay_ms=300)
    generation_id = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi")}).json()["id"]
    early = sim.generation(generation_id)
    assert early.status_code == 404 and early.json()["error"]["code"] == 404
    time.sleep(0.35)
    assert sim.generation(generation_id).status_code == 200


def test_key_and_credits_after_usage(sim: Sim) -> None:
    costs = [sim.chat({"model": "openai/gpt-4o", "messages": user(f"question {i}")}).json()["usage"]["cost"]
             for i in range(3)]
    for path in ("key", "auth/key"):
        data = sim.client.get(f"{sim.api}/{path}", headers=AUTH).json()["data"]
        assert data["usage"] == data["usage_daily"] == data["usage_weekly"] == data["usage_monthly"] == sum(costs)
        assert data["limit"] is None and data["rate_limit"]["requests"] == -1
        assert data["label"].startswith(KEY[:10])
    credits = sim.client.get(f"{sim.api}/credits", headers=AUTH).json()["data"]
    assert credits == {"total_credits": 100.0, "total_usage": sum(costs)}
    assert sim.stats()["billed_usd_total"] == sum(costs)
    assert sim.client.get(f"{sim.api}/key").status_code == 401
    sim.configure(credits_need_management_key=True)
    denied = sim.client.get(f"{sim.api}/credits", headers=AUTH)
    assert denied.status_code == 403 and "management keys" in denied.json()["error"]["message"]


def _read_then_close(sim: Sim, model: str, events_to_read: int) -> str:
    """Open a stream on a raw socket, read a few events, then drop the connection."""
    url = urlparse(sim.base)
    payload = orjson.dumps({"model": model, "messages": user("Tell me a long story"), "stream": True,
                            "sim": {"completion_tokens": 400, "inter_token_ms": 5, "processing_comments": 0}})
    request = (f"POST /api/v1/chat/completions HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {KEY}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while received.count(b"data: ") < events_to_read:
            received += sock.recv(65536)
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    return next(line.split(": ", 1)[1] for line in head.split("\r\n") if line.startswith("x-generation-id"))


def _wait_cancelled(sim: Sim, count: int) -> None:
    deadline = time.monotonic() + 3
    while sim.stats()["streams_cancelled"] < count:
        assert time.monotonic() < deadline, sim.stats()
        time.sleep(0.02)


@pytest.mark.parametrize(("model", "cancellable"), [("openai/gpt-4o", True), ("google/gemini-2.5-flash", False)])
def test_cancellation_billing(sim: Sim, model: str, cancellable: bool) -> None:
    generation_id = _read_then_close(sim, model, 5)
    _wait_cancelled(sim, 1)
    data = sim.generation(generation_id).json()["data"]
    assert data["cancelled"] is True and data["streamed"] is True
    if cancellable:
        assert 3 <= data["native_tokens_completion"] < 100
    else:
        assert data["native_tokens_completion"] == 400
    stats = sim.stats()
    assert stats["billed_usd_total"] == data["total_cost"] and stats["in_flight"] == 0
    records = sim.client.get(f"{sim.base}/_sim/requests").json()
    assert records[-1]["cancelled"] is True and records[-1]["cost"] == data["total_cost"]


def test_concurrency_cap(sim: Sim) -> None:
    sim.configure(max_concurrency=1)
    body = {"model": "openai/gpt-4o-mini", "messages": user("slow"), "stream": True,
            "sim": {"completion_tokens": 20, "inter_token_ms": 20}}
    results: list[int] = []

    def slow() -> None:
        results.append(httpx.post(f"{sim.api}/chat/completions", json=body, headers=AUTH, timeout=5).status_code)

    worker = threading.Thread(target=slow)
    worker.start()
    deadline = time.monotonic() + 2
    while sim.stats()["in_flight"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    limited = sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi")})
    worker.join()
    assert limited.status_code == 429 and results == [200]
    assert sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi")}).status_code == 200


def test_fault_queue_counts_and_clear(sim: Sim) -> None:
    queued = sim.client.post(f"{sim.base}/_sim/faults", json={"model": "*", "error": 500, "count": 2})
    assert queued.status_code == 200
    body = {"model": "openai/gpt-4o-mini", "messages": user("hi")}
    assert [sim.chat(body).status_code for _ in range(3)] == [500, 500, 200]
    sim.client.post(f"{sim.base}/_sim/faults", json={"model": "openai/gpt-4o-mini", "error": "503", "count": None,
                                                     "retry_after": 2})
    assert [sim.chat(body).status_code for _ in range(3)] == [503, 503, 503]
    assert sim.chat(body).headers["retry-after"] == "2"
    assert sim.chat({**body, "model": "openai/gpt-4o"}).status_code == 200
    sim.client.delete(f"{sim.base}/_sim/faults")
    assert sim.chat(body).status_code == 200
    assert sim.client.post(f"{sim.base}/_sim/faults", json={"error": 999}).status_code == 400


def test_scripted_mid_stream_fault(sim: Sim) -> None:
    sim.client.post(f"{sim.base}/_sim/faults", json={"error": "mid_stream", "error_after_tokens": 1})
    events = sse_events(sim.chat({"model": "openai/gpt-4o-mini", "messages": user("hi"), "stream": True}).content)
    assert events[-1]["error"]["code"] == 502 and len(events) == 2


def test_seeded_random_faults_reproducible(sim: Sim) -> None:
    body = {"model": "openai/gpt-4o-mini", "messages": user("hi")}

    def run() -> list[int]:
        sim.configure(seed=7, fault_rates={"503": 0.3, "429": 0.2})
        return [sim.chat(body).status_code for _ in range(30)]

    first, second = run(), run()
    assert first == second
    assert {200, 503, 429} <= set(first)


def test_requests_log_and_reset(sim: Sim) -> None:
    sim.chat({"model": "openai/gpt-4o-mini", "messages": user("one")}, {"X-Custom": "yes"})
    sim.chat({"model": "nope/x", "messages": user("two")})
    records = sim.client.get(f"{sim.base}/_sim/requests", params={"limit": 1}).json()
    assert len(records) == 1 and records[0]["status"] == 400 and records[0]["body"]["model"] == "nope/x"
    first = sim.client.get(f"{sim.base}/_sim/requests").json()[0]
    assert first["headers"]["x-custom"] == "yes" and first["headers"]["authorization"] == f"Bearer {KEY}"
    assert first["model"] == "openai/gpt-4o-mini" and first["generation_id"].startswith("gen-")
    assert first["streamed"] is False and first["cost"] > 0 and first["path"] == "/api/v1/chat/completions"
    stats = sim.stats()
    assert stats["requests_total"] == 2 and stats["completions_total"] == 1
    sim.client.post(f"{sim.base}/_sim/reset")
    assert sim.stats()["requests_total"] == 0 and sim.client.get(f"{sim.base}/_sim/requests").json() == []


def test_config_patch_validates(sim: Sim) -> None:
    assert sim.client.get(f"{sim.base}/_sim/config").json()["usage_chunk"] == "empty_choices"
    assert sim.configure(usage_chunk="merged")["usage_chunk"] == "merged"
    assert sim.client.patch(f"{sim.base}/_sim/config", json={"usage_chunk": "bogus"}).status_code == 400
    assert sim.client.patch(f"{sim.base}/_sim/config", json={"unknown_knob": 1}).status_code == 400
