from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gateway.policy.cli import add_validate_arguments, run_validate

DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gateway policy validate")
    add_validate_arguments(parser)
    return parser.parse_args(argv)


def test_valid_policy_prints_a_summary_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(_args(str(DEFAULT_POLICY))) == 0
    out, err = capsys.readouterr()
    assert out == "ok: 4 tasks, 6 aliases, 1 orgs\n"
    assert err == ""


def test_invalid_policy_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("tasks:\n  planner: {primary: openai/gpt-5, max_cost_usd: 0}\nretry: {max_attempts: -1}\n")
    assert run_validate(_args(str(path))) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"{path}: tasks.planner.max_cost_usd: must be > 0, got 0 (line 2)",
        f"{path}: retry.max_attempts: must be > 0, got -1 (line 3)",
    ]


def test_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_validate(_args(str(tmp_path / "nope.yaml"))) == 1
    assert "cannot read policy file" in capsys.readouterr().err


def test_file_argument_is_required() -> None:
    with pytest.raises(SystemExit):
        _args()
