"""A tiny aligned-table renderer for the admin commands: text left, numbers right, money to 4–6 decimals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "int", "usd", "percent"]
Cell = str | int | float | None

# Placeholder for "nothing here" (no budget, no limit): distinct from a real zero.
EMPTY = "-"
GAP = "  "


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = "text"

    @property
    def numeric(self) -> bool:
        return self.kind != "text"


def format_usd(value: float) -> str:
    """At least 4 decimals (cents read naturally), at most 6 (sub-cent token prices still show)."""
    text = f"{value:.6f}"
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(4, '0')}"


def format_cell(value: Cell, kind: Kind) -> str:
    if value is None:
        return EMPTY
    if kind == "usd":
        return format_usd(float(value))
    if kind == "percent":
        return f"{float(value):.1f}%"
    if kind == "int":
        return str(int(value))
    return str(value)


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> str:
    """Header, a dashed rule, then one line per row; trailing spaces stripped so output diffs cleanly."""
    cells = [[format_cell(value, column.kind) for value, column in zip(row, columns, strict=True)] for row in rows]
    widths = [max([len(column.title), *(len(row[i]) for row in cells)]) for i, column in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if column.numeric else value.ljust(width)
            for value, width, column in zip(values, widths, columns, strict=True)
        ]
        return GAP.join(parts).rstrip()

    out = [line([column.title for column in columns]), line(["-" * width for width in widths])]
    out.extend(line(row) for row in cells)
    return "\n".join(out)
