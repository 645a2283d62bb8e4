"""`/_sim/*`: inspect and steer the simulator from tests and load runs (no auth; OpenRouter has no such path)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gateway.sim.config import SimConfig
from gateway.sim.state import SimState

JSON = "application/json"


def _json(document: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(document), status, media_type=JSON)


def _bad(message: str) -> Response:
    return _json({"error": {"code": 400, "message": message}}, 400)


async def _body(request: Request) -> Any:
    try:
        return orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        return None


class ControlEndpoints:
    def __init__(self, state: SimState) -> None:
        self.state = state

    async def get_config(self, request: Request) -> Response:
        return _json(self.state.config.model_dump())

    async def patch_config(self, request: Request) -> Response:
        changes = await _body(request)
        if not isinstance(changes, dict):
            return _bad("body must be a JSON object")
        try:
            updated = SimConfig.model_validate({**self.state.config.model_dump(), **changes})
        except ValidationError as exc:
            return _bad(str(exc))
        reseed = updated.seed != self.state.config.seed or "fault_rates" in changes
        self.state.config = updated
        if "credits_usd" in changes:
            # Credits are account state: changing the knob tops the account up (or drains it) right away.
            self.state.ledger.total_credits = updated.credits_usd
        if reseed:
            self.state.faults.reseed(updated.seed)
        return _json(updated.model_dump())

    async def add_fault(self, request: Request) -> Response:
        spec = await _body(request)
        if not isinstance(spec, dict):
            return _bad("body must be a JSON object")
        try:
            entry = self.state.faults.add(spec)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return _json({"queued": entry.document(), "faults": [f.document() for f in self.state.faults.scripted]})

    async def list_faults(self, request: Request) -> Response:
        return _json({"faults": [f.document() for f in self.state.faults.scripted]})

    async def clear_faults(self, request: Request) -> Response:
        self.state.faults.clear()
        return _json({"faults": []})

    async def add_model(self, request: Request) -> Response:
        """`{"id": "new/model", "like": "openai/gpt-4o-mini"}`: a model appears in `/models` (until reset)."""
        spec = await _body(request)
        if not isinstance(spec, dict) or not isinstance(spec.get("id"), str) or not isinstance(spec.get("like"), str):
            return _bad('body must be {"id": "<new id>", "like": "<existing model id>"}')
        try:
            self.state.registry.add_like(spec["id"], spec["like"])
        except ValueError as exc:
            return _bad(str(exc))
        return _json({"added": spec["id"]})

    async def stats(self, request: Request) -> Response:
        return _json(self.state.ledger.stats())

    async def requests(self, request: Request) -> Response:
        records = list(self.state.ledger.requests)
        try:
            limit = int(request.query_params.get("limit", len(records)))
        except ValueError:
            return _bad("limit must be an integer")
        return _json(records[-limit:] if limit > 0 else [])

    async def reset(self, request: Request) -> Response:
        self.state.reset()
        return _json({"reset": True})
