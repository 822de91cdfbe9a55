"""A leader lease in the store: the one replica holding it does a job that must run once."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import timedelta

from crm_store.store import Store

_LOGGER = logging.getLogger(__name__)


def default_holder() -> str:
    """Host, process and a random part: unique per process, readable by an operator."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class LeaderLease:
    """``hold()`` takes or renews the lease and says whether this process holds it. Renewal
    writes at most every third of ``ttl``, so a holder that stops renewing (it died or lost the
    store) is replaced within ``ttl``."""

    def __init__(self, store: Store, name: str, *, ttl: float = 30.0, holder: str | None = None) -> None:
        self.store = store
        self.name = name
        self.ttl = ttl
        self.holder = holder or default_holder()
        self._renewed_at: float | None = None  # monotonic time of the last successful write

    @property
    def retry_seconds(self) -> float:
        """How often a follower asks again."""
        return self.ttl / 3

    async def hold(self) -> bool:
        now = time.monotonic()
        if self._renewed_at is not None and now - self._renewed_at < self.ttl / 3:
            return True
        async with self.store.write(f"lease:{self.name}") as tx:
            held = await tx.leases.acquire(self.name, holder=self.holder, ttl=timedelta(seconds=self.ttl))
        if held and self._renewed_at is None:
            _LOGGER.info("lease %s: taken by this process", self.name)
        if not held and self._renewed_at is not None:
            _LOGGER.warning("lease %s: lost to another process", self.name)
        self._renewed_at = now if held else None
        return held

    async def release(self) -> None:
        if self._renewed_at is None:
            return
        self._renewed_at = None
        async with self.store.write(f"lease:{self.name}") as tx:
            await tx.leases.release(self.name, holder=self.holder)
        _LOGGER.info("lease %s: released", self.name)
