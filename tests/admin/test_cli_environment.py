"""The admin commands' configuration errors: one clear line and a meaningful exit code, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.policy import Policy
from tests.admin.conftest import Cli
from tests.servers import free_port


def test_missing_redis_url_exits_2_with_a_message(cli: Cli) -> None:
    done = cli("budget", "show", "acme", env={"REDIS_URL": None})
    assert done.returncode == 2
    assert "REDIS_URL is not set" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_unreachable_redis_is_a_clean_error(cli: Cli) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    for args in (("budget", "show", "acme"), ("limits", "set", "acme", "--rpm", "5"), ("usage", "acme", "--json")):
        done = cli(*args, env={"REDIS_URL": url})
        assert done.returncode == 1, args
        assert done.stderr.startswith("error: cannot reach Redis at redis://:***@127.0.0.1:"), done.stderr
        assert "s3cret" not in done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_unusable_redis_url_exits_2(cli: Cli) -> None:
    done = cli("budget", "list", env={"REDIS_URL": "http://not-redis"})
    assert done.returncode == 2
    assert "not a usable Redis URL" in done.stderr and "Traceback" not in done.stderr


def test_without_a_policy_file_defaults_are_the_built_in_policy(cli: Cli) -> None:
    built_in = Policy.empty().org_settings("acme")
    view = json.loads(cli("limits", "show", "acme", "--json", env={"GATEWAY_POLICY_FILE": None}).stdout)
    assert view["rpm"] == {"override": None, "default": built_in.rpm, "effective": built_in.rpm}
    assert view["rpm"]["default"] != 60  # not the test policy's value


def test_invalid_policy_file_is_reported(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orgs:\n  acme:\n    rpm: -3\n")
    done = cli("budget", "show", "acme", env={"GATEWAY_POLICY_FILE": str(bad)})
    assert done.returncode == 2
    assert "GATEWAY_POLICY_FILE is invalid" in done.stderr and "rpm" in done.stderr
    assert "Traceback" not in done.stderr
