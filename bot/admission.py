"""Admission for chat work: a bounded number handled at once, a bounded number waiting, and a
refusal (503 with Retry-After) beyond that instead of a queue that grows until nothing answers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

_LOGGER = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 2
LOG_EVERY_SECONDS = 10.0


class Admission:
    """One per process, shared by the front ends. ``work()`` holds one of ``workers`` places
    while a message is handled (the rest wait in arrival order); ``admit()`` is False once
    ``max_backlog`` are working or waiting: the new request is to be refused (counted, logged)."""

    def __init__(
        self,
        *,
        workers: int = 8,
        max_backlog: int = 1000,
        retry_after: int = RETRY_AFTER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers = workers
        self.max_backlog = max_backlog
        self.retry_after = retry_after
        self.clock = clock
        self.inflight = 0
        self.refusals = 0
        self._slots: asyncio.Semaphore | None = None
        self._logged_at: float | None = None
        self._unlogged = 0

    @property
    def full(self) -> bool:
        return self.inflight >= self.max_backlog

    def admit(self) -> bool:
        """True if one more may join; else counts the refusal (one log line per 10 s)."""
        if not self.full:
            return True
        self.refusals += 1
        self._unlogged += 1
        now = self.clock()
        if self._logged_at is None or now - self._logged_at >= LOG_EVERY_SECONDS:
            _LOGGER.warning(
                "busy: %s requests working or waiting; refused %s with 503 (Retry-After %s s)",
                self.inflight,
                self._unlogged,
                self.retry_after,
            )
            self._logged_at = now
            self._unlogged = 0
        return False

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Counts one request as working or waiting until the block ends."""
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """One of the ``workers`` places, once one is free (first come, first served)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            yield

    @contextlib.asynccontextmanager
    async def work(self) -> AsyncIterator[None]:
        """Counted from the call, handled once a place is free."""
        async with self.held(), self.slot():
            yield
