"""One answered chat request: what was planned, what was delivered, and settling it exactly once.

Settling charges the ledger, files the `/generation` record (consistent with the `usage` the client saw)
and completes the request-log entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from gateway.sim.answers import Answer
from gateway.sim.attempts import Attempt
from gateway.sim.billing import answer_usage, costs, native_finish_reason, usage_document
from gateway.sim.knobs import Knobs
from gateway.sim.state import SimState


@dataclass(slots=True)
class Delivered:
    """Tokens actually sent so far (a cancelled stream on a cancellable provider bills only these)."""

    reasoning: int = 0
    text: int = 0


@dataclass(slots=True)
class Exchange:
    state: SimState
    record: dict[str, Any]
    attempt: Attempt
    answer: Answer
    knobs: Knobs
    body: dict[str, Any]
    headers: Any
    prompt_tokens: int
    generation_id: str
    created: int
    streamed: bool
    api_type: str = "completions"
    started: float = field(default_factory=time.monotonic)
    delivered: Delivered = field(default_factory=Delivered)
    settled: bool = False

    @property
    def model(self) -> str:
        return self.attempt.target.reported_model

    @property
    def provider(self) -> str:
        return self.attempt.endpoint.name

    @property
    def free(self) -> bool:
        return self.attempt.target.spec.free

    def native_finish(self, finish_reason: str) -> str:
        return native_finish_reason(self.attempt.endpoint.dialect, finish_reason)

    def usage(self) -> dict[str, Any]:
        return answer_usage(self.attempt.endpoint, self.free, self.prompt_tokens, self.answer)

    def settle(self, outcome: str, usage: dict[str, Any] | None = None) -> None:
        """Bill once. `outcome`: completed | cancelled | error (zero-completion insurance: nothing billed)."""
        if self.settled:
            return
        self.settled = True
        if outcome == "cancelled":
            usage = self._cancelled_usage()
        elif outcome == "error":
            usage = usage_document(self.prompt_tokens, 0, 0, 0, (0.0, 0.0, 0.0))
        elif usage is None:
            usage = self.usage()
        finish = {"completed": self.answer.finish_reason, "cancelled": None, "error": "error"}[outcome]
        cost = usage["cost"]
        now = time.monotonic()
        record = partial(self._generation_record, usage, finish, outcome == "cancelled", now)
        ledger = self.state.ledger
        ledger.bill(self.generation_id, cost, record, now + self.state.config.generation_delay_ms / 1000)
        if outcome == "cancelled":
            ledger.streams_cancelled += 1
        self.record.update(cost=cost, cancelled=outcome == "cancelled")

    def _cancelled_usage(self) -> dict[str, Any]:
        """OPENROUTER.md §3.2: cancellable providers stop billing at once, the others bill the whole plan."""
        if not self.attempt.endpoint.cancellable:
            return self.usage()
        text = self.delivered.text + self.delivered.reasoning
        billed = costs(self.attempt.endpoint, self.free, self.prompt_tokens, text, 0)
        return usage_document(self.prompt_tokens, self.delivered.reasoning, text, 0, billed)

    def _generation_record(self, usage: dict[str, Any], finish: str | None, cancelled: bool, now: float
                           ) -> dict[str, Any]:
        elapsed_ms = int((now - self.started) * 1000)
        details = usage["completion_tokens_details"]
        headers = self.headers
        spec = self.attempt.target.spec
        return {
            "id": self.generation_id, "upstream_id": "chatcmpl-" + self.generation_id[-20:],
            "total_cost": usage["cost"], "cache_discount": None, "upstream_inference_cost": None,
            "created_at": datetime.fromtimestamp(self.created, UTC).isoformat().replace("+00:00", "Z"),
            "model": spec.id, "app_id": None, "streamed": self.streamed, "cancelled": cancelled,
            "provider_name": self.provider, "latency": elapsed_ms, "moderation_latency": 0 if spec.moderated else None,
            "generation_time": elapsed_ms, "finish_reason": finish,
            "native_finish_reason": None if finish is None else self.native_finish(finish),
            "service_tier": None, "tokens_prompt": usage["prompt_tokens"],
            "tokens_completion": usage["completion_tokens"], "native_tokens_prompt": usage["prompt_tokens"],
            "native_tokens_completion": usage["completion_tokens"],
            "native_tokens_completion_images": details["image_tokens"],
            "native_tokens_reasoning": details["reasoning_tokens"], "native_tokens_cached": 0,
            "num_media_prompt": None, "num_input_audio_prompt": None,
            "num_media_completion": len(self.answer.images) or None, "num_search_results": None,
            "num_fetches": None, "web_search_engine": None, "origin": headers.get("http-referer") or "",
            "usage": usage["cost"], "is_byok": False, "external_user": self.body.get("user"),
            "api_type": self.api_type, "preset_id": None,
            "router": "openrouter/auto" if self.record.get("requested_model") == "openrouter/auto" else None,
            "provider_responses": self.attempt.provider_responses,
            "user_agent": headers.get("user-agent", ""), "http_referer": headers.get("http-referer"),
            "app_title": headers.get("x-openrouter-title") or headers.get("x-title"),
            "session_id": self.body.get("session_id") or headers.get("x-session-id"),
            "data_region": None, "workspace_id": None,
        }
