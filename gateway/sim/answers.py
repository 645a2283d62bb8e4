"""Deterministic, useful answers: the same request always produces the same completion.

The answer mentions the last user message's key words, acknowledges input images, quotes tool results,
honours `response_format`, emits tool calls, reasoning and images as the model and request call for, and
is then cut to `max_tokens` / `stop`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.sim.png import png_data_url
from gateway.sim.registry import ModelSpec
from gateway.sim.schema_instance import instance_for
from gateway.sim.tokenizer import content_text, count_images, count_tokens, split_tokens
from gateway.sim.tool_calls import plan_tool_calls, tool_results

IMAGE_TOKENS = 1290
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]{3,}")
_STOPWORDS = frozenset(re.findall(r"\w+", (
    "what which when where with that this there their about would could should please tell from have your does "
    "into them they then than were will also just like some more most very give show write make explain "
    "describe briefly know"
)))
_FILLER = split_tokens(
    " The simulator keeps writing deterministic filler text so that long answers have a predictable length,"
    " one token at a time, exactly as requested."
)
_REASONING_SENTENCES = (
    "The user is asking about {topic}.", "I should identify the key points first.",
    "Then I will give a concise, direct answer.", "Let me double-check the details before answering.",
    "Everything is consistent, so I can respond now.",
)
_EFFORT_SENTENCES = {"minimal": 1, "low": 2, "medium": 3, "high": 4, "xhigh": 5, "max": 5}


@dataclass(slots=True)
class Answer:
    """A planned completion. Token lists hold the exact pieces a stream will send."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    reasoning_visible: bool = True
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_call_tokens: int = 0
    images: list[dict[str, Any]] = field(default_factory=list)
    image_tokens: int = 0
    finish_reason: str = "stop"

    @property
    def text_tokens(self) -> int:
        """Tokens billed at the completion rate (content, reasoning and tool-call arguments)."""
        return len(self.content) + len(self.reasoning) + self.tool_call_tokens

    @property
    def completion_tokens(self) -> int:
        return self.text_tokens + self.image_tokens


def last_user_text(body: dict[str, Any]) -> tuple[str, int]:
    """The last user message's text and how many images it carries."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return str(body.get("prompt", "")), 0
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content")), count_images(message.get("content"))
    return "", 0


def keywords(text: str) -> list[str]:
    found = [w for w in _KEYWORD.findall(text) if w.lower() not in _STOPWORDS]
    return list(dict.fromkeys(found))[:6]


def _reasoning_plan(body: dict[str, Any], spec: ModelSpec, variant: str | None) -> tuple[int, bool]:
    """(sentences of reasoning, visible?) - 0 sentences when the model will not reason."""
    if spec.reasoning is None:
        return 0, True
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    effort = reasoning.get("effort") or body.get("reasoning_effort")
    asked = bool(reasoning) or effort is not None or body.get("include_reasoning") is True or variant == "thinking"
    off = effort == "none" or reasoning.get("enabled") is False
    if spec.reasoning == "optional" and (off or not asked):
        return 0, True
    visible = not reasoning.get("exclude", False) and body.get("include_reasoning") is not False
    return (1 if off else _EFFORT_SENTENCES.get(effort or "medium", 3)), visible


def _text(body: dict[str, Any], spec: ModelSpec, topic: str, images_in: int) -> str:
    seen = f"I see {images_in} image{'s' if images_in != 1 else ''}. " if images_in else ""
    results = tool_results(body.get("messages") or [])
    if results:
        quoted = "; ".join(f"{name} returned {result}" for name, result in results)
        return f"{seen}Based on the tool results: {quoted}."
    if not topic:
        return f"{seen}Hello! This is a simulated answer from {spec.name}."
    return f"{seen}You asked about {topic}. This is a simulated answer from {spec.name}, derived from your message."


def _formatted(body: dict[str, Any], text: str, words: list[str]) -> str:
    response_format = body.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return orjson.dumps({"answer": text, "topics": words}).decode()
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
        return orjson.dumps(instance_for(schema)).decode()
    return text


def _apply_stop(tokens: list[str], stop: Any) -> tuple[list[str], bool]:
    sequences = [stop] if isinstance(stop, str) else [s for s in stop or () if isinstance(s, str) and s]
    text = "".join(tokens)
    cut = min((text.find(s) for s in sequences if s in text), default=-1)
    if cut < 0:
        return tokens, False
    return split_tokens(text[:cut]), True


def plan_answer(body: dict[str, Any], spec: ModelSpec, variant: str | None, dialect: str,
                forced_tokens: int | None) -> Answer:
    user_text, images_in = last_user_text(body)
    words = keywords(user_text)
    topic = ", ".join(words)
    answer = Answer()
    sentences, answer.reasoning_visible = _reasoning_plan(body, spec, variant)
    if sentences:
        thoughts = " ".join(s.format(topic=topic or "this") for s in _REASONING_SENTENCES[:sentences])
        answer.reasoning = split_tokens(thoughts)
    answer.tool_calls = plan_tool_calls(body, user_text, words[0] if words else "example", dialect)
    if answer.tool_calls:
        answer.tool_call_tokens = sum(count_tokens(c["function"]["name"] + c["function"].get("arguments", ""))
                                      for c in answer.tool_calls)
        answer.finish_reason = "tool_calls"
    elif "image" in (body.get("modalities") or ()) and "image" in spec.output_modalities:
        answer.images = [{"type": "image_url", "image_url": {"url": png_data_url(user_text)}, "index": 0}]
        answer.image_tokens = IMAGE_TOKENS
        answer.content = split_tokens(f"Here is your image of {topic or 'your request'}.")
    else:
        answer.content = split_tokens(_formatted(body, _text(body, spec, topic, images_in), words))
    if forced_tokens is not None and not answer.tool_calls:
        answer.content = [(_FILLER * (forced_tokens // len(_FILLER) + 1))[i] for i in range(forced_tokens)]
    answer.content, stopped = _apply_stop(answer.content, body.get("stop"))
    if answer.content:
        # A stream's first delta must not start with the filler's joining space.
        answer.content[0] = answer.content[0].lstrip()
    _limit(answer, body, stopped)
    return answer


def _limit(answer: Answer, body: dict[str, Any], stopped: bool) -> None:
    """Cut to `max_completion_tokens`/`max_tokens`: reasoning spends the budget first, then the answer."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or answer.completion_tokens <= limit:
        return
    answer.reasoning = answer.reasoning[:limit]
    room = limit - len(answer.reasoning)
    if answer.tool_calls or answer.images:
        answer.tool_calls, answer.tool_call_tokens, answer.images, answer.image_tokens = [], 0, [], 0
    answer.content = answer.content[:room]
    answer.finish_reason = "length"
