"""Holds the current Policy and swaps it on change (file poll or SIGHUP); an invalid file never replaces a valid one."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog

from gateway.policy.errors import PolicyError
from gateway.policy.loader import load_policy
from gateway.policy.policy import Policy

log = structlog.get_logger(__name__)

# (inode, mtime, size): inode catches atomic rename-into-place (how Kubernetes updates ConfigMaps) even
# when mtime and size happen to match.
FileSignature = tuple[int, int, int]


def _signature(path: Path) -> FileSignature | None:
    try:
        stat = path.stat()
    except OSError:
        return None  # mid-replace or removed: keep serving the current policy
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


class PolicyStore:
    def __init__(self, path: str | Path | None, *, poll_interval_s: float = 2.0) -> None:
        """Load the file now; a bad file at startup raises PolicyError, since there is no good policy to keep."""
        self.path = Path(path) if path is not None else None
        self.poll_interval_s = poll_interval_s
        self._signature: FileSignature | None = None
        if self.path is None:
            self._current = Policy.empty()
        else:
            self._signature = _signature(self.path)
            self._current = load_policy(self.path)

    @property
    def current(self) -> Policy:
        return self._current

    def reload(self) -> bool:
        """Re-read the file. True if the new policy is now in use; False (old policy kept) if it was invalid."""
        if self.path is None:
            return True  # the built-in policy never changes
        self._signature = _signature(self.path)
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            log.error("policy_reload_failed", file=exc.file, problems=exc.lines())
            return False
        self._current = policy
        document = policy.document
        log.info("policy_reloaded", file=policy.source, tasks=len(document.tasks), aliases=len(document.aliases),
                 orgs=len(document.orgs))
        return True

    async def watch(self) -> None:
        """Poll the file and reload when it changes; runs until cancelled."""
        if self.path is None:
            return
        path = self.path
        while True:
            await asyncio.sleep(self.poll_interval_s)
            signature = await asyncio.to_thread(_signature, path)
            if signature is not None and signature != self._signature:
                await asyncio.to_thread(self.reload)

    def install_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        """`kill -HUP <pid>` reloads at once, for ops who do not want to wait for the poll."""
        loop.add_signal_handler(signal.SIGHUP, self.reload)

    def remove_sighup(self, loop: asyncio.AbstractEventLoop) -> None:
        loop.remove_signal_handler(signal.SIGHUP)

