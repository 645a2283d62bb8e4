"""What one model API (chat completions, Responses, embeddings) tells the pipeline: the `ApiAdapter` Protocol.

The pipeline (`gateway.pipeline`) owns the order of the stages and runs it for every API; an adapter answers the
questions whose answers differ between APIs, and nothing else. A new endpoint is a new adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.estimate import CostEstimate
from gateway.front import Routed
from gateway.metering.capture import ChoiceOutput
from gateway.settlement import Served
from gateway.streaming.relay import StreamMerger, StreamTracker
from gateway.upstream.reply import UpstreamReply


@dataclass(frozen=True, slots=True)
class Answer:
    """One upstream JSON answer: the bytes to relay and what metering needs from them."""

    body: bytes
    parsed: dict[str, Any]
    usage: Mapping[str, Any] | None  # in the chat shape the ledger reads (prompt/completion tokens, cost)
    served: Served
    outputs: tuple[ChoiceOutput, ...] = ()  # per choice: finish reason, and text when the call captures output


class ApiAdapter(Protocol):
    endpoint: str  # the API's name in metrics, traces and the ledger, e.g. "chat.completions"
    upstream_path: str  # OpenRouter's path for it, e.g. "/chat/completions"
    cacheable: bool  # whether the exact-match cache may answer it

    def validate(self, body: dict[str, Any]) -> None:
        """Refuse (InvalidRequestError) what the gateway cannot meter or route safely; never raise anything else."""

    def apply_params(self, body: dict[str, Any], routed: Routed) -> None:
        """The policy's model and task params, in this API's field names."""

    def estimate(self, body: dict[str, Any], routed: Routed) -> CostEstimate:
        """The worst case to reserve; may lower the body's output limit to fit a task's cost cap."""

    def record_view(self, body: dict[str, Any]) -> Mapping[str, Any]:
        """The body as the call record reads it (chat names: messages, max_tokens, n, stream, …).

        The record's `n` is how many upstream calls the request makes (each reserved), its `stream` whether the
        answer is relayed as SSE: an API that neither fans out nor streams leaves them out.
        """

    def shape_upstream(self, body: dict[str, Any], routed: Routed) -> None:
        """Last changes to the body before it goes upstream (after it was recorded and admitted)."""

    def read_answer(self, response: UpstreamReply, estimate: CostEstimate, capture_output: bool = False) -> Answer:
        """A JSON answer, or the GatewayError it really carries (an error status, or an error inside a 200)."""

    def merge(self, answers: Sequence[Answer]) -> bytes:
        """The client's body for the answers of `copies` upstream calls (one, unless chat's n > 1)."""

    def trackers(self, body: Mapping[str, Any], copies: int, capture_output: bool = False) -> Sequence[StreamTracker]:
        """One stream tracker per upstream stream; with `capture_output` they also keep the answer's text."""

    def merger(self, body: Mapping[str, Any]) -> StreamMerger:
        """What closes `copies` > 1 interleaved streams."""
