"""Deterministic tool use: which functions to call with what arguments, and how tool results read back.

Named things in the last user message (capitalised words and quoted strings, e.g. "Paris" and "London")
become one parallel call each; every required string parameter is filled with the thing, other required
parameters with a schema-valid placeholder.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from gateway.sim.schema_instance import instance_for

_CAPITALISED = re.compile(r"\b[A-Z][\w-]*(?:\s+[A-Z][\w-]*)*")
_QUOTED = re.compile(r"\"([^\"]{1,80})\"|'([^']{1,80})'")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+)([A-Z][\w-]*)")
_WORD = re.compile(r"[a-z]+")
_NOT_THINGS = frozenset({"I", "I'm", "OK", "Please", "What", "How", "Can", "Could", "Tell", "Is", "The"})


def named_things(text: str) -> list[str]:
    """Proper nouns and quoted strings, in order of appearance, without sentence-initial words."""
    starts = {m.start(1) for m in _SENTENCE_START.finditer(text)}
    things = [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]
    for match in _CAPITALISED.finditer(text):
        words = match.group(0).split()
        if match.start() in starts:
            words = words[1:]
        phrase = " ".join(w for w in words if w not in _NOT_THINGS)
        if phrase:
            things.append(phrase)
    return list(dict.fromkeys(things))


def call_id(seed: str, index: int, dialect: str) -> str:
    digest = hashlib.blake2b(f"{seed}|{index}".encode(), digest_size=16).hexdigest()
    return ("toolu_01" + digest[:22]) if dialect == "anthropic" else ("call_" + digest[:24])


def _functions(tools: list[Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]


def _best_function(functions: list[dict[str, Any]], text: str) -> dict[str, Any]:
    words = set(_WORD.findall(text.lower()))

    def overlap(function: dict[str, Any]) -> int:
        described = f"{function.get('name', '')} {function.get('description', '')}".lower().replace("_", " ")
        return len(words & set(_WORD.findall(described)))

    return max(functions, key=overlap)  # max keeps the first of equals, so ties go to the first tool


def _arguments(function: dict[str, Any], thing: str) -> dict[str, Any]:
    schema = function.get("parameters") or {}
    properties: dict[str, Any] = schema.get("properties") or {}
    required = [name for name in schema.get("required") or () if name in properties]
    if not required:
        required = [name for name, sub in properties.items() if isinstance(sub, dict) and sub.get("type") == "string"]
        required = required[:1]
    arguments: dict[str, Any] = {}
    for name in required:
        sub = properties[name]
        plain_string = isinstance(sub, dict) and sub.get("type") == "string" and "enum" not in sub
        arguments[name] = thing if plain_string else instance_for(sub, name)
    return arguments


def plan_tool_calls(body: dict[str, Any], user_text: str, fallback: str, dialect: str) -> list[dict[str, Any]]:
    """The tool calls to answer with, or [] when the model should answer in text."""
    tools = body.get("tools")
    choice = body.get("tool_choice", "auto")
    messages = body.get("messages") or []
    if not tools or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return []
    functions = _functions(tools)
    if not functions:
        return []
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        function = next((f for f in functions if f.get("name") == name), functions[0])
    else:
        function = _best_function(functions, user_text)
    things = named_things(user_text) or [fallback]
    if body.get("parallel_tool_calls") is False:
        things = things[:1]
    seed = orjson.dumps(messages).decode()
    return [
        {"id": call_id(seed, index, dialect), "type": "function",
         "function": {"name": function["name"], "arguments": orjson.dumps(_arguments(function, thing)).decode()}}
        for index, thing in enumerate(things)
    ]


def tool_results(messages: list[Any]) -> list[tuple[str, str]]:
    """(function name, result text) for the tool messages that answer the last assistant's tool calls."""
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            names = {c.get("id", ""): (c.get("function") or {}).get("name", "tool") for c in message["tool_calls"]}
            results = []
        elif role == "tool":
            content = message.get("content")
            text = content if isinstance(content, str) else orjson.dumps(content).decode()
            results.append((names.get(message.get("tool_call_id", ""), "tool"), text))
        elif role == "user":
            names, results = {}, []
    return results
