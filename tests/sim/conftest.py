"""One simulator on a real socket per test module; every test starts from a reset, default-config simulator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from gateway.sim import SimConfig, create_sim_app
from tests.servers import ServerThread, serve

KEY = "sk-or-v1-test"
AUTH = {"Authorization": f"Bearer {KEY}"}


@dataclass
class Sim:
    base: str
    client: httpx.Client

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"

    def chat(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"{self.api}/chat/completions", json=body, headers={**AUTH, **(headers or {})})

    def responses(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"{self.api}/responses", json=body, headers={**AUTH, **(headers or {})})

    def embeddings(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(f"{self.api}/embeddings", json=body, headers={**AUTH, **(headers or {})})

    def requests_log(self) -> list[dict[str, Any]]:
        return self.client.get(f"{self.base}/_sim/requests").json()  # type: ignore[no-any-return]

    def configure(self, **changes: Any) -> dict[str, Any]:
        response = self.client.patch(f"{self.base}/_sim/config", json=changes)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self.client.get(f"{self.base}/_sim/stats").json()  # type: ignore[no-any-return]

    def generation(self, generation_id: str) -> httpx.Response:
        return self.client.get(f"{self.api}/generation", params={"id": generation_id}, headers=AUTH)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def sse_events(raw: bytes) -> list[Any]:
    """Data payloads of an SSE body, JSON-decoded; `[DONE]` stays a string."""
    events: list[Any] = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            payload = block[len("data: "):]
            events.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return events


def named_events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """(`event:` name, decoded `data:`) of a Responses API stream; comments are skipped."""
    events: list[tuple[str, dict[str, Any]]] = []
    for block in raw.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        assert lines[0].startswith("event: ") and lines[1].startswith("data: ") and len(lines) == 2, block
        events.append((lines[0][len("event: "):], orjson.loads(lines[1][len("data: "):])))
    return events


@pytest.fixture(scope="module")
def sim_server() -> Iterator[ServerThread]:
    with serve(create_sim_app()) as server:
        yield server


@pytest.fixture
def sim(sim_server: ServerThread) -> Iterator[Sim]:
    with httpx.Client(timeout=10) as client:
        defaults = SimConfig().model_dump()
        assert client.patch(f"{sim_server.url}/_sim/config", json=defaults).status_code == 200
        assert client.post(f"{sim_server.url}/_sim/reset").status_code == 200
        yield Sim(sim_server.url, client)
