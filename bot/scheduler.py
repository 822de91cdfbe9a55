"""APScheduler 3 on the bot's event loop. It only ticks: what must happen once (a reminder, an
alert, a digest period) is claimed in the store by handlers/jobs.py, so a restart, a missed
run or a second replica never doubles a push."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobExecutionEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from crm_store.store import Store
from handlers import jobs
from handlers.campaign_pump import CampaignPump
from handlers.recommend_model import ModelHolder

if TYPE_CHECKING:
    from bot.metrics import Metrics

_LOGGER = logging.getLogger(__name__)

TICK_JOB = "tick"
SWEEP_JOB = "sla-and-digests"
LOYALTY_JOB = "loyalty-nightly"
HOUSEKEEPING_JOB = "housekeeping"
RECOMMEND_START_JOB = "recommend-start"
CAMPAIGN_JOB = "campaigns"
SWEEP_SECONDS = 30.0
HOUSEKEEPING_SECONDS = 3600.0
HOUSEKEEPING_FIRST_DELAY = 60.0  # after start, once the front ends have settled
RECOMMEND_FIRST_DELAY = 15.0  # the next-product model is built after start, once the bot answers
STOP_WAIT = 10.0  # seconds a run under way gets to finish at shutdown


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    tick_seconds: float = 5.0
    sweep_seconds: float = SWEEP_SECONDS
    timezone: str = "UTC"
    loyalty_hour: int = 2
    housekeeping_seconds: float = HOUSEKEEPING_SECONDS
    # A run later than this is skipped (and logged as missed); the store-side catch-up covers it.
    misfire_grace_seconds: int = 300
    # The campaign pump tops the outbox up to a few seconds of Telegram's rate this often.
    campaign_seconds: float = 1.0


class Scheduler:
    """Owns an AsyncIOScheduler; ``wake`` runs the dispatcher (bot.delivery) after a tick
    queued something."""

    def __init__(
        self,
        store: Store,
        settings: jobs.JobSettings,
        schedule: ScheduleSettings,
        *,
        wake: Callable[[], None] = lambda: None,
        recommender: ModelHolder | None = None,
        pump: CampaignPump | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.pump = pump
        self.metrics = metrics
        # Built once soon after start and again after each loyalty run (None: not at all).
        self.recommender = recommender
        self.settings = settings
        self.schedule = schedule
        self.wake = wake
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,  # after a pause, one catch-up run, not one per missed tick
                "max_instances": 1,
                "misfire_grace_time": schedule.misfire_grace_seconds,
            },
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.scheduler.add_listener(self._on_submitted, EVENT_JOB_SUBMITTED)
        self._running: set[asyncio.Task[object]] = set()
        self._stopping = False

    def register(self) -> None:
        """Add the jobs; explicit ids with replace_existing make a second call replace them."""
        now = datetime.now(UTC)
        self.scheduler.add_job(
            self._run_job,
            "interval",
            args=(self.tick,),
            seconds=self.schedule.tick_seconds,
            id=TICK_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        self.scheduler.add_job(
            self._run_job,
            "interval",
            args=(self.sweep,),
            seconds=self.schedule.sweep_seconds,
            id=SWEEP_JOB,
            replace_existing=True,
            next_run_time=now,
        )
        self.scheduler.add_job(
            self._run_job,
            "cron",
            args=(self.loyalty,),
            hour=self.schedule.loyalty_hour,
            minute=0,
            timezone=self.schedule.timezone,
            id=LOYALTY_JOB,
            replace_existing=True,
        )
        # Purges are idempotent deletes: every replica may run them, so a process-local hour
        # is enough (the first run comes soon after start, so short-lived processes purge too).
        every = self.schedule.housekeeping_seconds
        self.scheduler.add_job(
            self._run_job,
            "interval",
            args=(self.housekeeping,),
            seconds=every,
            id=HOUSEKEEPING_JOB,
            replace_existing=True,
            next_run_time=now + timedelta(seconds=min(HOUSEKEEPING_FIRST_DELAY, every)),
        )

        if self.pump is not None:
            self.scheduler.add_job(
                self._run_job,
                "interval",
                args=(self.campaigns,),
                seconds=self.schedule.campaign_seconds,
                id=CAMPAIGN_JOB,
                replace_existing=True,
                next_run_time=now,
            )

        if self.recommender is not None:
            self.scheduler.add_job(
                self._run_job,
                "date",
                args=(self.recommend,),
                run_date=now + timedelta(seconds=RECOMMEND_FIRST_DELAY),
                id=RECOMMEND_START_JOB,
                replace_existing=True,
            )

    def start(self) -> None:
        self.register()
        self.scheduler.start()

    async def stop(self) -> None:
        """No new runs; a run under way finishes (its transaction commits or rolls back whole)
        before the store closes under it. APScheduler's shutdown cancels running coroutine jobs,
        so it comes last."""
        self._stopping = True
        if not self.scheduler.running:
            return
        self.scheduler.pause()
        for _ in range(3):  # let runs already submitted start, see _stopping and return
            await asyncio.sleep(0)
        if self._running:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._running, return_exceptions=True), STOP_WAIT)
        self.scheduler.shutdown(wait=False)

    async def _run_job(self, job: Callable[[], Awaitable[int]]) -> int:
        """One scheduled run, tracked from its first await to its last so that stop() waits for
        it: a run cancelled inside a query would leave its connection (an aiosqlite thread)
        unreturned, and that thread keeps the process from exiting."""
        if self._stopping:
            return 0
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            return await job()
        finally:
            if task is not None:
                self._running.discard(task)

    async def _guarded(self, name: str, work: Callable[[], Awaitable[int]], *, wakes: bool = True) -> int:
        """Run ``work``, logging a failure; ``wakes``: what it counts was queued for delivery."""
        if self._stopping:
            return 0
        try:
            done = await work()
        except Exception as exc:  # one failed tick must not stop the next
            _LOGGER.error("%s failed: %s", name, type(exc).__name__)
            return 0
        if done and wakes:
            self.wake()
        return done

    async def tick(self) -> int:
        """Queue the due reminders batch after batch, waking delivery after each, so a pile
        falling due at once (thousands at 9:00) reaches the outbox in one tick, not one batch
        per tick. A short batch (none left, or another replica took some) ends the tick."""
        queued = 0
        while not self._stopping:
            done = await self._guarded(
                "reminder tick", lambda: jobs.queue_due_reminders(self.store, self.settings)
            )
            queued += done
            if done < jobs.REMINDER_BATCH:
                return queued
        return queued

    async def sweep(self) -> int:
        """SLA warnings and breaches, due digests, and the loyalty catch-up after downtime."""
        done = await self._guarded("sla check", lambda: jobs.check_sla(self.store, self.settings))
        done += await self._guarded("digests", lambda: jobs.queue_due_digests(self.store, self.settings))
        hour, tz = self.schedule.loyalty_hour, self.schedule.timezone
        if not self._stopping and await jobs.loyalty_due(self.store, hour=hour, tz=tz):
            done += await self.loyalty()
        return done

    async def loyalty(self) -> int:
        async def _run() -> int:
            return (await jobs.run_loyalty(self.store, self.settings)).queued

        queued = await self._guarded("loyalty run", _run)
        await self.recommend()  # the nightly run refreshes the next-product model too
        return queued

    async def recommend(self) -> int:
        """Rebuild the next-product model in memory; nothing is queued."""
        holder = self.recommender
        if holder is None:
            return 0

        async def _build() -> int:
            return (await holder.rebuild(self.store)).customers

        return await self._guarded("next-product model", _build, wakes=False)

    async def campaigns(self) -> int:
        """Start campaigns whose time has come and feed the sending ones to the outbox."""
        pump = self.pump
        if pump is None:
            return 0

        async def _feed() -> int:
            return (await pump.run_once()).queued

        return await self._guarded("campaign pump", _feed)

    async def housekeeping(self) -> int:
        """Purge old dedupe rows and expired drafts; nothing is queued, so nothing to wake."""
        return await self._guarded(
            "housekeeping", lambda: jobs.purge_housekeeping(self.store, self.settings), wakes=False
        )

    def _on_submitted(self, event: JobSubmissionEvent) -> None:
        """Scheduler lag: how late a run starts after its scheduled time (a busy loop, a pause)."""
        if self.metrics is None or not event.scheduled_run_times:
            return
        lag = (datetime.now(UTC) - max(event.scheduled_run_times)).total_seconds()
        self.metrics.scheduler_lag.labels(job=event.job_id).set(max(lag, 0.0))
        self.metrics.scheduler_runs.labels(job=event.job_id).inc()

    def _on_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MISSED:
            _LOGGER.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
        else:
            _LOGGER.error("job %s failed: %s", event.job_id, type(event.exception).__name__)
