"""Long polling for the one replica that holds the poller lease: every update is in the inbox
before the next getUpdates confirms it to Telegram, and a 409 Conflict fails the health check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, TelegramError, TimedOut
from telegram.error import RetryAfter as TelegramRetryAfter

from bot.health import Health
from bot.lease import LeaderLease
from bot.telegram.sender import retry_seconds

_LOGGER = logging.getLogger(__name__)
COMPONENT = "telegram"
LEASE_NAME = "telegram-poller"
CONFLICT = (
    "409 Conflict from getUpdates: another process polls this bot token "
    "(another deployment, or a webhook is set)"
)
MAX_BACKOFF = 30.0
FAILURES_BEFORE_UNHEALTHY = 3  # a lone network blip is not worth failing the health check

StoreBatch = Callable[[Sequence[Update]], Awaitable[None]]


class TelegramPoller:
    """``run`` until ``stop``: followers wait for the lease; the leader polls, stores each batch
    through ``store_batch`` and only then moves the offset that confirms it."""

    def __init__(
        self,
        *,
        bot: Bot,
        lease: LeaderLease,
        health: Health,
        store_batch: StoreBatch,
        timeout: float,
        allowed_updates: Sequence[str],
    ) -> None:
        self.bot = bot
        self.lease = lease
        self.health = health
        self.store_batch = store_batch
        self.timeout = timeout
        self.allowed_updates = list(allowed_updates)
        self.offset: int | None = None
        self.polls = 0  # getUpdates calls this process made (tests compare it with the fake's)
        self.is_leader = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="telegram-poller")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()  # a long poll in flight: its updates are unconfirmed, so re-sent
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.is_leader and self.offset is not None:
            # Everything below the offset is in the inbox: confirm it now rather than on restart.
            with contextlib.suppress(TelegramError):
                await self.bot.get_updates(
                    offset=self.offset, timeout=0, allowed_updates=self.allowed_updates
                )
        self.is_leader = False
        with contextlib.suppress(Exception):
            await self.lease.release()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                wait = await self._step()
            except Exception as exc:  # the store is away, most likely: keep trying, say so
                self._failed(f"polling stopped by {type(exc).__name__}", at_once=False)
                wait = self._backoff()
            if wait:
                await self._pause(wait)

    async def _step(self) -> float:
        """One round; returns how long to pause before the next."""
        if not await self.lease.hold():
            if self.is_leader:
                _LOGGER.warning("telegram: another replica took over polling")
            self.is_leader = False
            return self.lease.retry_seconds
        if not self.is_leader:
            # Telegram refuses getUpdates while a webhook is set (a 409 as well).
            await self.bot.delete_webhook()
            self.is_leader = True
            self.offset = None  # from the oldest unconfirmed update: the inbox drops repeats
            _LOGGER.info("telegram: this replica polls")
        try:
            self.polls += 1
            updates = await self.bot.get_updates(
                offset=self.offset,
                timeout=timedelta(seconds=self.timeout),
                allowed_updates=self.allowed_updates,
            )
        except Conflict:
            self._failed(CONFLICT, at_once=True)
            return self._backoff()
        except (InvalidToken, Forbidden) as exc:
            self._failed(f"getUpdates refused: {type(exc).__name__}", at_once=True)
            return MAX_BACKOFF
        except TelegramRetryAfter as exc:
            return retry_seconds(exc)
        except TimedOut:
            return 0.0  # a long poll that outlived the read timeout: just ask again
        except TelegramError as exc:
            self._failed(f"getUpdates failed: {type(exc).__name__}", at_once=False)
            return self._backoff()
        if updates:
            await self.store_batch(updates)  # raises before the offset moves: nothing confirmed
            self.offset = updates[-1].update_id + 1
        self._failures = 0
        self.health.ok(COMPONENT)
        return 0.0

    def _failed(self, reason: str, *, at_once: bool) -> None:
        self._failures += 1
        _LOGGER.warning("telegram polling: %s", reason)
        if at_once or self._failures >= FAILURES_BEFORE_UNHEALTHY:
            self.health.fail(COMPONENT, reason)

    def _backoff(self) -> float:
        return float(min(MAX_BACKOFF, 0.5 * 2 ** min(max(self._failures - 1, 0), 6)))
