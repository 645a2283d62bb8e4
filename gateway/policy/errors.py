"""Errors in a policy file, reported as `file: path: problem` so ops can fix them without reading code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy: where (dotted path, and the YAML line when known) and what."""

    path: str
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}: {self.path}: " if self.path else f"{file}: "
        suffix = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{self.message}{suffix}"


class PolicyError(Exception):
    """A policy file that cannot be used. Holds every problem found, not just the first, so one edit fixes all."""

    def __init__(self, file: str, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("PolicyError needs at least one problem")
        self.file = file
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    @classmethod
    def single(cls, file: str, path: str, message: str, line: int | None = None) -> PolicyError:
        return cls(file, [Problem(path, message, line)])

    @property
    def path(self) -> str:
        return self.problems[0].path

    @property
    def problem(self) -> str:
        return self.problems[0].message

    def lines(self) -> list[str]:
        return [problem.render(self.file) for problem in self.problems]

    def __str__(self) -> str:
        return "\n".join(self.lines())


def render_path(loc: Sequence[str | int]) -> str:
    """`("tasks", "planner", "fallbacks", 1)` → `tasks.planner.fallbacks[1]`; odd keys are quoted (`orgs["a.b"]`)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and all(ch.isalnum() or ch in "_-" for ch in part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out
