from __future__ import annotations

import textwrap

import pytest

from gateway.policy import PolicyError, parse_policy


def _error(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        parse_policy(textwrap.dedent(text), "policies/x.yaml")
    return info.value


def test_negative_cost_names_file_path_problem_and_line() -> None:
    error = _error("""\
        tasks:
          planner:
            primary: openai/gpt-5
            max_cost_usd: -0.5
        """)
    assert (error.file, error.path, error.problem) == ("policies/x.yaml", "tasks.planner.max_cost_usd",
                                                        "must be > 0, got -0.5")
    assert str(error) == "policies/x.yaml: tasks.planner.max_cost_usd: must be > 0, got -0.5 (line 4)"


def test_unknown_key_suggests_the_close_match() -> None:
    error = _error("""\
        tasks:
          planner:
            primary: openai/gpt-5
            fallback: [openai/gpt-4o]
        """)
    assert error.path == "tasks.planner.fallback"
    assert error.problem.startswith("unknown key (did you mean 'fallbacks'?); allowed: primary, fallbacks,")
    assert error.problems[0].line == 4


def test_unknown_top_level_key() -> None:
    error = _error("alias: {fast: openai/gpt-4o-mini}\n")
    assert error.path == "alias"
    assert "did you mean 'aliases'?" in error.problem


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("orgs: {acme: {rpm: '100'}}", "orgs.acme.rpm", "expected an integer, got string '100'"),
        ("orgs: {acme: {rpm: true}}", "orgs.acme.rpm", "expected an integer, got boolean True"),
        ("defaults: {rpm: 1.5}", "defaults.rpm", "expected an integer, got number 1.5"),
        ("tasks: {p: {primary: a/b, fallbacks: a/c}}", "tasks.p.fallbacks", "expected a list, got string 'a/c'"),
        ("tasks: [planner]", "tasks", "expected a mapping, got list ['planner']"),
        ("tasks: {p: {primary: a/b, params: {model: x/y}}}", "tasks.p.params",
         "model cannot be set by a task (the gateway sets it)"),
        ("tasks: {p: {fallbacks: [a/b]}}", "tasks.p.primary", "required"),
        ("tasks: {p: {primary: ''}}", "tasks.p.primary", "must not be empty"),
        ("retry: {max_attempts: 0}", "retry.max_attempts", "must be > 0, got 0"),
        ("retry: {budget_ratio: 1.5}", "retry.budget_ratio", "must be <= 1, got 1.5"),
        ("circuit_breaker: {failure_rate: 0}", "circuit_breaker.failure_rate", "must be > 0, got 0"),
        ("upstream_fallbacks: nat", "upstream_fallbacks", "must be 'gateway' or 'native', got 'nat'"),
        ("defaults: {max_completion_tokens: null}", "defaults.max_completion_tokens",
         "must be a positive integer (null is not allowed: it sizes budget reservations)"),
    ],
)
def test_schema_errors_are_precise(text: str, path: str, problem: str) -> None:
    error = _error(text)
    assert len(error.problems) == 1
    assert (error.path, error.problem) == (path, problem)
    assert str(error) == f"policies/x.yaml: {path}: {problem} (line 1)"


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ("tasks: {p: {primary: a/b, fallbacks: [a/c, nope]}}", "tasks.p.fallbacks[1]",
         "unknown alias 'nope' (model ids look like 'provider/model')"),
        ("tasks: {p: {primary: nope}}", "tasks.p.primary",
         "unknown alias 'nope' (model ids look like 'provider/model')"),
        ("tasks: {p: {primary: a/b, pin: [temperature]}}", "tasks.p.pin[0]",
         "pinned parameter 'temperature' has no value in params"),
        ("aliases: {fast: gpt4}", "aliases.fast",
         "must be an OpenRouter model id like 'openai/gpt-4o', got 'gpt4'"
         " (aliases cannot point to other aliases or tasks)"),
        ("aliases: {p: a/b}\ntasks: {p: {primary: a/c}}", "aliases.p",
         "'p' is also a task name; a request for it would be ambiguous"),
        ('tasks: {"a/b": {primary: a/c}}', 'tasks["a/b"]',
         "task names use letters, digits, '_', '-', '.' (no '/' or ':')"),
        ("orgs: {acme: {tasks: {solo: {fallbacks: [a/b]}}}}", "orgs.acme.tasks.solo.primary",
         "required (task 'solo' is not defined under tasks:)"),
        ("orgs: {acme: {allow: ['task:plannr']}}", "orgs.acme.allow[0]", "unknown task 'plannr'"),
        ("defaults: {deny: ['']}", "defaults.deny[0]", "must not be empty"),
        ("retry: {base_delay_s: 9, max_delay_s: 8}", "retry.base_delay_s", "must be <= max_delay_s (8)"),
    ],
)
def test_cross_reference_errors_are_precise(text: str, path: str, problem: str) -> None:
    error = _error(text)
    assert [(p.path, p.message) for p in error.problems] == [(path, problem)]


def test_org_override_reference_errors_point_into_the_org() -> None:
    error = _error("""\
        tasks:
          planner: {primary: openai/gpt-5}
        orgs:
          acme:
            tasks:
              planner: {fallbacks: [missing]}
        """)
    assert str(error) == ("policies/x.yaml: orgs.acme.tasks.planner.fallbacks[0]: unknown alias 'missing' "
                          "(model ids look like 'provider/model') (line 6)")


def test_all_problems_are_reported_at_once() -> None:
    error = _error("""\
        tasks:
          planner: {primary: openai/gpt-5, max_cost_usd: 0}
          critic: {primary: anthropic/claude-sonnet-4.5, timeout_s: -1}
        retry: {max_attempts: many}
        """)
    assert [p.path for p in error.problems] == ["tasks.planner.max_cost_usd", "tasks.critic.timeout_s",
                                                "retry.max_attempts"]
    assert [p.line for p in error.problems] == [2, 3, 4]
    assert str(error).count("\n") == 2


def test_yaml_syntax_error_has_line_and_column() -> None:
    error = _error("""\
        tasks:
          planner:
            primary: openai/gpt-5
           fallbacks: [a/b]
        """)
    assert error.path == "line 4, column 4"
    assert error.problem.startswith("invalid YAML: ")
    assert str(error).startswith("policies/x.yaml: line 4, column 4: invalid YAML: ")


def test_unclosed_flow_sequence_reports_where_parsing_stopped() -> None:
    error = _error("aliases: {fast: [openai/gpt-4o\n")
    assert error.path.startswith("line 2, column ")
    assert "flow sequence" in error.problem


def test_duplicate_keys_are_an_error() -> None:
    error = _error("""\
        tasks:
          planner: {primary: openai/gpt-5}
          critic: {primary: openai/gpt-4o}
          planner: {primary: openai/gpt-4o-mini}
        """)
    assert str(error) == (
        "policies/x.yaml: tasks.planner: duplicate key (an earlier entry would be silently replaced) (line 4)"
    )


def test_top_level_must_be_a_mapping() -> None:
    error = _error("- planner\n- critic\n")
    assert str(error) == "policies/x.yaml: expected a mapping at the top level, got list"


def test_python_tags_are_refused() -> None:
    error = _error("aliases: !!python/object/apply:os.system ['true']\n")
    assert "invalid YAML" in error.problem and "python/object/apply" in error.problem


def test_several_documents_are_refused() -> None:
    error = _error("aliases: {}\n---\ntasks: {}\n")
    assert "expected a single document" in error.problem
