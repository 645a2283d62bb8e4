"""Reject malformed chat requests before anything goes upstream, naming the offending field like OpenAI does.

Validation never raises anything but `InvalidRequestError`: whatever JSON shape a field has, the answer is a 400
or the body passes through. Only what the gateway needs is checked (it never refuses what OpenRouter serves).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import InvalidRequestError

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def parse_json_object(body: bytes) -> dict[str, Any]:
    if not body.strip():
        raise InvalidRequestError("The request body is empty; expected a JSON object", code="invalid_json")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(parsed, dict):
        raise InvalidRequestError("The request body must be a JSON object", code="invalid_json")
    return parsed


def _validate_message(index: int, message: Any) -> None:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise InvalidRequestError(f"{param} must be an object", param=param)
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:  # an object or array role is unhashable: check the type first
        allowed = ", ".join(sorted(_ROLES))
        raise InvalidRequestError(
            f"Invalid value for '{param}.role': {role!r}. Supported values are: {allowed}.", param=f"{param}.role"
        )
    content = message.get("content")
    if content is not None and not isinstance(content, str | list):
        raise InvalidRequestError(f"{param}.content must be a string or an array of parts", param=f"{param}.content")
    if content is None and role in ("system", "developer", "user", "tool"):
        raise InvalidRequestError(f"{param}.content is required for role '{role}'", param=f"{param}.content")
    # Parts must be objects; a part without `type` passes (clients replaying image history send `image_url` parts
    # without one, and OpenRouter serves them).
    if isinstance(content, list) and not all(isinstance(part, dict) for part in content):
        raise InvalidRequestError(f"{param}.content parts must be objects", param=f"{param}.content")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise InvalidRequestError(
            f"{param}: messages with role 'tool' must have a 'tool_call_id'", param=f"{param}.tool_call_id"
        )


def check_output_limit(body: dict[str, Any], *keys: str) -> None:
    """An output limit the reservation is priced on must be a positive integer (a bool is not one) when given."""
    for key in keys:
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise InvalidRequestError(f"'{key}' must be a positive integer.", param=key)


def validate_chat_request(body: dict[str, Any], *, max_n: int) -> None:
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequestError("Missing required parameter: 'messages'.", param="messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("'messages' must be a non-empty array.", param="messages")
    for index, message in enumerate(messages):
        _validate_message(index, message)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequestError("Missing required parameter: 'model'.", param="model")
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequestError("'stream' must be a boolean.", param="stream")
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= max_n):
        raise InvalidRequestError(f"'n' must be an integer from 1 to {max_n}.", param="n")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequestError("'stream_options' must be an object.", param="stream_options")
    check_output_limit(body, "max_tokens", "max_completion_tokens")
