"""The scheduler ticks on APScheduler: one job per id across re-registration, one catch-up run
and one logged miss, a due reminder delivered through the dispatcher within a tick, and the
hourly housekeeping purge."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bot.delivery import DeliveryLoop, Dispatcher
from bot.scheduler import (
    HOUSEKEEPING_FIRST_DELAY,
    HOUSEKEEPING_JOB,
    LOYALTY_JOB,
    SWEEP_JOB,
    TICK_JOB,
    Scheduler,
    ScheduleSettings,
)
from crm_store.store import Store
from handlers import jobs
from handlers.jobs import JobSettings
from handlers.messages import Actor, Reply
from tests.conftest import Chat, FakeClock

# How long to wait for what must happen: generous, so a loaded machine is slow, never failing.
WAIT = 30.0


async def _until(check: Callable[[], Awaitable[bool]], *, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not done within {within} s"
        await asyncio.sleep(0.02)


class ConsoleLike:
    platform = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Reply]] = []

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        self.sent.append((target, reply))
        return str(len(self.sent))


def _scheduler(store: Store, **schedule: float) -> Scheduler:
    return Scheduler(store, JobSettings(staff_platforms=("console",)), ScheduleSettings(**schedule))  # type: ignore[arg-type]


async def test_registering_twice_keeps_one_job_per_id(store: Store) -> None:
    scheduler = _scheduler(store)
    scheduler.register()
    scheduler.register()  # a restart in the same process, or a second call at start
    scheduler.scheduler.start(paused=True)
    try:
        assert sorted(job.id for job in scheduler.scheduler.get_jobs()) == sorted(
            [TICK_JOB, SWEEP_JOB, LOYALTY_JOB, HOUSEKEEPING_JOB]
        )
        purge = scheduler.scheduler.get_job(HOUSEKEEPING_JOB)
        assert purge is not None and purge.args == (scheduler.housekeeping,)
        assert isinstance(purge.trigger, IntervalTrigger) and purge.trigger.interval == timedelta(hours=1)
        first = purge.next_run_time - datetime.now(UTC)
        assert timedelta(0) < first <= timedelta(seconds=HOUSEKEEPING_FIRST_DELAY)
    finally:
        await scheduler.stop()


async def test_the_housekeeping_job_purges_through_the_scheduler_without_waking_delivery(
    store: Store, clock: FakeClock
) -> None:
    async with store.write("test") as tx:
        await tx.events.claim("slack", "Ev-old")
    clock.advance(days=8)
    wakes: list[int] = []
    scheduler = Scheduler(
        store,
        JobSettings(staff_platforms=("console",)),
        ScheduleSettings(tick_seconds=3600, sweep_seconds=3600, housekeeping_seconds=0.05),
        wake=lambda: wakes.append(1),
    )

    async def purged() -> bool:
        async with store.read() as tx:
            left = (await tx.conn.exec_driver_sql("SELECT COUNT(*) FROM processed_events")).scalar_one()
        return bool(left == 0)

    scheduler.start()
    try:
        await _until(purged)
    finally:
        await scheduler.stop()
    assert wakes == []
    async with store.read() as tx:
        assert [(a.actor, a.action) for a in await tx.audit.recent(entity="housekeeping")][:1] == [
            ("scheduler", "purge")
        ]


async def test_a_missed_run_is_logged_once_and_a_late_one_runs_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = _scheduler(store, misfire_grace_seconds=60)
    runs: list[str] = []

    async def job(name: str) -> None:
        runs.append(name)

    now = datetime.now(UTC)
    # Outside the grace window (the process was down at its run time): skipped, logged as missed.
    scheduler.scheduler.add_job(job, "date", run_date=now - timedelta(hours=1), args=["old"], id="old")
    # Within it, with many missed interval runs: coalesced into one catch-up run.
    scheduler.scheduler.add_job(
        job, "interval", seconds=3600, next_run_time=now - timedelta(seconds=30), args=["recent"], id="recent"
    )
    with caplog.at_level(logging.WARNING, logger="bot.scheduler"):
        scheduler.scheduler.start()

        async def both_seen() -> bool:
            return bool(runs) and "missed its run" in caplog.text

        try:
            await _until(both_seen)
        finally:
            await scheduler.stop()
    assert runs == ["recent"]
    assert caplog.text.count("missed its run") == 1 and "job old missed" in caplog.text


async def test_a_due_reminder_reaches_its_rep_within_a_tick(
    chat: Chat, store: Store, clock: FakeClock
) -> None:
    await chat.say("add Acme Corp")
    await chat.say("remind acme in 1 minute: call back")
    clock.advance(minutes=1)
    sender = ConsoleLike()
    delivery = DeliveryLoop(Dispatcher.of(store, [sender]), tick=0.05)
    scheduler = Scheduler(
        store,
        JobSettings(staff_platforms=("console",)),
        ScheduleSettings(tick_seconds=0.1),
        wake=delivery.wake,
    )
    delivery.start()
    scheduler.start()

    async def delivered() -> bool:
        return bool(sender.sent)

    try:
        await _until(delivered)
    finally:
        await scheduler.stop()
        await delivery.stop()
    assert [(target, reply.title) for target, reply in sender.sent] == [("sam", "Reminder #1")]


async def test_the_sweep_catches_up_a_missed_nightly_loyalty_run(
    store: Store, rep: Actor, clock: FakeClock
) -> None:
    async with store.write("test") as tx:
        await tx.customers.add(name="Acme", owner_rep_id=rep.rep_id)
    scheduler = _scheduler(store)
    clock.now = clock.now.replace(hour=1)  # before the 02:00 run: nothing to catch up
    await scheduler.sweep()
    async with store.read() as tx:
        assert await tx.loyalty.latest_run() is None
    clock.now = clock.now.replace(hour=9)  # the process was down at 02:00
    await scheduler.sweep()
    await scheduler.sweep()
    async with store.read() as tx:
        assert await tx.loyalty.latest_run() == "2026-11-23"
        audit = await tx.conn.exec_driver_sql("SELECT COUNT(*) FROM audit_log WHERE action = 'recompute'")
        assert audit.scalar_one() == 1


async def test_stop_lets_a_run_under_way_finish_rather_than_cancel_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run cancelled inside a query would strand its aiosqlite connection, whose thread then
    keeps the process from exiting; stop() waits for the whole run, not only its guarded parts."""
    in_query = asyncio.Event()
    finished: list[str] = []

    async def slow_loyalty_due(store: Store, *, hour: int, tz: str) -> bool:
        async with store.read() as tx:
            in_query.set()
            await asyncio.sleep(0.3)  # holding a checked-out connection, as a slow query does
            await tx.customers.count()
        finished.append("loyalty_due")
        return False

    monkeypatch.setattr("bot.scheduler.jobs.loyalty_due", slow_loyalty_due)
    scheduler = _scheduler(store, tick_seconds=3600, sweep_seconds=3600)
    scheduler.start()
    await asyncio.wait_for(in_query.wait(), WAIT)
    await scheduler.stop()
    assert finished == ["loyalty_due"]


async def test_one_tick_queues_a_pile_of_due_reminders_batch_after_batch_waking_delivery(
    store: Store, rep: Actor, clock: FakeClock
) -> None:
    due = jobs.REMINDER_BATCH * 2 + 7
    async with store.write("test") as tx:
        for n in range(due):
            await tx.reminders.add(rep_id=rep.rep_id or 0, customer_id=None, text=f"r{n}", due_at=clock.now)
    wakes: list[int] = []
    scheduler = Scheduler(
        store,
        JobSettings(staff_platforms=("console",)),
        ScheduleSettings(tick_seconds=3600, sweep_seconds=3600),
        wake=lambda: wakes.append(1),
    )
    assert await scheduler.tick() == due
    assert len(wakes) == 3  # after each batch, so sending starts with the first
    async with store.read() as tx:
        assert await tx.reminders.due(platforms=("console",)) == []
    assert await scheduler.tick() == 0 and len(wakes) == 3


async def test_the_next_product_model_is_built_after_start_and_again_after_the_loyalty_run(
    store: Store,
) -> None:
    from bot.scheduler import RECOMMEND_FIRST_DELAY, RECOMMEND_START_JOB
    from handlers.recommend_model import ModelHolder

    async with store.write("test") as tx:
        mug = await tx.catalog.add_product(sku="MUG", name="Blue mug")
        ann = await tx.customers.add(name="Ann")
        await tx.orders.add_with_lines(customer_id=ann.id, lines=[(mug, 1, 800)])
    holder = ModelHolder()
    scheduler = Scheduler(
        store, JobSettings(staff_platforms=("console",)), ScheduleSettings(), recommender=holder
    )
    scheduler.register()
    scheduler.scheduler.start(paused=True)
    try:
        start = scheduler.scheduler.get_job(RECOMMEND_START_JOB)
        assert start is not None and start.args == (scheduler.recommend,)
        assert (
            timedelta(0) < start.next_run_time - datetime.now(UTC) <= timedelta(seconds=RECOMMEND_FIRST_DELAY)
        )
        assert holder.model is None
        await scheduler.loyalty()  # the nightly run's path
        assert holder.model is not None and (holder.model.customers, holder.model.products) == (1, 1)
        async with store.write("test") as tx:
            bob = await tx.customers.add(name="Bob")
            await tx.orders.add_with_lines(customer_id=bob.id, lines=[(mug, 2, 800)])
        await scheduler.loyalty()
        assert holder.model.customers == 2
    finally:
        await scheduler.stop()


async def test_a_scheduled_campaign_is_started_and_sent_by_the_campaign_job(
    store: Store, clock: FakeClock
) -> None:
    from crm_store.outbox import BULK
    from handlers.campaign_pump import CampaignPump, PumpSettings
    from handlers.campaign_start import start_campaign
    from handlers.campaign_text import campaign_message
    from handlers.quiet_hours import QuietPolicy

    clock.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    async with store.write("t") as tx:
        for n in range(3):
            customer = await tx.customers.add(name=f"Ann{n}", tags=["promo"])
            await tx.people.link_customer(
                platform="telegram", external_id=str(700 + n), customer_id=customer.id
            )
        campaign = await tx.campaigns.create("Sale", created_by_rep_id=None)
        await tx.campaigns.edit(campaign.id, audience="tag:promo", body="Half price, {first_name|friend}")
        await tx.campaigns.schedule(campaign.id, clock.now)
    sender = ConsoleLike()
    sender.platform = "telegram"
    delivery = DeliveryLoop(Dispatcher.of(store, [sender]), tick=0.05)
    pump = CampaignPump(store, start_campaign, campaign_message, PumpSettings(quiet=QuietPolicy()))
    scheduler = Scheduler(
        store,
        JobSettings(staff_platforms=("console",)),
        ScheduleSettings(campaign_seconds=0.05),
        wake=delivery.wake,
        pump=pump,
    )
    delivery.start()
    scheduler.start()

    async def finished() -> bool:
        async with store.read() as tx:
            found = await tx.campaigns.get(campaign.id)
        return found is not None and found.state == "sent"

    try:
        await _until(finished)
    finally:
        await scheduler.stop()
        await delivery.stop()
    assert sorted((target, reply.text) for target, reply in sender.sent) == [
        ("700", "Half price, Ann0"),
        ("701", "Half price, Ann1"),
        ("702", "Half price, Ann2"),
    ]
    async with store.read() as tx:
        assert {r.priority for r in await tx.outbox.listing()} == {BULK}
