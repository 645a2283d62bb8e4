"""Hypothesis strategies for request bodies from OpenAI's OpenAPI spec (components.schemas), plus broken variants.

A small walker rather than a general JSON-Schema generator: OpenAI's schemas are deep, recursive and full of
`anyOf`/`allOf`, so the walker bounds depth, list sizes and numbers, and keeps strings short. Bodies that follow the
schema exercise what the gateway passes through; `mutated` bodies replace one value anywhere with arbitrary JSON
(`{}` and `[]` included), which is where a validator meets shapes it did not expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from tests.openapi_schema import spec

MAX_DEPTH = 5
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**40), 2**40),
                         st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=12))
ANY_JSON = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=3)),
                        max_leaves=8)


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 20:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = {**spec()["components"]["schemas"][name], **{k: v for k, v in schema.items() if k != "$ref"}}
        seen += 1
    return schema


def _merged(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """`allOf` of object schemas as one object schema (properties and required lists united)."""
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        part = _resolve(part)
        if "allOf" in part:
            part = _merged(part["allOf"])
        merged["properties"].update(part.get("properties", {}))
        merged["required"] += part.get("required", [])
    return merged


def from_schema(schema: Mapping[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    schema = _resolve(schema)
    if depth > MAX_DEPTH:
        return JSON_SCALARS
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "allOf" in schema:
        return from_schema(_merged(schema["allOf"]), depth)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of(*(from_schema(option, depth + 1) for option in schema[key][:8]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of(*(from_schema({**schema, "type": one}, depth) for one in kind))
    if kind == "object" or "properties" in schema:
        return _object(schema, depth)
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(from_schema(items, depth + 1), min_size=min(schema.get("minItems", 0), 2), max_size=3)
    if kind == "string":
        return st.text(min_size=min(schema.get("minLength", 0), 4), max_size=16)
    if kind == "integer":
        return st.integers(max(schema.get("minimum", -(2**31)), -(2**31)), min(schema.get("maximum", 2**31), 2**31))
    if kind == "number":
        return st.floats(schema.get("minimum", -1e6), schema.get("maximum", 1e6), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return JSON_SCALARS


def _object(schema: Mapping[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    required = [name for name in schema.get("required", []) if name in properties]
    optional = [name for name in properties if name not in required][:12]
    return st.fixed_dictionaries(
        {name: from_schema(properties[name], depth + 1) for name in required},
        optional={name: from_schema(properties[name], depth + 1) for name in optional},
    )


def _slots(node: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON value, the root's own keys included."""
    found: list[tuple[Any, Any]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        found += _slots(value)
    return found


@st.composite
def mutated(draw: st.DrawFn, bodies: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    """A body with one value anywhere (every slot equally likely) replaced by `{}`, `[]` or arbitrary JSON, or a new
    key with such a value added to the top level."""
    body = draw(bodies)
    replacement = draw(st.one_of(st.just({}), st.just([]), ANY_JSON))
    slots = _slots(body)
    if slots and draw(st.integers(0, 4)):
        container, key = draw(st.sampled_from(slots))
        container[key] = replacement
    else:
        body[draw(st.text(max_size=8))] = replacement
    return body
