"""The README's benchmark command runs end to end (tiny and short): every cell served traffic without errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ROW = re.compile(r"^(json|stream) (\S+(?: \S+)?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s+(\S+)\s+(\d+)$")


def test_bench_runs_every_cell_and_compares_them(redis_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "loadtests/bench.py", "--concurrency", "4", "--duration", "1", "--workers", "1",
         "--variants", "all-on,in-process", "--redis-url", redis_url],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {(m[1], m[2]): m for line in result.stdout.splitlines() if (m := _ROW.match(line.strip()))}
    cells = {"direct", "passthrough", "gateway all-on", "gateway in-process"}
    assert set(rows) == {(kind, cell) for kind in ("json", "stream") for cell in cells}, result.stdout
    for (kind, cell), row in rows.items():
        assert float(row[3]) > 0, f"{kind} {cell} served nothing"
        assert row[8] == "0", f"{kind} {cell} had errors"
        if kind == "stream":
            assert row[6] != "-", f"{kind} {cell} measured no time to first token"
    assert "json gateway all-on vs passthrough: throughput" in result.stdout
    assert "stream gateway in-process vs direct: throughput" in result.stdout
