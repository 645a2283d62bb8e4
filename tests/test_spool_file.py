"""Spool files: per-process, and a dead process's files adopted by a live one so they are replayed after all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.spool_file import SpoolFile


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_dead_processes_spool_is_adopted_and_replayed(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / f"ledger-{dead}.jsonl").write_bytes(b'{"n": 1}\n')
    (tmp_path / f"ledger-{dead}.jsonl.replaying").write_bytes(b'{"n": 2}\n')
    (tmp_path / f"settlements-{dead}.jsonl").write_bytes(b'{"other": "stem"}\n')
    live_sibling = tmp_path / f"ledger-{os.getppid()}.jsonl"  # a live process's file is never taken
    live_sibling.write_bytes(b'{"n": 3}\n')
    spool = SpoolFile.for_process(tmp_path, "ledger")
    assert spool.pending()
    await spool.append([b'{"n": 4}\n'])
    async with spool.claimed() as lines:
        assert sorted(lines) == [b'{"n": 1}', b'{"n": 2}', b'{"n": 4}']
    assert not spool.pending()
    assert sorted(os.listdir(tmp_path)) == sorted([live_sibling.name, f"settlements-{dead}.jsonl"])


async def test_a_failed_replay_keeps_the_batch(tmp_path: Path) -> None:
    spool = SpoolFile(tmp_path / "s.jsonl")
    await spool.append([b"a\n", b"b\n"])
    try:
        async with spool.claimed() as lines:
            assert lines == [b"a", b"b"]
            raise ConnectionError("store still away")
    except ConnectionError:
        pass
    async with spool.claimed() as lines:
        assert lines == [b"a", b"b"]
    assert not spool.pending()
