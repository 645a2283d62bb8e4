"""Label values for /metrics: a fixed, safe vocabulary whatever clients send.

Every distinct label value is a new series kept for the life of the process (and in every multiprocess file), so a
value a client controls must never become a label as it is: 1,000 made-up `:variant` suffixes would be 1,000 series,
and a token pasted into a model id would be printed on /metrics. Model ids are kept only when the catalogue lists
them (with one of OpenRouter's known variants at most); everything else, and any value outside a plain charset or
holding something secret-looking, is folded into `other`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container

from gateway.log import redact_text
from gateway.policy.model_ids import VARIANTS

OTHER = "other"
MAX_LABEL_CHARS = 100
_SAFE = re.compile(rf"[A-Za-z0-9._:/@+~-]{{1,{MAX_LABEL_CHARS}}}")

# The catalogue's model ids right now, or None before it has been fetched.
KnownModels = Callable[[], Container[str] | None]


def safe_label(value: str) -> str:
    """`value` when it is short, plain and holds nothing secret-looking; else `other`."""
    if _SAFE.fullmatch(value) is None or redact_text(value) != value:
        return OTHER
    return value


class ModelLabels:
    """Folds model ids into the catalogue's vocabulary. Without a catalogue (unit tests, the CLI) only the charset
    and secret rules apply; with one whose snapshot is not fetched yet, every model is `other` until it is."""

    def __init__(self, known_models: KnownModels | None = None) -> None:
        self._known_models = known_models

    def use_catalogue(self, known_models: KnownModels) -> None:
        """Wired once by the app factory, after the catalogue exists (metrics are built first)."""
        self._known_models = known_models

    def label(self, model: str | None) -> str:
        if not model:
            return OTHER
        if self._known_models is None:
            return safe_label(model)
        known = self._known_models()
        if known is None:
            return OTHER
        if model in known:
            return safe_label(model)
        base, sep, variant = model.rpartition(":")
        if sep and variant in VARIANTS and base in known:
            return safe_label(model)
        return OTHER
