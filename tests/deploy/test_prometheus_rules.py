"""Alert rules: the structure Prometheus requires, and only metrics and labels the gateway really exports."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.deploy.files import DEPLOY, load
from tests.deploy.metric_names import exported_series, problems

ALERTS = DEPLOY / "prometheus/alerts.yml"
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
SEVERITIES = {"info", "warning", "critical"}


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(ALERTS)["groups"] for rule in group["rules"]]


def test_groups_are_well_formed() -> None:
    groups = load(ALERTS)["groups"]
    names = [group["name"] for group in groups]
    assert len(names) == len(set(names))
    for group in groups:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        assert group["rules"]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_rule_is_well_formed(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
    assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"])
    assert isinstance(rule["expr"], str) and rule["expr"].strip()
    assert rule["expr"].count("(") == rule["expr"].count(")")
    if "for" in rule:
        assert DURATION.match(rule["for"])
    assert rule["labels"]["severity"] in SEVERITIES
    assert rule["annotations"]["summary"]
    assert all(isinstance(value, str) for value in {**rule["labels"], **rule["annotations"]}.values())


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_rule_uses_only_exported_metrics(rule: dict[str, Any]) -> None:
    assert problems(rule["expr"]) == []


def test_alert_names_are_unique() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("metric", "condition"), [
    ("gateway_requests_total", 'status=~"5.."'),
    ("gateway_budget_utilisation_ratio", "> 0.8"),
    ("gateway_circuit_state", "== 2"),
    ("gateway_store_degraded", "== 1"),
    ("gateway_overhead_seconds_bucket", "histogram_quantile(0.99"),
])
def test_required_alerts_exist(metric: str, condition: str) -> None:
    assert any(metric in rule["expr"] and condition in rule["expr"] for rule in rules()), (metric, condition)


def test_the_checker_knows_the_gateway_metrics() -> None:
    """Guards the guard: a checker that knew no metrics would pass every rule."""
    series = exported_series()
    assert {"gateway_requests_total", "gateway_overhead_seconds_bucket", "gateway_store_degraded"} <= series.keys()
    assert {"org", "period"} <= series["gateway_budget_utilisation_ratio"]
    assert problems("rate(gateway_no_such_metric_total[5m])") == ["unknown metric gateway_no_such_metric_total"]
    assert problems('sum by (colour) (gateway_requests_total{flavour="x"})') == [
        "gateway_requests_total has no label 'flavour'",
        "grouping by 'colour', which none of ['gateway_requests_total'] has",
    ]
