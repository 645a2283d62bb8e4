"""The policy's `totals` section: which tag keys settlement totals, and for how long."""

from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, parse_policy


def _parse(text: str):  # type: ignore[no-untyped-def]
    return parse_policy(textwrap.dedent(text), "policies/x.yaml")


def test_totalled_tags_reach_every_orgs_settings() -> None:
    policy = _parse("""\
        orgs:
          acme: {rpm: 5}
        totals:
          tags: [run_id, session_id, episode_id]
          retention_days: 7
        """)
    for org in ("acme", "someone-else"):
        settings = policy.org_settings(org)
        assert settings.totalled_tags == ("run_id", "session_id", "episode_id")
        assert settings.tag_retention_s == 7 * 86_400


def test_no_totals_section_totals_nothing() -> None:
    assert _parse("orgs: {}\n").org_settings("acme").totalled_tags == ()


@pytest.mark.parametrize(("text", "path"), [
    ("totals:\n  tags: [run_id, run_id]\n", "totals.tags"),
    ("totals:\n  tags: ['']\n", "totals.tags[0]"),
    ("totals:\n  tags: [a, b, c, d, e, f, g, h, i]\n", "totals.tags"),
    ("totals:\n  retention_days: 0\n", "totals.retention_days"),
    ("totals:\n  tag: [run_id]\n", "totals.tag"),
])
def test_bad_totals_are_refused_with_their_path(text: str, path: str) -> None:
    with pytest.raises(PolicyError) as info:
        _parse(text)
    assert info.value.path == path
