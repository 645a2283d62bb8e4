"""`gateway usage ORG`: spend recorded through the limiter, per model and per day, optionally since a date."""

from __future__ import annotations

import json

import pytest

from gateway.limits import Settlement
from tests.admin.conftest import Cli, record_spend
from tests.admin.test_cli_budget import table_row

SPEND = [
    Settlement("r1", "acme", "alice", "openai/gpt-4o", 0.25, 100),
    Settlement("r2", "acme", "bob", "anthropic/claude-sonnet-4", 1.5, 300),
    Settlement("r3", "acme", "alice", "openai/gpt-4o", 0.000125, 10),
    Settlement("r3", "acme", "alice", "openai/gpt-4o", 0.000125, 10),  # a replay: settles once
    Settlement("o1", "other", "eve", "openai/gpt-4o", 9.0, 10),  # another org's spend never shows
]
PAST = {"2020-01-15": 2.0, "2020-03-01": 0.5}


@pytest.fixture
def spent(cli: Cli, clean_redis: str) -> Cli:
    record_spend(clean_redis, SPEND, past_days=PAST)
    return cli


def test_usage_json_has_totals_by_model_and_by_day(spent: Cli) -> None:
    done = spent("usage", "acme", "--json")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    today = view["day"]
    assert list(view) == [
        "org", "day", "month", "since", "today_usd", "month_usd", "reserved_usd", "reservations", "total_usd",
        "by_model", "by_day",
    ]
    assert view["org"] == "acme" and view["since"] is None
    assert view["today_usd"] == pytest.approx(1.750125)
    assert view["month_usd"] == pytest.approx(1.750125)
    # Most expensive model first.
    assert list(view["by_model"].items()) == [
        ("anthropic/claude-sonnet-4", 1.5), ("openai/gpt-4o", pytest.approx(0.250125)),
    ]
    assert view["by_day"] == {"2020-01-15": 2.0, "2020-03-01": 0.5, today: pytest.approx(1.750125)}
    assert view["total_usd"] == pytest.approx(4.250125)


def test_usage_since_filters_days(spent: Cli) -> None:
    view = json.loads(spent("usage", "acme", "--since", "2020-02-01", "--json").stdout)
    assert view["since"] == "2020-02-01"
    assert list(view["by_day"]) == ["2020-03-01", view["day"]]
    assert view["total_usd"] == pytest.approx(2.250125)
    # The month totals do not depend on --since.
    assert view["month_usd"] == pytest.approx(1.750125)


def test_usage_table_by_model_and_by_day(spent: Cli) -> None:
    both = spent("usage", "acme", "--since", "2020-03-01")
    assert both.returncode == 0, both.stderr
    assert table_row(both.stdout, "anthropic/claude-sonnet-4")[1:] == ["1.5000", "85.7%"]
    assert table_row(both.stdout, "openai/gpt-4o")[1:] == ["0.250125", "14.3%"]
    assert table_row(both.stdout, "2020-03-01")[1:] == ["0.5000"]
    assert table_row(both.stdout, "total")[1:] == ["2.250125"]
    assert "2020-01-15" not in both.stdout

    by_model = spent("usage", "acme", "--by", "model").stdout
    assert "openai/gpt-4o" in by_model and "2020-01-15" not in by_model
    by_day = spent("usage", "acme", "--by", "day").stdout
    assert table_row(by_day, "2020-01-15")[1:] == ["2.0000"]
    assert "openai/gpt-4o" not in by_day


def test_budget_show_reports_spend_against_the_budget(spent: Cli) -> None:
    view = json.loads(spent("budget", "show", "acme", "--json").stdout)
    assert view["daily_usd"]["spent_usd"] == pytest.approx(1.750125)
    assert view["daily_usd"]["percent_used"] == pytest.approx(17.5, abs=0.01)
    assert view["monthly_usd"]["percent_used"] == pytest.approx(0.88, abs=0.01)


def test_usage_of_an_org_without_spend(cli: Cli) -> None:
    view = json.loads(cli("usage", "nobody", "--json").stdout)
    assert (view["today_usd"], view["total_usd"], view["by_model"], view["by_day"]) == (0.0, 0.0, {}, {})
    assert "no spend this month" in cli("usage", "nobody").stdout
