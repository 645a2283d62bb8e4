"""The auto-pipelined connection against a real Redis: order, errors, scripts, outages and a silent server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import AsyncIterator

import hiredis
import pytest
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from gateway.errors import ServiceUnavailableError
from gateway.limits.pipelined import PipelinedRedis, _reply_error, encode_command
from gateway.limits.scripts import LuaScript, PipelinedScripts
from gateway.limits.store_errors import store_errors
from tests.limits.flaky_proxy import FlakyProxy


@pytest.fixture
async def pipelined(redis_client: aioredis.Redis) -> AsyncIterator[PipelinedRedis]:
    connection = PipelinedRedis.mirroring(redis_client)
    assert connection is not None
    try:
        yield connection
    finally:
        await connection.aclose()


def test_commands_are_resp_arrays_of_bulk_strings() -> None:
    assert encode_command((b"SET", "k", 42)) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n42\r\n"
    assert encode_command(("ü",)) == b"*1\r\n$2\r\n\xc3\xbc\r\n"


async def test_mirrors_the_clients_database(pipelined: PipelinedRedis, redis_client: aioredis.Redis) -> None:
    await pipelined.execute("SET", "where", "here")
    assert await redis_client.get("where") == b"here"  # the same db as the client (the test db, not db 0)


async def test_concurrent_commands_get_their_own_replies(pipelined: PipelinedRedis) -> None:
    replies = await asyncio.gather(*(pipelined.execute("INCRBY", f"k{i % 7}", i) for i in range(500)))
    totals: dict[int, int] = {}
    for i, reply in enumerate(replies):
        totals[i % 7] = totals.get(i % 7, 0) + i
        assert reply == totals[i % 7]  # each caller sees the running total at its own place in the order


async def test_a_reply_error_fails_only_its_command(pipelined: PipelinedRedis) -> None:
    await pipelined.execute("SET", "text", "abc")
    results = await asyncio.gather(
        pipelined.execute("INCR", "text"), pipelined.execute("GET", "text"), return_exceptions=True
    )
    assert isinstance(results[0], redis_errors.ResponseError)
    assert results[1] == b"abc"


async def test_a_cancelled_caller_does_not_shift_the_replies(pipelined: PipelinedRedis) -> None:
    slow = asyncio.ensure_future(pipelined.execute("BLPOP", "never-filled", "0.2"))  # holds the connection
    await asyncio.sleep(0.05)
    slow.cancel()
    assert await pipelined.execute("ECHO", "after") == b"after"


async def test_scripts_are_loaded_again_after_a_flush(pipelined: PipelinedRedis, redis_client: aioredis.Redis) -> None:
    script = LuaScript.of(b"return {KEYS[1], ARGV[1]}")
    runner = PipelinedScripts(pipelined)
    assert await runner.run(script, ["k"], ["v"]) == [b"k", b"v"]
    await redis_client.script_flush()
    assert await runner.run(script, ["k2"], [3]) == [b"k2", b"3"]


async def test_an_outage_fails_waiting_calls_and_the_next_call_reconnects(redis_url: str) -> None:
    proxy = FlakyProxy(redis_url)
    await proxy.start()
    connection = PipelinedRedis.mirroring(aioredis.Redis.from_url(proxy.url, socket_connect_timeout=0.5))
    assert connection is not None
    try:
        assert await connection.execute("PING") == b"PONG"
        waiting = asyncio.ensure_future(connection.execute("BLPOP", "never-filled", "5"))
        await asyncio.sleep(0.05)
        await proxy.stop()
        with pytest.raises(redis_errors.ConnectionError):
            await waiting
        with pytest.raises(redis_errors.ConnectionError):
            await connection.execute("PING")  # refused while Redis is away
        await proxy.start()
        assert await connection.execute("PING") == b"PONG"
    finally:
        await connection.aclose()
        await proxy.stop()


async def test_a_server_that_never_answers_times_out() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    host, port = silent.getsockname()
    connection = PipelinedRedis(host, port, reply_timeout_s=0.5)
    try:
        with pytest.raises(redis_errors.TimeoutError):
            await asyncio.wait_for(connection.execute("PING"), timeout=5)
    finally:
        await connection.aclose()
        with contextlib.suppress(OSError):
            silent.close()


def test_tls_and_unix_socket_clients_stay_on_redis_py() -> None:
    assert PipelinedRedis.mirroring(aioredis.Redis.from_url("rediss://127.0.0.1:6379/0")) is None
    assert PipelinedRedis.mirroring(aioredis.Redis.from_url("unix:///tmp/redis.sock")) is None
    assert PipelinedRedis.mirroring(aioredis.Redis.from_url("redis://127.0.0.1:6379/0")) is not None


async def test_a_cancelled_caller_leaves_no_unretrieved_connect_failure() -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    connection = PipelinedRedis("127.0.0.1", port)
    try:
        caller = asyncio.ensure_future(connection.execute("PING"))
        await asyncio.sleep(0)
        caller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await caller
        await asyncio.sleep(0.1)  # the refused connection attempt has failed by now
        gc.collect()  # a failed task nobody retrieved is reported when it is collected
        await asyncio.sleep(0)
        assert unhandled == []
    finally:
        loop.set_exception_handler(None)
        await connection.aclose()


def test_a_loading_redis_is_a_store_outage_not_a_command_error() -> None:
    """Redis answers LOADING while it reads its AOF after a restart; that must read as "store down" (503, spool)."""
    error = _reply_error(hiredis.ReplyError("LOADING Redis is loading the dataset in memory"))
    assert isinstance(error, redis_errors.ConnectionError)
    with pytest.raises(ServiceUnavailableError), store_errors():
        raise error
    assert type(_reply_error(hiredis.ReplyError("ERR wrong number of arguments"))) is redis_errors.ResponseError
