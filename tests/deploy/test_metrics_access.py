"""Every shipped deployment protects /metrics with GATEWAY_METRICS_TOKEN and gives Prometheus the same token."""

from __future__ import annotations

from tests.deploy.files import COMPOSE_FILE, DEPLOY, load
from tests.deploy.test_kubernetes import find, render

COMPOSE_GATEWAYS = ("gateway-1", "gateway-2")


def test_compose_gateways_and_prometheus_share_one_metrics_token() -> None:
    services = load(COMPOSE_FILE)["services"]
    tokens = {services[name]["environment"]["GATEWAY_METRICS_TOKEN"] for name in COMPOSE_GATEWAYS}
    assert len(tokens) == 1
    job = next(j for j in load(DEPLOY / "prometheus/prometheus.yml")["scrape_configs"] if j["job_name"] == "gateway")
    assert job["authorization"]["type"] == "Bearer"
    path = job["authorization"]["credentials_file"]
    mounted = {v.split(":")[1]: v.split(":")[0] for v in services["prometheus"]["volumes"] if v.startswith("./")}
    directory = next(inside for inside in mounted if path.startswith(inside + "/"))
    on_disk = COMPOSE_FILE.parent / mounted[directory] / path.removeprefix(directory + "/")
    assert on_disk.read_text().strip() == tokens.pop()


def test_kubernetes_secrets_carry_a_metrics_token_and_prometheus_sends_it() -> None:
    template = load(DEPLOY / "k8s/base/secret.example.yaml")
    assert "GATEWAY_METRICS_TOKEN" in template["stringData"]
    # Prod takes its Secret from outside (the template above); the pods read every key of it as settings.
    deployment = find(render("overlays/prod"), "Deployment", "gateway")
    sources = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": "gateway-secrets"}} in sources
    job = next(j for j in load(DEPLOY / "prometheus/kubernetes.yml")["scrape_configs"] if j["job_name"] == "gateway")
    assert job["authorization"]["credentials_file"].endswith("/GATEWAY_METRICS_TOKEN")
    assert job["kubernetes_sd_configs"][0]["role"] == "pod"  # every replica, not one random pod behind the Service
