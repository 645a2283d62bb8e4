"""The provisioned Grafana dashboard: valid JSON, the provisioned datasource, only exported metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.deploy.files import DEPLOY, load
from tests.deploy.metric_names import problems

DASHBOARD = DEPLOY / "grafana/dashboards/gateway.json"
PROVISIONING = DEPLOY / "grafana/provisioning"


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def targets() -> list[dict[str, Any]]:
    return [target for panel in panels() for target in panel["targets"]]


def test_dashboard_is_well_formed() -> None:
    board = dashboard()
    assert board["uid"] and board["title"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert {"h", "w", "x", "y"} <= panel["gridPos"].keys() and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
    for panel in panels():
        assert panel["title"] and panel["targets"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids))


def test_dashboard_uses_the_provisioned_datasource() -> None:
    datasource = load(PROVISIONING / "datasources/prometheus.yml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}


def test_dashboard_provider_points_at_the_mounted_directory() -> None:
    provider = load(PROVISIONING / "dashboards/gateway.yml")["providers"][0]
    compose = load(DEPLOY.parent / "docker-compose.yml")["services"]["grafana"]["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in compose


@pytest.mark.parametrize("target", targets(), ids=lambda target: target["expr"][:60])
def test_panel_uses_only_exported_metrics(target: dict[str, Any]) -> None:
    assert problems(target["expr"]) == []


@pytest.mark.parametrize("metric", [
    "gateway_requests_total",  # requests and errors
    "gateway_overhead_seconds_bucket",
    "gateway_time_to_first_token_seconds_bucket",
    "gateway_tokens_total",
    "gateway_cost_usd_total",
    "gateway_budget_utilisation_ratio",
    "gateway_circuit_state",
    "gateway_store_degraded",
])
def test_dashboard_covers(metric: str) -> None:
    assert any(metric in target["expr"] for target in targets())


def test_dashboard_shows_the_error_ratio() -> None:
    assert any('status=~"5.."' in target["expr"] for target in targets())
