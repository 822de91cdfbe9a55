"""The outbox dispatcher: claims due rows, sends them through each platform's Sender within the
platform's rate limits, and records the outcome (sent with its message id, retried, or parked)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.frontend import PermanentSendError, RetryAfter, RowSender, Sender
from bot.metrics import Metrics
from crm_store.outbox import BULK, IN_FLIGHT, OutboxRow
from crm_store.store import Store
from handlers import campaign_outcomes
from handlers.lateness import as_delivered, deadline_of
from handlers.messages import reply_from_dict

if TYPE_CHECKING:
    from bot.metrics import Metrics

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` sends in any ``seconds``-long window."""

    count: int
    seconds: float


JITTER = 0.1  # seconds of headroom on a chat's window
# Less on the bot-wide window, where it costs throughput (a campaign runs at this pace): 30 in
# 1.04 s is 28.8/s, and bench/campaign.py's stand-in, counting arrivals as Telegram does, saw no
# second with more than 30.
BOT_JITTER = 0.04
INTERRUPTED = "interrupted while sending (it may have arrived)"

# (key, window) pairs that one send to a chat counts against; the first key is the chat's own.
Limits = Callable[[str, str], list[tuple[str, Window]]]


def platform_limits(platform: str, target: str) -> list[tuple[str, Window]]:
    """Telegram: 1/s per chat, 20/min per group (negative chat id), 30/s per bot. Slack: about
    1/s per channel (its per-workspace tiers are far above what one bot sends)."""
    chat = f"{platform}:{target}"
    if platform == "telegram":
        # The windows are a little longer than the limits: Telegram counts arrivals, and the
        # network's jitter (measured by bench/fanout.py) can bunch sends spaced exactly 1/30 s.
        windows = [(chat, Window(1, 1.0 + JITTER)), ("telegram", Window(30, 1.0 + BOT_JITTER))]
        if target.startswith("-"):
            windows.append((f"{chat}:minute", Window(20, 60.0)))
        return windows
    return [(chat, Window(1, 1.0))]


class SlidingWindowLimiter:
    """Send times per key, in this process. Sends are recorded in time order (one dispatcher
    sends one row at a time), so each key's times stay sorted."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}

    def wait(self, windows: Iterable[tuple[str, Window]], now: float) -> float:
        """Seconds until a send to these windows keeps every one of them within its limit."""
        earliest = now
        for key, window in windows:
            earliest = max(earliest, self._paused.get(key, now))
            times = self._sent.get(key)
            if not times:
                continue
            while times and times[0] <= now - window.seconds:
                times.popleft()
            if len(times) >= window.count:
                earliest = max(earliest, times[-window.count] + window.seconds)
        return earliest - now

    def record(self, windows: Iterable[tuple[str, Window]], at: float) -> None:
        for key, _ in windows:
            self._sent.setdefault(key, deque()).append(at)

    def pause(self, key: str, until: float) -> None:
        self._paused[key] = max(self._paused.get(key, until), until)


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    batch: int = 30
    # Bulk rows (campaigns) claimed at once: a few, so a conversation's row queued meanwhile is
    # claimed within a few sends (a fraction of a second at 30/s), never behind a batch of bulk.
    bulk_batch: int = 4
    # A claim's lease is short and renewed every ``renew_seconds`` while its dispatcher works
    # through the batch, however long a platform makes a send wait (a 429 waited out part-way,
    # bot.frontend.PART_WAIT): a killed dispatcher's rows, and the chats queued behind them, are
    # taken over within ``lease``, and a live one's are never taken.
    lease: timedelta = timedelta(seconds=15)
    renew_seconds: float = 3.0
    max_attempts: int = 8
    backoff_base: float = 5.0
    backoff_cap: float = 900.0
    # A wait longer than this (a group's minute window, a 429) puts the row back for later
    # instead of holding up the other chats.
    max_sleep: float = 2.0
    # Rows a RowSender sends (webhooks) go out this many at once: one slow receiver (up to its
    # 10 s timeout) must not hold up the rest of the batch.
    row_concurrency: int = 8


@dataclass(slots=True)
class DispatchReport:
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0

    def __iadd__(self, other: DispatchReport) -> DispatchReport:
        self.sent += other.sent
        self.deferred += other.deferred
        self.retried += other.retried
        self.failed += other.failed
        return self


def owner_id() -> str:
    """A dispatcher's name on its claims: host and pid for the operator, and a random part
    since two dispatchers may share a process (and a pid comes back after a restart)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(slots=True)
class Dispatcher:
    """Sends due outbox rows. Several dispatchers (replicas) may share one store: claiming is
    atomic and leased, so each row goes to one of them; rate limits are kept per process."""

    store: Store
    senders: dict[str, Sender | RowSender]
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    limits: Limits = platform_limits
    limiter: SlidingWindowLimiter = field(default_factory=SlidingWindowLimiter)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    name: str = "delivery"
    stopping: bool = False  # set by DeliveryLoop.stop: end the pass after the row in hand
    # Whose claims these are: unique per dispatcher, also between two in one process.
    owner: str = field(default_factory=owner_id)
    metrics: Metrics | None = None

    @classmethod
    def of(cls, store: Store, senders: Iterable[Sender | RowSender], **options: object) -> Dispatcher:
        return cls(store, {s.platform: s for s in senders}, **options)  # type: ignore[arg-type]

    async def run_once(self) -> DispatchReport:
        """Send everything due now (claiming batch after batch), then return. Stopping ends
        the pass after the row in hand and gives the rest of the batch back at once."""
        report = DispatchReport()
        if not self.senders:
            return report
        while not self.stopping:
            async with self.store.write(self.name) as tx:
                rows = await tx.outbox.claim_due(
                    platforms=list(self.senders),
                    limit=self.settings.batch,
                    lease=self.settings.lease,
                    owner=self.owner,
                    bulk_limit=self.settings.bulk_batch,
                )
            if not rows:
                return report
            try:
                async with self._renewing():
                    independent = [r for r in rows if isinstance(self.senders[r.platform], RowSender)]
                    if independent:
                        report += await self._deliver_at_once(independent)
                    for row in rows:
                        if self.stopping:
                            break
                        if not isinstance(self.senders[row.platform], RowSender):
                            report += await self._deliver(row)
            finally:
                if self.stopping:  # also when DeliveryLoop.stop had to cancel the pass
                    await self.release()
        return report

    async def _deliver_at_once(self, rows: list[OutboxRow]) -> DispatchReport:
        """Rows that wait for no other row (each webhook delivery is its own target), up to
        ``row_concurrency`` at a time; stopping starts no more of them."""
        gate = asyncio.Semaphore(self.settings.row_concurrency)
        report = DispatchReport()

        async def one(row: OutboxRow) -> None:
            nonlocal report
            async with gate:
                if not self.stopping:
                    report += await self._deliver(row)

        # All of them end before a failure is raised: none is left running with a connection.
        outcomes = await asyncio.gather(*(one(row) for row in rows), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return report

    async def release(self) -> int:
        """Give back the claims this dispatcher holds (a clean stop): due at once elsewhere. If
        the store fails now, the leases run out as after a crash; the stop goes on."""
        try:
            async with self.store.write(self.name) as tx:
                released = await tx.outbox.release(self.owner)
        except Exception as exc:
            _LOGGER.warning("outbox: could not release claims at stop: %s", type(exc).__name__)
            return 0
        if released:
            _LOGGER.info("outbox: released %s claimed row(s) unsent", released)
        return released

    @contextlib.asynccontextmanager
    async def _renewing(self) -> AsyncIterator[None]:
        """Renew this dispatcher's leases every ``renew_seconds`` while the block runs. The
        renewer is ended by an event, never cancelled, so no query of its is cut off."""
        done = asyncio.Event()

        async def renew() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), self.settings.renew_seconds)
                if done.is_set():
                    return
                try:
                    async with self.store.write(self.name) as tx:
                        await tx.outbox.renew(self.owner, lease=self.settings.lease)
                except Exception as exc:  # the next renewal may get through before the lease ends
                    _LOGGER.warning("outbox: renewing leases failed: %s", type(exc).__name__)

        renewer = asyncio.create_task(renew(), name="crm-delivery-lease")
        try:
            yield
        finally:
            done.set()
            await renewer

    def _backoff(self, attempts: int) -> float:
        return float(min(self.settings.backoff_base * 2.0 ** max(attempts - 1, 0), self.settings.backoff_cap))

    def _count(self, platform: str, outcome: str) -> None:
        if self.metrics is None:
            return
        if outcome == "sent":
            self.metrics.sends.labels(platform=platform).inc()
        else:
            self.metrics.send_failures.labels(platform=platform, reason=outcome).inc()

    async def _deliver(self, row: OutboxRow) -> DispatchReport:
        sender = self.senders[row.platform]
        if isinstance(sender, RowSender):  # not a chat reply: the sender records its outcome
            outcome = await sender.deliver(row, owner=self.owner)
            self._count(row.platform, outcome)
            return DispatchReport(**{outcome: 1})
        report = await self._send_reply(row, sender)
        for outcome in ("sent", "retried", "failed"):
            if getattr(report, outcome):
                self._count(row.platform, outcome)
        return report

    async def _send_reply(self, row: OutboxRow, sender: Sender) -> DispatchReport:
        if row.priority >= BULK and row.last_error == IN_FLIGHT:
            # Its dispatcher died during the send: it may have arrived. A campaign message
            # twice is worse than one missing, so it is parked, its recipient failed "interrupted".
            await self._fail(row, INTERRUPTED)
            return DispatchReport(failed=1)
        try:
            reply, deadline = reply_from_dict(row.payload), deadline_of(row.payload)
        except (KeyError, TypeError, ValueError):
            await self._fail(row, "unreadable payload")
            return DispatchReport(failed=1)
        target, thread, starts_thread = row.target, row.thread, False
        if row.thread_key:
            async with self.store.read() as tx:
                known = await tx.outbox.thread(row.thread_key, row.platform)
            if known is not None:
                target, thread = known.target, known.thread_id
            else:
                # Rows to one chat go out in order, so a conversation's first row is sent before
                # its followers: with no thread yet, this row's message becomes the thread.
                starts_thread = True
        windows = self.limits(row.platform, target)
        wait = self.limiter.wait(windows, self.clock())
        if wait > self.settings.max_sleep:
            await self._postpone(row, wait)
            return DispatchReport(deferred=1)
        if wait > 0:
            await self.sleep(wait)
        # Judged now, just before the send: how late it reaches the person, however long it
        # waited in the outbox (a held-up chat, downtime), not how late the tick found it.
        reply = as_delivered(reply, deadline, now=self.store.clock())
        if row.priority >= BULK:
            async with self.store.write(self.name) as tx:
                if not await tx.outbox.mark_in_flight(row.id, owner=self.owner):
                    return DispatchReport()  # taken over meanwhile: the outcome is another's
        self.limiter.record(windows, self.clock())
        try:
            message_id = await sender.send(target, reply, thread=thread)
        except RetryAfter as exc:
            self.limiter.pause(windows[0][0], self.clock() + exc.seconds)
            _LOGGER.warning("outbox %s: %s asked to wait %.0f s", row.id, row.platform, exc.seconds)
            await self._postpone(row, exc.seconds, error="rate limited")
            self._count(row.platform, "rate_limited")
            return DispatchReport(deferred=1)
        except PermanentSendError as exc:
            await self._fail(row, str(exc), blocked=exc.blocked)
            return DispatchReport(failed=1)
        except Exception as exc:  # network trouble, 5xx: retried with backoff, parked after a bound
            return await self._retry(row, exc)
        async with self.store.write(self.name) as tx:
            marked = await tx.outbox.mark_sent(row.id, message_id, owner=self.owner)
            if marked:
                await campaign_outcomes.sent(tx, row.idempotency_key, message_id)
            if starts_thread and row.thread_key:
                await tx.outbox.set_thread(row.thread_key, row.platform, target=target, thread_id=message_id)
        if not marked:
            _LOGGER.warning("outbox %s was taken over while it was being sent (leases not renewed)", row.id)
        return DispatchReport(sent=1)

    async def _postpone(self, row: OutboxRow, seconds: float, *, error: str | None = None) -> None:
        async with self.store.write(self.name) as tx:
            await tx.outbox.postpone(row.id, delay=timedelta(seconds=seconds), error=error, owner=self.owner)

    async def _fail(self, row: OutboxRow, error: str, *, blocked: bool = False) -> None:
        """Park the row; a chat that blocked the bot is marked so (no campaign or push is tried
        on it again until the person writes to the bot)."""
        _LOGGER.error("outbox %s to %s parked as failed: %s", row.id, row.platform, error)
        async with self.store.write(self.name) as tx:
            if await tx.outbox.fail(row.id, error=error, owner=self.owner):
                if blocked:
                    await tx.consents.mark_blocked(row.platform, row.target)
                reason = campaign_outcomes.BLOCKED if blocked else error
                if error == INTERRUPTED:
                    reason = campaign_outcomes.INTERRUPTED
                await campaign_outcomes.failed(tx, row.idempotency_key, reason)

    async def _retry(self, row: OutboxRow, exc: Exception) -> DispatchReport:
        error = type(exc).__name__  # the type only: exception texts may quote the message
        delay = self._backoff(row.attempts)
        async with self.store.write(self.name) as tx:
            state = await tx.outbox.retry(
                row.id,
                error=error,
                delay=timedelta(seconds=delay),
                max_attempts=self.settings.max_attempts,
                owner=self.owner,
            )
            if state == "failed":
                await campaign_outcomes.failed(tx, row.idempotency_key, error)
        if state == "failed":
            _LOGGER.error(
                "outbox %s to %s parked as failed after %s attempts: %s",
                row.id,
                row.platform,
                row.attempts,
                error,
            )
            return DispatchReport(failed=1)
        if state != "pending":  # another dispatcher holds the row now: its outcome is theirs
            _LOGGER.warning("outbox %s was taken over while it was being sent (leases not renewed)", row.id)
            return DispatchReport()
        _LOGGER.warning("outbox %s to %s failed (%s); retry in %.0f s", row.id, row.platform, error, delay)
        return DispatchReport(retried=1)


class DeliveryLoop:
    """Runs the dispatcher every ``tick`` seconds, and at once when woken (a handler or a
    scheduler job (bot/scheduler.py) just queued something)."""

    def __init__(
        self, dispatcher: Dispatcher, *, tick: float, stop_wait: float = 10.0, gauge_seconds: float = 5.0
    ) -> None:
        self.dispatcher = dispatcher
        self.tick = tick
        self.stop_wait = stop_wait
        self.gauge_seconds = gauge_seconds
        self._gauged = float("-inf")
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def refresh_gauges(self, *, force: bool = False) -> None:
        """The outbox depth and oldest waiting row per platform, into the metrics, at most every
        ``gauge_seconds``: one query here, none per scrape of /metrics."""
        metrics = self.dispatcher.metrics
        now = time.monotonic()
        if metrics is None or (not force and now - self._gauged < self.gauge_seconds):
            return
        self._gauged = now
        try:
            async with self.dispatcher.store.read() as tx:
                waiting = await tx.outbox.waiting_by_platform()
                at = tx.now
        except Exception as exc:  # the gauges keep their last values; delivery goes on
            _LOGGER.warning("outbox gauges: %s", type(exc).__name__)
            return
        depth = {p: (n, max((at - oldest).total_seconds(), 0.0)) for p, (n, oldest) in waiting.items()}
        metrics.outbox(depth, list(self.dispatcher.senders))

    def start(self) -> None:
        self.dispatcher.stopping = False
        self._task = asyncio.create_task(self._run(), name="crm-delivery")

    async def stop(self) -> None:
        """Let the row in hand finish, so no query is cancelled half-way (a stranded aiosqlite
        connection keeps the process alive); cancel only a pass that overruns ``stop_wait``.
        Either way the claims not sent are released at once (Dispatcher.run_once)."""
        if self._task is None:
            return
        self.dispatcher.stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.stop_wait)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def _run(self) -> None:
        while not self.dispatcher.stopping:
            self._wake.clear()
            try:
                await self.dispatcher.run_once()
            except Exception as exc:  # a bad tick must not end delivery
                _LOGGER.error("delivery tick failed: %s", type(exc).__name__)
            await self.refresh_gauges()
            if self.dispatcher.stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick)
