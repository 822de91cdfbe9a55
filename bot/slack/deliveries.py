"""Slack event deliveries: one answer per event_id across Slack's retries, Socket Mode and replicas."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from crm_store.store import Store

_LOGGER = logging.getLogger(__name__)
PLATFORM = "slack"
# A holder renews its lease every third of it, so a holder that died is replaced within LEASE.
LEASE = timedelta(seconds=30)
# A delivery that finds the event held asks again this often, and gives up after WAIT_LIMIT (a
# holder still renewing then is alive and answers; Slack's last retry comes about 5 min after).
POLL_SECONDS = 1.0
WAIT_LIMIT_SECONDS = 300.0
STOP_GRACE_SECONDS = 10.0  # how long a stop waits for answers under way

# Runs the handling under the given ref (the router's claim key); True once the answer is out.
Answer = Callable[[str], Awaitable[bool]]


def ref_of(event_id: str) -> str:
    """The key the router claims an event's changes under (handlers.messages.Message.ref)."""
    return f"{PLATFORM}:{event_id}"


class EventDeliveries:
    """``answer_once`` holds the event in the store while answering it, then marks it answered.
    A delivery that finds it answered stops; one that finds it held waits, and takes over if the
    holder's lease lapses (it died). The handler's changes are claimed under ``ref_of(event_id)``
    in its first write transaction, so a takeover after the holder committed writes nothing
    twice and answers with the first run's reply: changes exactly once, answers at least once."""

    def __init__(
        self,
        store: Store,
        *,
        lease: timedelta = LEASE,
        poll_seconds: float = POLL_SECONDS,
        wait_limit_seconds: float = WAIT_LIMIT_SECONDS,
    ) -> None:
        self.store = store
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.wait_limit_seconds = wait_limit_seconds
        self._running = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = asyncio.Event()

    async def answer_once(self, event_id: str, answer: Answer) -> None:
        self._running += 1
        self._idle.clear()
        try:
            if await self._take(event_id):
                await self._answer(event_id, answer)
        finally:
            self._running -= 1
            if not self._running:
                self._idle.set()

    async def close(self) -> None:
        """Stop waiting for other deliveries, and let answers under way finish and be marked (a
        stop between the answer and its mark would let a later retry answer again)."""
        self._closing.set()
        try:
            await asyncio.wait_for(self._idle.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            _LOGGER.warning("slack: %s event answer(s) still under way at stop", self._running)

    async def _answer(self, event_id: str, answer: Answer) -> None:
        # Stopped by an event, not cancelled: a renewal cancelled inside its query would strand
        # the aiosqlite connection it holds.
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew(event_id, done))
        try:
            answered = await answer(ref_of(event_id))
        finally:
            done.set()
            await renewing
        async with self.store.write(f"{PLATFORM}:events") as tx:
            if answered:
                await tx.events.answered(PLATFORM, event_id)
            else:
                await tx.events.release(PLATFORM, event_id)

    async def _take(self, event_id: str) -> bool:
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.wait_limit_seconds
        waited = False
        while not self._closing.is_set():
            async with self.store.write(f"{PLATFORM}:events") as tx:
                hold = await tx.events.take(PLATFORM, event_id, ttl=self.lease)
            if hold == "taken":
                if waited:
                    _LOGGER.warning("slack event %s: its holder stopped answering; taking over", event_id)
                return True
            if hold == "answered":
                _LOGGER.info("slack event %s already answered; delivery ignored", event_id)
                return False
            if loop.time() >= give_up:
                _LOGGER.info("slack event %s still being answered by another delivery; leaving it", event_id)
                return False
            if not waited:
                _LOGGER.debug("slack event %s held by another delivery; waiting for it", event_id)
            waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.poll_seconds)
        return False

    async def _renew(self, event_id: str, done: asyncio.Event) -> None:
        every = self.lease.total_seconds() / 3
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), every)
            if done.is_set():
                return
            try:
                async with self.store.write(f"{PLATFORM}:events") as tx:
                    await tx.events.renew(PLATFORM, event_id, ttl=self.lease)
            except Exception as exc:  # a missed renewal costs at worst a second answer, never a write
                _LOGGER.warning("slack event %s: lease not renewed (%s)", event_id, type(exc).__name__)
