"""Views (see `views`) as tables for people; `--json` prints the views themselves."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.admin.table import Column, format_usd, render_table
from gateway.admin.views import View

LEGEND = "('-' = not set; an effective '-' means unlimited)"


def budget_text(view: View) -> str:
    columns = [
        Column("period"),
        Column("key"),
        Column("override", "usd"),
        Column("default", "usd"),
        Column("effective", "usd"),
        Column("spent", "usd"),
        Column("used", "percent"),
    ]
    rows = [
        [name, part["period"], part["override"], part["default"], part["effective"], part["spent_usd"],
         part["percent_used"]]
        for name, part in (("daily", view["daily_usd"]), ("monthly", view["monthly_usd"]))
    ]
    reserved = f"reserved: {format_usd(view['reserved_usd'])} USD in {view['reservations']} open reservation(s)"
    return "\n".join([f"budget of {view['org']} (USD)", render_table(columns, rows), reserved, LEGEND])


def budget_list_text(listing: View) -> str:
    views: Sequence[View] = listing["orgs"]
    if not views:
        return "no orgs have budget overrides or policy entries"
    columns = [
        Column("org"),
        Column("daily override", "usd"),
        Column("daily effective", "usd"),
        Column("spent today", "usd"),
        Column("used", "percent"),
        Column("monthly override", "usd"),
        Column("monthly effective", "usd"),
        Column("spent this month", "usd"),
        Column("used", "percent"),
    ]
    rows = []
    for view in views:
        daily, monthly = view["daily_usd"], view["monthly_usd"]
        rows.append([
            view["org"],
            daily["override"], daily["effective"], daily["spent_usd"], daily["percent_used"],
            monthly["override"], monthly["effective"], monthly["spent_usd"], monthly["percent_used"],
        ])
    return "\n".join([render_table(columns, rows), LEGEND])


def limits_text(view: View) -> str:
    columns = [Column("limit"), Column("override", "int"), Column("default", "int"), Column("effective", "int")]
    rows = [
        [name, view[name]["override"], view[name]["default"], view[name]["effective"]]
        for name in ("rpm", "tpm", "max_concurrent")
    ]
    return "\n".join([f"limits of {view['org']}", render_table(columns, rows), LEGEND])


def _share(part: float, whole: float) -> float | None:
    return part / whole * 100 if whole > 0 else None


def _pairs(pairs: Sequence[tuple[str, str]]) -> list[str]:
    width = max(len(label) for label, _ in pairs)
    return [f"{label.ljust(width)}  {value}" for label, value in pairs]


def usage_text(view: View, by: str | None) -> str:
    """Totals, then spend per model (this month) and/or per day (since `--since`); `by` picks one."""
    lines = [f"usage of {view['org']} (USD)"]
    lines += _pairs([
        (f"today ({view['day']})", format_usd(view["today_usd"])),
        (f"this month ({view['month']})", format_usd(view["month_usd"])),
        ("reserved", f"{format_usd(view['reserved_usd'])} in {view['reservations']} open reservation(s)"),
    ])
    if by in (None, "model"):
        month = view["month_usd"]
        rows = [[model, usd, _share(usd, month)] for model, usd in view["by_model"].items()]
        table = render_table([Column("model"), Column("spent", "usd"), Column("share", "percent")], rows)
        lines += ["", f"by model ({view['month']})", table if rows else "no spend this month"]
    if by in (None, "day"):
        rows = [[day, usd] for day, usd in view["by_day"].items()]
        rows.append(["total", view["total_usd"]])
        since = f" since {view['since']}" if view["since"] else ""
        lines += ["", f"by day{since}", render_table([Column("day"), Column("spent", "usd")], rows)]
    if view.get("tag") is not None:
        tag = view["tag"]
        lines += ["", f"tag {tag['key']}={tag['value']}", *_pairs([
            ("cost", format_usd(tag["cost_usd"])), ("tokens", str(tag["tokens"])), ("calls", str(tag["calls"]))])]
    return "\n".join(lines)
