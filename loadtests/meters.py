"""What a benchmark run cost: CPU and RSS of a server's whole process tree (from /proc), and Redis's own CPU and
memory (from INFO), read before and after a run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import redis

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended while we looked
        return None
    # The command name (field 2) may contain spaces; everything after its closing parenthesis is split safely.
    return text[text.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """`root` and every process descending from it (uvicorn workers, multiprocessing helpers)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue.extend(parents.get(pid, []))
    return tree


def tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of the tree so far, including children it has already reaped."""
    total = 0
    for pid in process_tree(root):
        if (fields := _stat_fields(pid)) is not None:
            # utime, stime, cutime, cstime are fields 14-17 of /proc/<pid>/stat (11-14 after the name).
            total += sum(int(value) for value in fields[11:15])
    return total / _TICKS_PER_S


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker lives in the tree but serves no request."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def worker_rss_mb(root: int) -> list[float]:
    """Resident memory of each worker (every process of the tree but the supervisor, if there is one)."""
    tree = [pid for pid in process_tree(root) if not _is_helper(pid)]
    workers = tree[1:] if len(tree) > 1 else tree
    sizes = []
    for pid in workers:
        try:
            resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        sizes.append(resident_pages * _PAGE / 1_048_576)
    return sizes


@dataclass(frozen=True)
class RedisSample:
    cpu_s: float
    used_memory: int


def redis_sample(urls: list[str]) -> RedisSample:
    """Summed over `urls` (every node of a cluster): used_cpu_sys + used_cpu_user, and used_memory."""
    cpu, memory = 0.0, 0
    for url in urls:
        client = redis.Redis.from_url(url)
        try:
            info = client.info("cpu") | client.info("memory")
        finally:
            client.close()
        cpu += float(info["used_cpu_sys"]) + float(info["used_cpu_user"])
        memory += int(info["used_memory"])
    return RedisSample(cpu, memory)
