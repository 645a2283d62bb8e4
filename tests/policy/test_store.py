from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from gateway.policy import PolicyError, PolicyStore

V1 = "aliases: {fast: openai/gpt-4o-mini}\n"
V2 = "aliases: {fast: anthropic/claude-haiku-4.5}\ntasks: {draft: {primary: deepseek/deepseek-chat-v3.1}}\n"
V3 = "aliases: {fast: google/gemini-2.5-flash}\n"
INVALID = "aliases: {fast: openai/gpt-4o-mini}\ntasks: {draft: {primary: openai/gpt-4o, max_cost_usd: -1}}\n"
POLL_S = 0.02


def _replace(path: Path, text: str) -> None:
    """Write like an editor or a ConfigMap update: a new file renamed into place."""
    staging = path.with_suffix(".tmp")
    staging.write_text(text)
    os.replace(staging, path)


def _fast(store: PolicyStore) -> str:
    return store.current.resolve("fast", "someone").models[0]


async def _eventually(condition: object, timeout_s: float = 2.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(POLL_S / 2)
    return False


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(V1)
    return path


@pytest.fixture
async def watching(policy_file: Path) -> AsyncIterator[PolicyStore]:
    store = PolicyStore(policy_file, poll_interval_s=POLL_S)
    task = asyncio.create_task(store.watch())
    try:
        yield store
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_no_path_means_the_built_in_empty_policy() -> None:
    store = PolicyStore(None)
    assert store.current.document.tasks == {}
    assert store.current.resolve("openai/gpt-4o", "acme").models == ("openai/gpt-4o",)
    assert store.reload() is True


def test_invalid_file_at_startup_raises(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(INVALID)
    with pytest.raises(PolicyError, match=r"tasks\.draft\.max_cost_usd: must be > 0"):
        PolicyStore(path)


def test_reload_picks_up_a_new_valid_file(policy_file: Path) -> None:
    store = PolicyStore(policy_file)
    assert _fast(store) == "openai/gpt-4o-mini"
    _replace(policy_file, V2)
    assert store.reload() is True
    assert _fast(store) == "anthropic/claude-haiku-4.5"
    assert store.current.resolve("draft", "someone").task == "draft"


def test_reload_keeps_the_old_policy_when_the_new_file_is_invalid(policy_file: Path) -> None:
    store = PolicyStore(policy_file)
    before = store.current
    _replace(policy_file, INVALID)
    with capture_logs() as logs:
        assert store.reload() is False
    assert store.current is before
    failures = [entry for entry in logs if entry["event"] == "policy_reload_failed"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "error"
    assert failures[0]["problems"] == [f"{policy_file}: tasks.draft.max_cost_usd: must be > 0, got -1 (line 2)"]


def test_reload_keeps_the_old_policy_when_the_file_disappears(policy_file: Path) -> None:
    store = PolicyStore(policy_file)
    policy_file.unlink()
    assert store.reload() is False
    assert _fast(store) == "openai/gpt-4o-mini"


async def test_watch_picks_up_a_replaced_file(watching: PolicyStore, policy_file: Path) -> None:
    _replace(policy_file, V2)
    assert await _eventually(lambda: _fast(watching) == "anthropic/claude-haiku-4.5")


async def test_watch_picks_up_an_in_place_edit(watching: PolicyStore, policy_file: Path) -> None:
    await asyncio.to_thread(policy_file.write_text, V3)
    assert await _eventually(lambda: _fast(watching) == "google/gemini-2.5-flash")


async def test_watch_ignores_an_invalid_file_and_recovers_on_the_next_valid_one(
    watching: PolicyStore, policy_file: Path
) -> None:
    before = watching.current
    with capture_logs() as logs:
        _replace(policy_file, INVALID)
        assert await _eventually(lambda: any(entry["event"] == "policy_reload_failed" for entry in logs))
        await asyncio.sleep(POLL_S * 5)
    assert watching.current is before
    # Failed once for this file version, not on every poll.
    assert sum(entry["event"] == "policy_reload_failed" for entry in logs) == 1
    _replace(policy_file, V2)
    assert await _eventually(lambda: _fast(watching) == "anthropic/claude-haiku-4.5")


async def test_watch_survives_the_file_vanishing_for_a_while(watching: PolicyStore, policy_file: Path) -> None:
    await asyncio.to_thread(policy_file.unlink)
    await asyncio.sleep(POLL_S * 5)
    assert _fast(watching) == "openai/gpt-4o-mini"
    _replace(policy_file, V3)
    assert await _eventually(lambda: _fast(watching) == "google/gemini-2.5-flash")


async def test_watch_is_cancellable(policy_file: Path) -> None:
    store = PolicyStore(policy_file, poll_interval_s=POLL_S)
    task = asyncio.create_task(store.watch())
    await asyncio.sleep(POLL_S * 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_watch_without_a_file_returns_at_once() -> None:
    await asyncio.wait_for(PolicyStore(None).watch(), timeout=1)


async def test_sighup_reloads(policy_file: Path) -> None:
    # A long poll interval and no watch task: only the signal can cause this reload.
    store = PolicyStore(policy_file, poll_interval_s=3600)
    loop = asyncio.get_running_loop()
    store.install_sighup(loop)
    try:
        _replace(policy_file, V2)
        assert _fast(store) == "openai/gpt-4o-mini"
        os.kill(os.getpid(), signal.SIGHUP)
        assert await _eventually(lambda: _fast(store) == "anthropic/claude-haiku-4.5")
    finally:
        store.remove_sighup(loop)
