"""Build a JSON value that satisfies a (reasonable subset of) JSON Schema, for `response_format: json_schema`.

Supported: type (incl. lists of types), enum, const, properties/required, items, min/max items, string
formats and length limits, numeric bounds, anyOf/oneOf (first branch), and local `$ref`s into `$defs`.
"""

from __future__ import annotations

import math
from typing import Any

_MAX_DEPTH = 12


def instance_for(schema: Any, hint: str = "value") -> Any:
    """A value valid for `schema`; `hint` is used to make strings read sensibly."""
    return _build(schema, schema, hint, 0)


def _resolve(root: Any, schema: Any) -> Any:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node


def _build(root: Any, schema: Any, hint: str, depth: int) -> Any:
    schema = _resolve(root, schema)
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return hint
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _build(root, schema[key][0], hint, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    return _BUILDERS.get(kind, _string)(root, schema, hint, depth)


def _object(root: Any, schema: dict[str, Any], hint: str, depth: int) -> Any:
    properties: dict[str, Any] = schema.get("properties") or {}
    return {name: _build(root, sub, name, depth + 1) for name, sub in properties.items()}


def _array(root: Any, schema: dict[str, Any], hint: str, depth: int) -> Any:
    count = max(int(schema.get("minItems", 1)), 1)
    if "maxItems" in schema:
        count = min(count, int(schema["maxItems"]))
    return [_build(root, schema.get("items", {}), hint, depth + 1) for _ in range(count)]


def _string(root: Any, schema: dict[str, Any], hint: str, depth: int) -> Any:
    formats = {"date-time": "2025-01-01T00:00:00Z", "date": "2025-01-01", "email": "user@example.com",
               "uri": "https://example.com", "uuid": "00000000-0000-4000-8000-000000000000"}
    text = formats.get(schema.get("format", ""), f"example {hint}")
    minimum, maximum = int(schema.get("minLength", 0)), schema.get("maxLength")
    if len(text) < minimum:
        text = text + "x" * (minimum - len(text))
    if maximum is not None:
        text = text[: int(maximum)]
    return text


def _number(root: Any, schema: dict[str, Any], hint: str, depth: int) -> Any:
    integral = schema.get("type") == "integer"
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1.0
    if low is not None:
        value = float(low) + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if high is not None and value > float(high):
        value = float(high) - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    if integral:
        return math.ceil(value) if low is not None else math.floor(value)
    return value


_BUILDERS = {
    "object": _object, "array": _array, "string": _string, "number": _number, "integer": _number,
    "boolean": lambda root, schema, hint, depth: True, "null": lambda root, schema, hint, depth: None,
}
