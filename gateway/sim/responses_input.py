"""A Responses API request (OPENROUTER.md §10) read as the chat-shaped body the planner understands.

`input` items become chat messages (`input_text`/`input_image` parts, `function_call` items folded into an
assistant message's `tool_calls`, `function_call_output` items into `tool` messages), `instructions` a leading
system message, flat function tools the chat `{type, function}` shape, `max_output_tokens` `max_tokens` and
`text.format` `response_format`. OpenRouter's Responses API is stateless: `store: true` or a
`previous_response_id` is a 400.
"""

from __future__ import annotations

from typing import Any

from gateway.sim.errors import SimError

# Fields that mean the same in both APIs and pass straight through.
_SHARED = ("model", "models", "provider", "temperature", "top_p", "parallel_tool_calls", "stream", "user",
           "session_id", "sim", "top_k", "frequency_penalty", "presence_penalty", "seed")
_SUMMARY_KEYS = ("summary", "generate_summary")
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def _bad(message: str) -> SimError:
    return SimError(400, message, {"error_type": "invalid_request"})


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The chat-completions body equivalent to a `/responses` request; 400 for what OpenRouter refuses."""
    if body.get("store") is True:
        raise _bad("Stateful responses are not supported: the Responses API is stateless, set store to false")
    if body.get("previous_response_id") is not None:
        raise _bad("previous_response_id is not supported: the Responses API is stateless, send the full "
                   "conversation in input")
    chat: dict[str, Any] = {key: body[key] for key in _SHARED if key in body}
    messages = _messages(body.get("input"))
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    chat["messages"] = messages
    if body.get("tools") is not None:
        chat["tools"] = _tools(body["tools"])
    if "tool_choice" in body:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        chat["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        chat["reasoning"] = {key: value for key, value in reasoning.items() if key not in _SUMMARY_KEYS}
    elif reasoning is not None:
        chat["reasoning"] = reasoning  # the validator reports it
    return chat


def _messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise _bad("Input required: input must be a string or a non-empty array of input items")
    messages: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            raise _bad("Input validation failed: every input item must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item))
        elif kind == "function_call":
            _append_call(messages, item)
        elif kind == "function_call_output":
            output = item.get("output")
            messages.append({"role": "tool", "tool_call_id": str(item.get("call_id", "")),
                             "content": output if isinstance(output, str) else _parts(output)})
        elif kind == "reasoning":
            continue  # earlier reasoning is context for the provider, not for the simulated answer
        else:
            raise _bad(f"Input validation failed: unsupported input item type '{kind}'")
    return messages


def _message(item: dict[str, Any]) -> dict[str, Any]:
    role = _ROLES.get(str(item.get("role")))
    if role is None:
        raise _bad(f"Input validation failed: invalid message role '{item.get('role')}'")
    content = item.get("content")
    return {"role": role, "content": content if isinstance(content, str) else _parts(content)}


def _parts(content: Any) -> list[dict[str, Any]]:
    """Responses content parts as chat parts: text kinds → `text`, `input_image` → `image_url`."""
    if not isinstance(content, list):
        raise _bad("Input validation failed: message content must be a string or an array of parts")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text", ""))})
        elif kind == "input_image":
            url = part.get("image_url") or part.get("file_id") or ""
            parts.append({"type": "image_url", "image_url": {"url": url, "detail": part.get("detail", "auto")}})
        elif kind in ("input_file", "input_audio", "refusal"):
            continue
        else:
            raise _bad(f"Input validation failed: unsupported content part type '{kind}'")
    return parts


def _append_call(messages: list[dict[str, Any]], item: dict[str, Any]) -> None:
    """Consecutive `function_call` items are one assistant turn with parallel tool calls."""
    call = {"id": str(item.get("call_id", "")), "type": "function",
            "function": {"name": str(item.get("name", "")), "arguments": str(item.get("arguments", ""))}}
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and last.get("tool_calls"):
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _bad("Input validation failed: tools must be an array")
    functions = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            continue  # server tools (web search …) are not simulated; the answer ignores them
        if not isinstance(tool.get("name"), str):
            raise _bad("Input validation failed: each function tool needs a name")
        function = {key: tool[key] for key in ("name", "description", "parameters", "strict") if key in tool}
        functions.append({"type": "function", "function": function})
    return functions


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return choice


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_schema":
        schema = {key: fmt[key] for key in ("name", "schema", "strict", "description") if key in fmt}
        return {"type": "json_schema", "json_schema": schema}
    if kind == "json_object":
        return {"type": "json_object"}
    return None
