"""The CI-sized headless Locust run: realistic mixed traffic against the gateway on the simulator, no failures."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from gateway.sim.app import create_sim_app
from tests.integration.processes import JWT_SECRET, replicas
from tests.servers import serve

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtests" / "locustfile.py"


def test_headless_locust_run_has_no_failures(tmp_path: Path) -> None:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or shutil.which("locust")
    assert locust, "locust is part of the test dependencies (pip install -e '.[test,load]')"
    policy = tmp_path / "policy.yaml"
    policy.write_text("defaults: {rpm: 100000, tpm: 100000000}\n")
    with serve(create_sim_app()) as sim:
        env = {
            "OPENROUTER_BASE_URL": f"{sim.url}/api/v1", "OPENROUTER_API_KEY": "sk-or-v1-locust",
            "GATEWAY_JWT_SECRET": JWT_SECRET, "GATEWAY_POLICY_FILE": str(policy), "GATEWAY_ACCESS_LOG": "false",
            "GATEWAY_SPOOL_DIR": str(tmp_path / "spool"),
        }
        with replicas(1, {**env, "REDIS_URL": ""}) as (gateway,):  # the embedded in-process store
            result = subprocess.run(
                [locust, "-f", str(LOCUSTFILE), "--headless", "-u", "10", "-r", "10", "-t", "6s",
                 "--host", gateway.url, "--csv", str(tmp_path / "run"), "--only-summary"],
                env={**os.environ, "GATEWAY_JWT_SECRET": JWT_SECRET}, capture_output=True, text=True, timeout=60,
            )
    assert result.returncode == 0, result.stderr[-3000:]
    with (tmp_path / "run_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 50
    assert int(total["Failure Count"]) == 0
    for name in ("chat json", "chat stream", "chat tools", "chat n=2", "bad request"):
        assert int(rows[name]["Request Count"]) > 0, name
