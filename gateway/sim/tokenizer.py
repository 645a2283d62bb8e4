"""The simulator's deterministic fake tokenizer, shared by prompts and completions.

A token is a run of word characters or a single punctuation/symbol character, together with the whitespace
before it. Joining a text's tokens gives the text back (minus trailing whitespace), which is what lets a
stream be cut into exact token-sized deltas and the usage count match what was streamed.

Prompt accounting (close in spirit to OpenAI's): each message costs 3 tokens of framing plus its text, an
image part costs a flat 85 tokens, offered tools cost the tokens of their JSON, and the reply is primed
with 3 more tokens.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_TOKEN = re.compile(r"\s*(?:\w+|[^\w\s])")
MESSAGE_OVERHEAD = 3
REPLY_PRIMING = 3
IMAGE_PART_TOKENS = 85


def split_tokens(text: str) -> list[str]:
    """The tokens of `text`, each with its leading whitespace."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def content_text(content: Any) -> str:
    """The text of a message's content, whether a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")
        return " ".join(texts)
    return ""


def count_images(content: Any) -> int:
    if not isinstance(content, list):
        return 0
    return sum(1 for part in content if isinstance(part, dict) and part.get("type") == "image_url")


def count_prompt_tokens(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return count_tokens(str(body.get("prompt", ""))) + REPLY_PRIMING
    total = REPLY_PRIMING
    for message in messages:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        total += MESSAGE_OVERHEAD + count_tokens(content_text(content)) + IMAGE_PART_TOKENS * count_images(content)
        for call in message.get("tool_calls") or ():
            total += count_tokens(orjson.dumps(call).decode())
    tools = body.get("tools")
    if tools:
        total += count_tokens(orjson.dumps(tools).decode())
    return total
