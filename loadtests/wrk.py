"""Driving `wrk` (a C load generator, `apt-get install wrk`) with a POST body and headers, read back as numbers.

wrk needs a Lua script for a POST body and headers; the same script's `done` hook prints the run's summary as
one JSON line, so nothing is scraped from wrk's human-readable report.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
{headers}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d,"status_errors":%d}}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_script(path: Path, body: bytes, headers: dict[str, str]) -> Path:
    lines = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
    path.write_text(_SCRIPT.format(body=_lua_string(body.decode()), headers=lines))
    return path


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and timeouts
    status_errors: int  # answers other than 2xx/3xx

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench: wrk not found; install it (apt-get install wrk) or use --upstream sim")
    return found


def run(url: str, script: Path, *, connections: int, duration_s: float, threads: int = 2) -> WrkResult:
    threads = max(1, min(threads, connections))
    seconds = max(1, round(duration_s))  # wrk takes whole seconds
    command = [require_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "--latency", "-s", str(script), url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=duration_s + 60, check=False)
    line = next((line for line in done.stdout.splitlines() if line.startswith("WRK-RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"bench: wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout[-500:]}")
    data = json.loads(line.removeprefix("WRK-RESULT "))
    return WrkResult(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=data["errors"],
        status_errors=data["status_errors"],
    )
