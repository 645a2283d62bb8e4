"""Whether a process still runs: files named after a pid (spool files, multiprocess metrics) outlive their process."""

from __future__ import annotations

import os


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
