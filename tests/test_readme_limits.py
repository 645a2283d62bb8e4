"""The README's "Limits and timeouts" table names real settings with their real defaults."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def _limits_table() -> dict[str, str]:
    section = README.read_text().split("## Limits and timeouts", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `GATEWAY_([A-Z_]+)` \| `([^`]*)` \|", section, re.MULTILINE))


def test_every_limit_in_the_table_is_a_setting_with_that_default() -> None:
    table = _limits_table()
    assert {"HEADER_TIMEOUT_S", "BODY_TIMEOUT_S", "MAX_HEADER_BYTES", "MAX_HEADERS", "MAX_CONCURRENT_REQUESTS",
            "KEEP_ALIVE_TIMEOUT_S", "LEDGER_MAXLEN", "LEDGER_MAX_AGE_S", "LEDGER_DEDUPE_TTL_S"} <= set(table)
    defaults = Settings.model_fields
    for name, documented in table.items():
        default = defaults[name.lower()].default
        assert float(documented) == float(default), (name, documented, default)
