"""How a requested model name maps to an OpenRouter id: prefix stripping, variants and aliases."""

from __future__ import annotations

import re
from collections.abc import Mapping

# OpenRouter variant suffixes; they select a provider routing mode, so they are kept on the id sent upstream.
VARIANTS = frozenset({"nitro", "floor", "online", "thinking", "free", "exacto", "extended"})

OPENROUTER_PREFIX = "openrouter/"

# Task and alias names never contain "/" or ":", so they can never be mistaken for an OpenRouter id or a variant.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def is_valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None


def split_variant(model: str) -> tuple[str, str | None]:
    """`"openai/gpt-4o:nitro"` → `("openai/gpt-4o", "nitro")`; unknown suffixes stay part of the id."""
    base, sep, suffix = model.rpartition(":")
    if sep and base and suffix in VARIANTS:
        return base, suffix
    return model, None


def strip_openrouter_prefix(model: str) -> str:
    """Drop the LiteLLM-style `openrouter/` prefix from `openrouter/<provider>/<model>`.

    OpenRouter's own ids (`openrouter/auto`, `openrouter/free`, stealth models) have exactly one slash, so
    the prefix is stripped only when what follows is itself a `provider/model` id.
    """
    if model.startswith(OPENROUTER_PREFIX) and "/" in model[len(OPENROUTER_PREFIX) :]:
        return model[len(OPENROUTER_PREFIX) :]
    return model


def resolve_model_name(name: str, aliases: Mapping[str, str]) -> str | None:
    """The concrete OpenRouter id for an id or alias (optionally with a variant), or None if it is neither.

    Alias targets are stored already normalised. An alias with a variant (`fast:nitro`) gets the variant
    appended unless the target already carries one.
    """
    if "/" in name:
        return strip_openrouter_prefix(name)
    if name in aliases:
        return aliases[name]
    base, variant = split_variant(name)
    if variant is not None and base in aliases:
        target = aliases[base]
        return target if split_variant(target)[1] is not None else f"{target}:{variant}"
    return None
