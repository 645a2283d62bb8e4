"""A tool call without arguments reaches clients with `"arguments": "{}"`.

OpenRouter sometimes returns a tool call without `function.arguments` (a tool whose parameters are all optional,
called with none). OpenAI always sends a JSON string, so the `openai` SDK's strict parsing and every
`json.loads(call.function.arguments)` fail on the missing (or empty) field; `"{}"` is what the call means.
Streams get the same fix in `gateway.streaming.choices` (the `"{}"` goes out before the choice's finish).
"""

from __future__ import annotations

from typing import Any

EMPTY_ARGUMENTS = "{}"


def fill_missing_arguments(answer: dict[str, Any]) -> bool:
    """Give every tool call of a chat-completion JSON answer an arguments string; True when one changed.

    The chat adapter calls it on the parsed upstream answer before it is re-serialised for the client.
    """
    changed = False
    for choice in answer.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else ():
            if not isinstance(call, dict):
                continue
            function = call.get("function")
            if not isinstance(function, dict):
                continue
            arguments = function.get("arguments")
            if arguments is None or arguments == "":
                function["arguments"] = EMPTY_ARGUMENTS
                changed = True
    return changed
