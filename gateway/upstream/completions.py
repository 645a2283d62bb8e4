"""Reading OpenRouter JSON answers: the error hidden in a 200, and a chat completion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.errors import UpstreamError
from gateway.upstream.errors import translate_error, translate_error_object
from gateway.upstream.reply import UpstreamReply


@dataclass(frozen=True, slots=True)
class Completion:
    """One upstream answer: the exact bytes to relay and what metering needs from them."""

    body: bytes
    parsed: dict[str, Any]
    generation_id: str | None

    @property
    def usage(self) -> Mapping[str, Any] | None:
        usage = self.parsed.get("usage")
        return usage if isinstance(usage, dict) else None


def json_object_or_error(response: UpstreamReply, *, payload_key: str | None = None) -> dict[str, Any]:
    """An upstream answer's JSON object, or the GatewayError it really carries (any status, or an error in a 200).

    A 200 whose body has an `error` but no `payload_key` (e.g. `choices`, `data`, `output`) is an error in
    disguise; with no payload key given, any non-null `error` is.
    """
    content = response.content
    if response.status_code != 200:
        raise translate_error(response.status_code, content, response.headers)
    try:
        parsed = orjson.loads(content)  # orjson tolerates the leading whitespace OpenRouter may send
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("OpenRouter sent a response that is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise UpstreamError("OpenRouter sent a response that is not a JSON object")
    if parsed.get("error") and (payload_key is None or not parsed.get(payload_key)):
        raise translate_error(200, content, response.headers)
    return parsed


def read_completion(response: UpstreamReply) -> Completion:
    """Turn an upstream chat response into a Completion, or raise the GatewayError it really carries."""
    parsed = json_object_or_error(response, payload_key="choices")
    _raise_choice_error(parsed)
    generation_id = response.headers.get("x-generation-id") or parsed.get("id")
    return Completion(body=response.content, parsed=parsed, generation_id=generation_id)


def _raise_choice_error(parsed: Mapping[str, Any]) -> None:
    """A provider that failed after partial output reports it in the choice; the answer is incomplete."""
    for choice in parsed.get("choices") or ():
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            error = choice.get("error") if isinstance(choice.get("error"), dict) else {}
            status = error.get("code") if isinstance(error.get("code"), int) else 502
            raise translate_error_object(status if status >= 500 else 502, error or {"message": "Provider failed"}, {})
