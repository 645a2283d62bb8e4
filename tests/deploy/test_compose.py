"""docker-compose.yml against the compose-spec JSON schema (vendored in `check-jsonschema`, so offline), and
the wiring the schema cannot see: files it mounts, the balancer's SSE settings, what Prometheus scrapes."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.deploy.files import COMPOSE_FILE, DEPLOY, ROOT, load

GATEWAYS = ("gateway-1", "gateway-2")
NGINX_CONF = DEPLOY / "compose/nginx.conf"


def compose_schema() -> dict[str, Any]:
    schema = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(schema.read_text())


@pytest.mark.parametrize("path", [COMPOSE_FILE, DEPLOY / "compose/openrouter.yml"], ids=lambda p: p.name)
def test_compose_files_match_the_compose_spec(path: Path) -> None:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(load(path)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _services() -> dict[str, Any]:
    return load(COMPOSE_FILE)["services"]


def test_two_gateways_share_redis_and_use_the_simulator_by_default() -> None:
    services = _services()
    for name in GATEWAYS:
        env = services[name]["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["OPENROUTER_BASE_URL"] == "http://sim:8090/api/v1"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        # Longer than uvicorn's default graceful timeout (30 s) plus the settlement drain (10 s).
        assert int(services[name]["stop_grace_period"].rstrip("s")) > 40
    assert services["sim"]["command"][:1] == ["sim"] and "0.0.0.0" in services["sim"]["command"]
    assert services["sim"]["image"] == services["gateway-1"]["image"]


def test_switching_to_openrouter_overrides_both_gateways() -> None:
    override = load(DEPLOY / "compose/openrouter.yml")["services"]
    assert set(override) == set(GATEWAYS)
    for name in GATEWAYS:
        assert "openrouter.ai" in override[name]["environment"]["OPENROUTER_BASE_URL"]
        assert ":?" in override[name]["environment"]["OPENROUTER_API_KEY"]


def test_bind_mounted_files_exist() -> None:
    for service in _services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{source} is mounted but does not exist"


def test_nginx_balances_both_gateways_without_buffering_streams() -> None:
    conf = NGINX_CONF.read_text()
    directives = {line.strip().rstrip(";") for line in conf.splitlines() if not line.strip().startswith("#")}
    for directive in ("proxy_buffering off", "proxy_request_buffering off", "proxy_http_version 1.1", "gzip off"):
        assert directive in directives, directive
    for name in GATEWAYS:
        assert re.search(rf"server {name}:8080\b", conf)
    read_timeout = re.search(r"proxy_read_timeout (\d+)s", conf)
    assert read_timeout and int(read_timeout.group(1)) >= 600  # GATEWAY_UPSTREAM_READ_TIMEOUT_S
    assert "non_idempotent" not in conf  # a retried POST could be billed twice
    assert conf.count("{") == conf.count("}")


def test_prometheus_scrapes_every_gateway_directly() -> None:
    config = load(DEPLOY / "prometheus/prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "gateway")
    targets = {t for group in job["static_configs"] for t in group["targets"]}
    assert targets == {f"{name}:8080" for name in GATEWAYS}
    assert [Path(f).name for f in config["rule_files"]] == ["alerts.yml"]
    mounted = {v.split(":")[1] for v in _services()["prometheus"]["volumes"] if v.startswith("./deploy/prometheus")}
    assert all(f.startswith(tuple(mounted)) for f in config["rule_files"])
