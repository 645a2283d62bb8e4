"""The Lua scripts, read from package files and registered for EVALSHA (with EVAL fallback on NOSCRIPT)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript


def source(name: str) -> str:
    """A script with the shared prelude; Redis has no `require`, so the prelude is prepended."""
    package = resources.files("gateway.limits")
    return package.joinpath("common.lua").read_text() + "\n" + package.joinpath(name).read_text()


@dataclass(frozen=True)
class Scripts:
    admit: AsyncScript
    settle: AsyncScript
    release: AsyncScript
    summary: AsyncScript

    @classmethod
    def register(cls, client: aioredis.Redis) -> Scripts:
        return cls(
            admit=client.register_script(source("admit.lua")),
            settle=client.register_script(source("settle.lua")),
            release=client.register_script(source("release.lua")),
            summary=client.register_script(source("summary.lua")),
        )
