"""Validate JSON instances against a schema of OpenAI's OpenAPI spec (components.schemas)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import orjson
from jsonschema.exceptions import ValidationError
from openapi_schema_validator import OAS31Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def _find_spec() -> Path:
    """OpenAI's spec lives in the shared/ folder beside the checkout (CI clones main with shared/ next to it)."""
    relative = Path("openai-openapi") / "openapi.json"
    candidates = [Path(os.environ["OPENAI_OPENAPI_SPEC"])] if os.environ.get("OPENAI_OPENAPI_SPEC") else []
    candidates += [parent / "shared" / relative for parent in Path(__file__).resolve().parents]
    candidates.append(Path("/work/shared") / relative)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "OpenAI's OpenAPI spec was not found: put shared/openai-openapi/openapi.json beside the checkout "
        "or set OPENAI_OPENAPI_SPEC to its path"
    )


SPEC_PATH = _find_spec()
_SPEC_URI = "urn:openai-openapi"

__all__ = ["ValidationError", "validate"]


def validate(schema_name: str, instance: dict[str, Any]) -> None:
    """Raise `jsonschema.ValidationError` unless `instance` matches `#/components/schemas/<name>`."""
    _validator(schema_name).validate(instance)


@cache
def _validator(schema_name: str) -> OAS31Validator:
    spec = _spec()
    if schema_name not in spec["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {SPEC_PATH}")
    registry: Registry = Registry().with_resource(_SPEC_URI, Resource.from_contents(spec, DRAFT202012))
    # The spec's own `$ref`s are `#/components/schemas/...`: relative to the spec document,
    # which is what the registry resolves them against once we enter it through this URI.
    schema = {"$ref": f"{_SPEC_URI}#/components/schemas/{schema_name}"}
    return OAS31Validator(schema, registry=registry)


@cache
def _spec() -> dict[str, Any]:
    return _rewrite_nullable(orjson.loads(SPEC_PATH.read_bytes()))  # type: ignore[no-any-return]


def _rewrite_nullable(node: Any) -> Any:
    """The 3.1 document still uses OAS 3.0's `nullable: true`, which 2020-12 ignores: turn each
    into an explicit `null` branch so `null` validates where the spec means to allow it."""
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_nullable(value) for key, value in node.items()}
    if rewritten.pop("nullable", False) is True:
        return {"anyOf": [rewritten, {"type": "null"}]}
    return rewritten


def spec() -> dict[str, Any]:
    """The whole spec, with `nullable` rewritten (shared by the validators and the fuzz strategies)."""
    return _spec()
