"""Turn pydantic's validation errors into policy problems phrased for people editing YAML."""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from gateway.policy.errors import Problem, render_path
from gateway.policy.yaml_source import YamlSource

_TYPE_NAMES = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "list_type": "a list",
}

_BOUNDS = {"greater_than": (">", "gt"), "greater_than_equal": (">=", "ge"), "less_than": ("<", "lt"),
           "less_than_equal": ("<=", "le")}


def _yaml_kind(value: object) -> str:
    if value is None:
        return "null"
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "mapping", list: "list"}
    return kinds.get(type(value), type(value).__name__)


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _unwrap(annotation: Any) -> Any:
    """`X | None` → X, `Annotated[X, ...]` → X; leaves other types alone."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            non_null = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(non_null) != 1:
                return annotation
            annotation = non_null[0]
        else:
            return annotation


def allowed_keys(root: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names of the model found by walking `loc` through the schema's type annotations."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unknown_key(error: ErrorDetails, root: type[BaseModel]) -> str:
    loc = error["loc"]
    allowed = allowed_keys(root, loc[:-1])
    message = "unknown key"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    if allowed:
        message += f"; allowed: {', '.join(allowed)}"
    return message


def describe(error: ErrorDetails, root: type[BaseModel]) -> str:
    kind = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "extra_forbidden":
        return _unknown_key(error, root)
    if kind == "missing":
        return "required"
    if kind in _TYPE_NAMES:
        return f"expected {_TYPE_NAMES[kind]}, got {_yaml_kind(error['input'])} {error['input']!r}"
    if kind in _BOUNDS:
        symbol, key = _BOUNDS[kind]
        return f"must be {symbol} {_number(ctx[key])}, got {_number(error['input'])}"
    if kind == "literal_error":
        return f"must be {ctx['expected']}, got {error['input']!r}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(ctx["error"])
    return error["msg"]


def _location(error: ErrorDetails) -> tuple[str | int, ...]:
    # pydantic marks a bad dict key with a trailing "[key]"; the path to the key itself says the same thing.
    return tuple(part for part in error["loc"] if part != "[key]")


def problems_from(exc: ValidationError, root: type[BaseModel], source: YamlSource) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = _location(error)
        problems.append(Problem(render_path(loc), describe(error, root), source.line_of(loc)))
    return problems
