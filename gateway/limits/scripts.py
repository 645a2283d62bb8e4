"""The Lua scripts, read from package files and run by EVALSHA (with EVAL on NOSCRIPT), on either Redis client."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from redis import exceptions as redis_errors

from gateway.limits.pipelined import Arg, PipelinedRedis
from gateway.limits.pipelined_cluster import PipelinedCluster
from gateway.redis_client import RedisClient


def source(name: str) -> str:
    """A script with the shared prelude; Redis has no `require`, so the prelude is prepended."""
    package = resources.files("gateway.limits")
    return package.joinpath("common.lua").read_text() + "\n" + package.joinpath(name).read_text()


@dataclass(frozen=True, slots=True)
class LuaScript:
    body: bytes
    sha: str

    @classmethod
    def of(cls, body: bytes) -> LuaScript:
        return cls(body, hashlib.sha1(body).hexdigest())  # SHA-1: the script id Redis itself uses

    @classmethod
    def load(cls, name: str) -> LuaScript:
        return cls.of(source(name).encode())


class ScriptRunner(Protocol):
    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any: ...


class PipelinedScripts:
    """On the hot path: the auto-pipelined connection."""

    def __init__(self, connection: PipelinedRedis) -> None:
        self._connection = connection

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        try:
            return await self._connection.execute(b"EVALSHA", script.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:  # a restarted or flushed Redis: EVAL loads it again
            return await self._connection.execute(b"EVAL", script.body, len(keys), *keys, *args)


class ClusterScripts:
    """On a Redis Cluster: the pipelined connection of the node owning the script's keys (one slot per org)."""

    def __init__(self, cluster: PipelinedCluster) -> None:
        self._cluster = cluster

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        try:
            return await self._cluster.execute(keys[0], b"EVALSHA", script.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:  # each node has its own script cache
            return await self._cluster.execute(keys[0], b"EVAL", script.body, len(keys), *keys, *args)


class RedisPyScripts:
    """Where the pipelined connection cannot go (TLS, unix sockets): redis-py's pool."""

    def __init__(self, client: RedisClient) -> None:
        self._client = client

    async def run(self, script: LuaScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        try:
            return await self._client.evalsha(script.sha, len(keys), *keys, *args)
        except redis_errors.NoScriptError:
            return await self._client.eval(script.body, len(keys), *keys, *args)


@dataclass(frozen=True)
class Scripts:
    admit: LuaScript
    settle: LuaScript
    release: LuaScript
    summary: LuaScript

    @classmethod
    def load(cls) -> Scripts:
        return cls(
            admit=LuaScript.load("admit.lua"),
            settle=LuaScript.load("settle.lua"),
            release=LuaScript.load("release.lua"),
            summary=LuaScript.load("summary.lua"),
        )
