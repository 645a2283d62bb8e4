"""How an admin command prints its result: the view itself as JSON for scripts, or its table for people."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import orjson


def emit(view: Any, *, as_json: bool, text: Callable[[Any], str]) -> None:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(view, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    else:
        print(text(view))
