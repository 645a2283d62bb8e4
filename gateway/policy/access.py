"""Which models and tasks an org may use: fnmatch globs over model ids, `task:<name>` entries for tasks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from gateway.policy.model_ids import split_variant

TASK_PREFIX = "task:"
GLOB_CHARS = frozenset("*?[")


def is_literal(pattern: str) -> bool:
    return not GLOB_CHARS.intersection(pattern)


def _matches(subjects: Iterable[str], patterns: tuple[str, ...]) -> bool:
    return any(fnmatchcase(subject, pattern) for subject in subjects for pattern in patterns)


@dataclass(frozen=True)
class AccessRules:
    """Allow and deny lists; deny wins over allow."""

    allow: tuple[str, ...]
    deny: tuple[str, ...]

    @lru_cache(maxsize=4096)  # noqa: B019 - rules live as long as their policy; bounded, so junk ids cannot grow it
    def permits_model(self, model: str) -> bool:
        # A variant is the same model served another way, so `openai/gpt-5` rules also cover `openai/gpt-5:nitro`;
        # rules naming the variant (`*:free`) still match the full id.
        base, _ = split_variant(model)
        subjects = (model,) if base == model else (model, base)
        return _matches(subjects, self.allow) and not _matches(subjects, self.deny)

    def permits_task(self, task: str) -> bool:
        subject = (f"{TASK_PREFIX}{task}",)
        return _matches(subject, self.allow) and not _matches(subject, self.deny)
