"""The canned mode's report as a readable table: every measured cell, then the gateway against the passthrough."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loadtests.bench_canned import Cell, Report

_HEADER = (f"{'cell':<22} {'server':<16} {'req/s':>9} {'CPU ms/req':>10} {'p50 ms':>8} {'p99 ms':>8} "
           f"{'Redis CPU ms/req':>16} {'Redis B/req':>11} {'errors':>6}")


def _optional(value: float | None, width: int, digits: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:{width}.{digits}f}"


def _label(cell: Cell) -> str:
    delay = f" +{cell.delay_ms:g}ms" if cell.delay_ms else ""
    return f"{cell.kind}{delay} c={cell.concurrency}"


def _row(cell: Cell) -> str:
    return (f"{_label(cell):<22} {cell.server:<16} {cell.rps:9.1f} {cell.cpu_ms_per_request:10.3f} "
            f"{cell.p50_ms:8.2f} {cell.p99_ms:8.2f} {_optional(cell.redis_cpu_ms_per_request, 16, 3)} "
            f"{_optional(cell.redis_bytes_per_request, 11, 0)} {cell.errors:6d}")


def _find(report: Report, server: str, kind: str, delay_ms: float, concurrency: int) -> Cell | None:
    return next((c for c in report.cells if (c.server, c.kind, c.delay_ms, c.concurrency)
                 == (server, kind, delay_ms, concurrency)), None)


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "n/a"


def _comparisons(report: Report) -> list[str]:
    settings = report.settings
    concurrency, delay = int(settings["concurrency"]), float(settings["delay_ms"])  # type: ignore[arg-type]
    lines = []
    for server in dict.fromkeys(c.server for c in report.cells if c.server != "passthrough"):
        for kind, unit in (("json", "request"), ("stream", "stream")):
            ours, base = _find(report, server, kind, 0, concurrency), _find(report, "passthrough", kind, 0,
                                                                           concurrency)
            if ours and base:
                lines.append(f"{server} {kind}: {_ratio(ours.cpu_ms_per_request, base.cpu_ms_per_request)} the "
                             f"passthrough's CPU per {unit}, {_ratio(ours.rps, base.rps)} its {unit}s/s")
    for server in ("gateway", "gateway cluster"):
        added = []
        for latency_concurrency in settings["latency_concurrency"]:  # type: ignore[attr-defined]
            ours = _find(report, server, "json", delay, latency_concurrency)
            base = _find(report, "passthrough", "json", delay, latency_concurrency)
            if ours and base:
                added.append(f"c={latency_concurrency} {ours.p50_ms - base.p50_ms:+.2f} ms")
        if added:
            lines.append(f"{server} p50 added at a {delay:g} ms upstream: " + ", ".join(added))
    if {"gateway", "passthrough"} <= report.ttft_p50_ms.keys():
        ours, base = report.ttft_p50_ms["gateway"], report.ttft_p50_ms["passthrough"]
        lines.append(f"time to first token p50 ({delay:g} ms upstream, c=1): passthrough {base:.2f} ms, "
                     f"gateway {ours:.2f} ms ({ours - base:+.2f} ms)")
    for server, sizes in report.rss_mb.items():
        lines.append(f"RSS per worker, {server}: " + ", ".join(f"{size:.1f} MB" for size in sizes))
    return lines + _cluster_lines(report)


def _cluster_lines(report: Report) -> list[str]:
    """The gateway on a cluster against the same gateway on one Redis, cell by cell."""
    lines = []
    for cell in report.cells:
        base = _find(report, "gateway", cell.kind, cell.delay_ms, cell.concurrency)
        if cell.server == "gateway cluster" and base is not None:
            lines.append(f"gateway on a 3-node cluster, {_label(cell)}: {_ratio(cell.rps, base.rps)} the standalone "
                         f"gateway's {cell.kind} req/s, {cell.errors} errors of {cell.requests}")
    return lines


def print_report(report: Report) -> None:
    settings = report.settings
    print(f"wrk -c{settings['concurrency']}, {settings['duration_s']} s per cell "
          f"({settings['latency_duration_s']} s at +{settings['delay_ms']} ms), {settings['workers']} worker(s) "
          f"per server, canned upstream, Redis {settings['redis']}; CPU is each server's whole process tree")
    print(_HEADER)
    for cell in report.cells:
        print(_row(cell))
    print()
    for line in _comparisons(report):
        print(line)
