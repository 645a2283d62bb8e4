"""The simulator's state object: created once per app by the factory, never a module global."""

from __future__ import annotations

import hashlib
import os
import time

from gateway.sim.config import SimConfig
from gateway.sim.errors import SimError
from gateway.sim.faults import FaultBook
from gateway.sim.ledger import Ledger
from gateway.sim.registry import Registry


class SimState:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.registry = Registry()
        self.ledger = Ledger(config.credits_usd)
        self.faults = FaultBook(config.seed)

    def reset(self) -> None:
        self.ledger.reset(self.config.credits_usd)
        self.faults.clear()
        self.faults.reseed(self.config.seed)
        self.registry.remove_added()

    def generation_id(self) -> str:
        """`gen-<unix>-<20 alnum>`; hex digits are alphanumeric and far cheaper than sampling characters."""
        return f"gen-{int(time.time())}-{os.urandom(10).hex()}"

    def authenticate(self, authorization: str | None) -> str:
        """The API key of a request, or the 401 OpenRouter answers (OPENROUTER.md §4.2)."""
        scheme, _, key = (authorization or "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise SimError(401, "No auth credentials found")
        allowed = self.config.api_keys
        if (allowed is None and not key.startswith("sk-or-")) or (allowed is not None and key not in allowed):
            raise SimError(401, "User not found.")
        return key


def user_id_for(key: str | None) -> str:
    """A stable Clerk-style user id per API key, as OpenRouter puts at the top level of errors."""
    digest = hashlib.blake2b((key or "anonymous").encode(), digest_size=12).hexdigest()
    return "user_" + digest.upper()[:27]
