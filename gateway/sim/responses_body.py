"""The Responses API `response` object and its output items, built from a planned chat answer.

Shapes follow OpenAI's `Response` schema (every field it requires is present; `output_text` is left to the
SDKs) with OpenRouter's additions: `gen-…` ids and `usage.cost`/`is_byok`/`cost_details` (OPENROUTER.md §10).
"""

from __future__ import annotations

import time
from typing import Any

from gateway.sim.exchange import Exchange

FAILED_ERROR = {"code": "server_error", "message": "Provider disconnected"}


class ItemIds:
    """Output item ids derived from the generation id, so JSON and stream agree."""

    def __init__(self, generation_id: str) -> None:
        self.suffix = generation_id.rsplit("-", 1)[-1]

    @property
    def message(self) -> str:
        return f"msg_{self.suffix}"

    @property
    def reasoning(self) -> str:
        return f"rs_{self.suffix}"

    def call(self, index: int) -> str:
        return f"fc_{self.suffix}_{index}"


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    """`text=None` is the just-opened item of a stream (no content part yet)."""
    content = [] if text is None else [output_text_part(text)]
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    """Hidden reasoning (`reasoning.exclude`) is an item without content; it is still billed."""
    item: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": [], "status": status}
    if text is not None:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    return item


def function_call_item(item_id: str, call: dict[str, Any], arguments: str, status: str) -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call["id"], "name": call["function"]["name"],
            "arguments": arguments, "status": status}


def item_status(exchange: Exchange) -> str:
    return "incomplete" if exchange.answer.finish_reason == "length" else "completed"


def output_items(exchange: Exchange, text: str | None = None) -> list[dict[str, Any]]:
    """Reasoning, then either the function calls or the message; `text` overrides the message's text."""
    answer = exchange.answer
    ids = ItemIds(exchange.generation_id)
    status = item_status(exchange)
    items: list[dict[str, Any]] = []
    if answer.reasoning:
        thought = "".join(answer.reasoning).strip() if answer.reasoning_visible else None
        items.append(reasoning_item(ids.reasoning, thought, "completed"))
    for index, call in enumerate(answer.tool_calls):
        items.append(function_call_item(ids.call(index), call, call["function"].get("arguments", ""), "completed"))
    if not answer.tool_calls:
        content = "".join(answer.content).lstrip() if text is None else text
        items.append(message_item(ids.message, content, status))
    return items


def responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """A chat `usage` object in the Responses vocabulary (same tokens, same cost)."""
    costs = usage["cost_details"]
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": usage["prompt_tokens_details"]["cached_tokens"],
                                 "cache_write_tokens": 0},
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": usage["completion_tokens_details"]["reasoning_tokens"]},
        "total_tokens": usage["total_tokens"], "cost": usage["cost"], "is_byok": usage["is_byok"],
        "cost_details": {"upstream_inference_cost": costs["upstream_inference_cost"],
                         "upstream_inference_input_cost": costs["upstream_inference_prompt_cost"],
                         "upstream_inference_output_cost": costs["upstream_inference_completions_cost"]},
    }


def _tools_echo(request: dict[str, Any]) -> list[dict[str, Any]]:
    echoed = []
    for tool in request.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            echoed.append({"type": "function", "name": tool.get("name"), "description": tool.get("description"),
                           "parameters": tool.get("parameters"), "strict": tool.get("strict")})
        elif isinstance(tool, dict):
            echoed.append(tool)
    return echoed


def _reasoning_echo(request: dict[str, Any]) -> dict[str, Any] | None:
    reasoning = request.get("reasoning")
    if not isinstance(reasoning, dict):
        return None
    return {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")}


def response_document(exchange: Exchange, status: str, output: list[dict[str, Any]],
                      usage: dict[str, Any] | None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `response` object; `usage=None` (in-progress snapshots) leaves the field out."""
    request: dict[str, Any] = exchange.record.get("body") or {}
    incomplete = {"reason": "max_output_tokens"} if status == "incomplete" else None
    document: dict[str, Any] = {
        "id": exchange.generation_id, "object": "response", "created_at": exchange.created,
        "completed_at": int(time.time()) if status == "completed" else None, "status": status,
        "background": False, "error": error, "incomplete_details": incomplete,
        "instructions": request.get("instructions"), "max_output_tokens": request.get("max_output_tokens"),
        "max_tool_calls": None, "model": exchange.model, "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True), "previous_response_id": None,
        "reasoning": _reasoning_echo(request), "store": False, "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}}, "tool_choice": request.get("tool_choice", "auto"),
        "tools": _tools_echo(request), "top_p": request.get("top_p"), "truncation": "disabled",
        "metadata": request.get("metadata") or {},
    }
    if usage is not None:
        document["usage"] = usage
    return document
