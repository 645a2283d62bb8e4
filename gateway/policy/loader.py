"""Read a policy file (YAML or JSON) into a Policy, with every problem reported as `file: path: problem`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from gateway.policy.errors import PolicyError
from gateway.policy.policy import Policy
from gateway.policy.schema import PolicyDocument
from gateway.policy.validation import problems_from
from gateway.policy.yaml_source import parse_yaml


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    parsed = parse_yaml(text, source)
    data = {} if parsed.data is None else parsed.data  # an empty file is the all-defaults policy
    if not isinstance(data, dict):
        raise PolicyError.single(source, "", f"expected a mapping at the top level, got {type(data).__name__}")
    try:
        document = PolicyDocument.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, problems_from(exc, PolicyDocument, parsed)) from exc
    return Policy(document, source, line_of=parsed.line_of)


def load_policy(path: str | Path) -> Policy:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError.single(source, "", f"cannot read policy file: {exc}") from exc
    return parse_policy(text, source)
