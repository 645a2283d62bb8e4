"""`gateway budget ...` and `gateway limits ...` as a user runs them: a real process against the test Redis."""

from __future__ import annotations

import json

from gateway.limits import Settlement
from tests.admin.conftest import Cli, record_spend


def table_row(output: str, first_cell: str) -> list[str]:
    """The cells of the table line starting with `first_cell` (cells are separated by runs of spaces)."""
    for line in output.splitlines():
        cells = line.split()
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{output}")


def test_budget_set_then_show_as_json(cli: Cli) -> None:
    done = cli("budget", "set", "acme", "--daily-usd", "5.5", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(cli("budget", "show", "acme", "--json").stdout)
    assert json.loads(done.stdout) == shown
    assert list(shown) == ["org", "daily_usd", "monthly_usd", "reserved_usd", "reservations"]
    daily, monthly = shown["daily_usd"], shown["monthly_usd"]
    assert (daily["override"], daily["default"], daily["effective"]) == (5.5, 10.0, 5.5)
    assert (monthly["override"], monthly["default"], monthly["effective"]) == (None, 200.0, 200.0)
    assert len(daily["period"]) == 10 and daily["period"].startswith(monthly["period"])
    assert (daily["spent_usd"], daily["percent_used"]) == (0.0, 0.0)
    assert (shown["reserved_usd"], shown["reservations"]) == (0.0, 0)


def test_budget_show_table_has_override_default_effective_spent_and_percent(cli: Cli, clean_redis: str) -> None:
    assert cli("budget", "set", "acme", "--daily-usd", "4", "--monthly-usd", "0.123456").returncode == 0
    record_spend(clean_redis, [Settlement("r1", "acme", "alice", "openai/gpt-4o", 1.0, 100)])
    done = cli("budget", "show", "acme")
    assert done.returncode == 0, done.stderr
    assert table_row(done.stdout, "period")[2:] == ["override", "default", "effective", "spent", "used"]
    assert table_row(done.stdout, "daily")[2:] == ["4.0000", "10.0000", "4.0000", "1.0000", "25.0%"]
    assert table_row(done.stdout, "monthly")[2:] == ["0.123456", "200.0000", "0.123456", "1.0000", "810.0%"]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("period"))
    daily = next(line for line in lines if line.startswith("daily"))
    # Numbers are right-aligned under their (right-aligned) titles.
    assert header.index("override") + len("override") == daily.index("4.0000") + len("4.0000")


def test_setting_one_budget_keeps_the_other_and_none_clears(cli: Cli) -> None:
    cli("budget", "set", "acme", "--daily-usd", "3", "--monthly-usd", "90")
    cli("budget", "set", "acme", "--daily-usd", "7")
    view = json.loads(cli("budget", "show", "acme", "--json").stdout)
    assert (view["daily_usd"]["override"], view["monthly_usd"]["override"]) == (7.0, 90.0)
    cleared = json.loads(cli("budget", "set", "acme", "--monthly-usd", "none", "--json").stdout)
    assert cleared["monthly_usd"] == {
        "override": None, "default": 200.0, "effective": 200.0, "period": cleared["monthly_usd"]["period"],
        "spent_usd": 0.0, "percent_used": 0.0,
    }
    assert cleared["daily_usd"]["override"] == 7.0


def test_zero_budget_is_a_valid_freeze(cli: Cli) -> None:
    view = json.loads(cli("budget", "set", "acme", "--daily-usd", "0", "--json").stdout)
    assert view["daily_usd"]["effective"] == 0.0
    assert view["daily_usd"]["percent_used"] is None


def test_budget_list_covers_overrides_and_policy_orgs(cli: Cli) -> None:
    cli("budget", "set", "zeta", "--daily-usd", "2.25")
    listing = json.loads(cli("budget", "list", "--json").stdout)
    assert [view["org"] for view in listing["orgs"]] == ["acme", "policy-only", "zeta"]
    by_org = {view["org"]: view for view in listing["orgs"]}
    assert by_org["zeta"]["daily_usd"]["override"] == 2.25
    assert by_org["policy-only"]["monthly_usd"]["effective"] == 30.0
    table = cli("budget", "list").stdout
    assert table_row(table, "zeta")[1:3] == ["2.2500", "2.2500"]
    assert table_row(table, "acme")[1:3] == ["-", "10.0000"]


def test_budget_reset_drops_budget_overrides_but_keeps_limits_and_spend(cli: Cli, clean_redis: str) -> None:
    cli("budget", "set", "acme", "--daily-usd", "1", "--monthly-usd", "2")
    cli("limits", "set", "acme", "--rpm", "7")
    record_spend(clean_redis, [Settlement("r1", "acme", "alice", "m", 0.5, 10)])
    view = json.loads(cli("budget", "reset", "acme", "--json").stdout)
    assert (view["daily_usd"]["override"], view["monthly_usd"]["override"]) == (None, None)
    assert view["daily_usd"]["effective"] == 10.0
    assert view["daily_usd"]["spent_usd"] == 0.5
    assert json.loads(cli("limits", "show", "acme", "--json").stdout)["rpm"]["override"] == 7


def test_limits_set_show_clear_and_reset(cli: Cli) -> None:
    done = cli("limits", "set", "acme", "--rpm", "10", "--max-concurrent", "3", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "org": "acme",
        "rpm": {"override": 10, "default": 60, "effective": 10},
        "tpm": {"override": None, "default": 50000, "effective": 50000},
        "max_concurrent": {"override": 3, "default": None, "effective": 3},
    }
    table = cli("limits", "show", "acme").stdout
    assert table_row(table, "rpm")[1:] == ["10", "60", "10"]
    assert table_row(table, "max_concurrent")[1:] == ["3", "-", "3"]
    cleared = json.loads(cli("limits", "set", "acme", "--rpm", "none", "--tpm", "9", "--json").stdout)
    assert (cleared["rpm"]["override"], cleared["tpm"]["override"], cleared["max_concurrent"]["override"]) == (
        None, 9, 3,
    )
    reset = json.loads(cli("limits", "reset", "acme", "--json").stdout)
    assert [reset[name]["override"] for name in ("rpm", "tpm", "max_concurrent")] == [None, None, None]
    assert reset["rpm"]["effective"] == 60


def test_invalid_values_are_usage_errors(cli: Cli) -> None:
    cases = [
        (("budget", "set", "acme", "--daily-usd", "-1"), "--daily-usd"),
        (("budget", "set", "acme", "--monthly-usd", "lots"), "--monthly-usd"),
        (("budget", "set", "acme", "--daily-usd", "nan"), "--daily-usd"),
        (("limits", "set", "acme", "--rpm", "0"), "--rpm"),
        (("limits", "set", "acme", "--tpm", "1.5"), "--tpm"),
        (("usage", "acme", "--since", "18-06-2025"), "--since"),
        (("budget", "set", "acme"), "at least one option"),
        (("limits", "set", "acme"), "at least one option"),
    ]
    for args, expected in cases:
        done = cli(*args)
        assert done.returncode == 2, args
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert json.loads(cli("budget", "show", "acme", "--json").stdout)["daily_usd"]["override"] is None
