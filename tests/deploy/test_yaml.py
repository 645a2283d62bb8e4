"""Every YAML file of the deployment parses (multi-document files included) and is not empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.files import COMPOSE_FILE, DEPLOY, ROOT, load_all, yaml_files


def test_the_deployment_files_are_all_found() -> None:
    found = {path.relative_to(ROOT).as_posix() for path in yaml_files()}
    for expected in ("docker-compose.yml", "deploy/prometheus/alerts.yml", "deploy/k8s/base/kustomization.yaml",
                     "deploy/k8s/overlays/dev/kustomization.yaml", "deploy/k8s/overlays/prod/kustomization.yaml"):
        assert expected in found


@pytest.mark.parametrize("path", yaml_files(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_yaml_parses(path: Path) -> None:
    docs = load_all(path)
    assert docs, f"{path} is empty"
    assert all(isinstance(doc, dict) for doc in docs)


def test_no_tabs_or_trailing_whitespace() -> None:
    for path in [COMPOSE_FILE, *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert line == line.rstrip(), f"{path}:{number} trailing whitespace"
            assert "\t" not in line or path.suffix == ".json", f"{path}:{number} tab"
