"""The context check: a prompt that cannot fit the model is refused before it costs a round trip.

Why the margins. The gateway has no tokenizer per model; it counts characters. Refusing must never happen to a
prompt that would fit, so this check deliberately under-counts:
- only text counts (message content, text parts, tool-call arguments); images, audio and files count zero,
  because their token cost ranges from 85 (a low-detail image) to thousands, and a zero can only under-count;
- text is counted at 4 characters per token. Common tokenizers (GPT's o200k/cl100k, Claude's, Llama 3's) give
  3.5–4.5 characters per token on English prose and code, fewer on other scripts (so 4 under-counts those);
- a prompt is refused only when even that count exceeds `context_length × margin + slack_tokens` (1.1 and 1000
  by default): text would have to average over 4.4 characters per token, and then still miss by a thousand
  tokens, to be refused while fitting. Text denser than that (long whitespace runs, repeated characters) is the
  rare case; raise `margin` or set `enabled: false` if your traffic is like that.
The issue's case, a 150,000-token prompt to a 128k model, is refused (150,000 > 128,000 × 1.1 + 1,000).

The context length is the largest among the models that may answer (the route's primary and fallbacks, the
client's `models`): a prompt too long for the primary may still be served by a fallback.

When prompt + `max_tokens` exceed the context, `overflow` decides: `clamp` lowers `max_tokens` to what is left
(by the same under-count, so the provider may still refuse: clamping only removes the certain failures; when
the count leaves nothing, the request goes as it is), `refuse` answers 400, `pass` lets the provider decide.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.catalogue import CatalogueSnapshot
from gateway.errors import InvalidRequestError
from gateway.policy.schema import ContextPolicy

CHARS_PER_TOKEN = 4
# Keys whose string values are text the model reads; everything else (urls, base64 data, ids) is not counted.
_TEXT_KEYS = frozenset({"content", "text", "arguments", "input", "instructions", "refusal"})


def _text_chars(value: Any, key: str | None) -> int:
    if isinstance(value, str):
        return len(value) if key in _TEXT_KEYS else 0
    if isinstance(value, Mapping):
        return sum(_text_chars(item, str(name)) for name, item in value.items())
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return sum(_text_chars(item, key) for item in value)
    return 0


def prompt_text_tokens(body: Mapping[str, Any]) -> int:
    """An under-count of the prompt's tokens: its text at 4 characters per token, media not counted.

    Chat (`messages`), Responses (`input`, `instructions`) and completions-style (`prompt`) bodies.
    """
    chars = _text_chars(body.get("messages"), None) + _text_chars(body.get("input"), "input")
    chars += _text_chars(body.get("instructions"), "instructions") + _text_chars(body.get("prompt"), "text")
    return chars // CHARS_PER_TOKEN


def context_length(snapshot: CatalogueSnapshot | None, models: Sequence[str]) -> int | None:
    """The largest context among `models` (None when none is known: nothing is checked)."""
    if snapshot is None:
        return None
    lengths = []
    for model_id in models:
        model = snapshot.get(model_id)
        if model is None:
            continue
        top = model.get("top_provider")
        value = model.get("context_length") or (top.get("context_length") if isinstance(top, Mapping) else None)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            lengths.append(int(value))
    return max(lengths) if lengths else None


def _requested(body: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, int] | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return key, value
    return None


def enforce_context(
    body: dict[str, Any],
    *,
    keys: Sequence[str],
    models: Sequence[str],
    snapshot: CatalogueSnapshot | None,
    policy: ContextPolicy,
) -> None:
    """Raise 400 `context_length_exceeded` (OpenAI's shape), or lower the body's max tokens (`keys`, in
    precedence order: chat's `max_completion_tokens`/`max_tokens`, Responses' `max_output_tokens`) to fit."""
    if not policy.enabled:
        return
    limit = context_length(snapshot, models)
    if limit is None:
        return
    prompt = prompt_text_tokens(body)
    if prompt > limit * policy.margin + policy.slack_tokens:
        raise InvalidRequestError(
            f"This model's maximum context length is {limit} tokens. However, your messages resulted in at least "
            f"{prompt} tokens. Please reduce the length of the messages.",
            param="messages", code="context_length_exceeded",
        )
    requested = _requested(body, keys)
    if requested is None or policy.overflow == "pass":
        return
    key, max_tokens = requested
    if prompt + max_tokens <= limit:
        return
    if policy.overflow == "clamp":
        if prompt < limit:  # else nothing is left to clamp to, and the count may be over: the provider decides
            body[key] = limit - prompt
        return
    raise InvalidRequestError(
        f"This model's maximum context length is {limit} tokens. However, you requested at least "
        f"{prompt + max_tokens} tokens ({prompt} in the messages, {max_tokens} in the completion). Please "
        "reduce the length of the messages or completion.",
        param=key, code="context_length_exceeded",
    )
