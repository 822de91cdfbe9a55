"""The housekeeping purge on a fake clock: handled dedupe rows older than the retention go,
newer ones and unhandled inbox rows stay, expired drafts and button tokens go, live ones stay."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from crm_store.inbox import MAX_ATTEMPTS
from crm_store.migrate import upgrade
from crm_store.store import Store
from handlers.jobs import ACTOR, JobSettings, purge_housekeeping
from tests.conftest import FakeClock

TG = "telegram"
SLACK = "slack"
SETTINGS = JobSettings(staff_platforms=("console",), retention=timedelta(days=7))


async def _old_rows(store: Store) -> str:
    """Rows written at T0: one of each kind, and inbox rows in every state. Returns a token."""
    async with store.write("test") as tx:
        assert await tx.events.claim(SLACK, "Ev-old")
        for event_id in ("1", "2", "3", "4"):
            await tx.inbox.add(TG, event_id, {"update_id": int(event_id)})
        assert await tx.inbox.claim(TG, "1") is not None
        await tx.inbox.finish(TG, "1")  # handled
        assert await tx.inbox.claim(TG, "4") is not None  # a worker died holding it
        await tx.conversations.save("telegram:9", flow="ticket", step="subject", data={})  # 1 day
        token = await tx.pending.add(actor_key="console:sam", command="show 1")  # 2 days
        assert await tx.handled.claim("telegram:1", "telegram:9")
    for _ in range(MAX_ATTEMPTS):  # "3" fails for good and waits for an operator
        async with store.write("test") as tx:
            assert await tx.inbox.claim(TG, "3", due_only=False) is not None
            await tx.inbox.release(TG, "3", error="RuntimeError")
    return token


async def _new_rows(store: Store) -> str:
    async with store.write("test") as tx:
        assert await tx.events.claim(SLACK, "Ev-new")
        await tx.inbox.add(TG, "5", {"update_id": 5})
        assert await tx.inbox.claim(TG, "5") is not None
        await tx.inbox.finish(TG, "5")
        await tx.conversations.save("telegram:10", flow="ticket", step="details", data={"subject": "x"})
        assert await tx.handled.claim("telegram:5", "telegram:10")
        return await tx.pending.add(actor_key="console:sam", command="show 2")


async def test_purge_removes_old_and_expired_rows_and_keeps_the_rest(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    old_token = await _old_rows(store)
    clock.advance(days=7, hours=12)
    new_token = await _new_rows(store)
    clock.advance(hours=12)  # T0 + 8 days: the old rows are past the 7-day retention

    with caplog.at_level(logging.INFO, logger="handlers.jobs"):
        assert await purge_housekeeping(store, SETTINGS) == 5
    assert (
        "removed 1 processed event(s), 1 inbox row(s), 1 conversation(s), 1 pending action(s), "
        "1 handled-message record(s)" in caplog.text
    )

    async with store.write("test") as tx:
        assert [await tx.inbox.state(TG, e) for e in ("1", "2", "3", "4", "5")] == [
            None,  # handled 8 days ago: gone
            "pending",  # never handled: kept whatever its age
            "failed",  # kept for an operator
            "working",  # claimed by a worker that died: still to be handled
            "done",  # handled 12 hours ago: still refuses a re-delivery
        ]
        assert not await tx.events.claim(SLACK, "Ev-new")  # a retry of a recent event: refused
        assert await tx.events.claim(SLACK, "Ev-old")  # forgotten
        assert await tx.conversations.get("telegram:9") is None
        assert await tx.conversations.get("telegram:10") is not None
        assert await tx.pending.take(old_token, actor_key="console:sam") is None
        assert await tx.pending.take(new_token, actor_key="console:sam") is not None
        assert await tx.handled.claim("telegram:1", "telegram:9")  # forgotten with its inbox row
        assert not await tx.handled.claim("telegram:5", "telegram:10")  # still answers a repeat
        audit = await tx.audit.recent(entity="housekeeping")
    assert [(a.actor, a.action, a.detail) for a in audit] == [
        (
            ACTOR,
            "purge",
            {
                "events": 1,
                "inbox": 1,
                "conversations": 1,
                "pending_actions": 1,
                "handled_messages": 1,
                "idempotency_keys": 0,  # the API's keys (tests/bot/api/test_idempotency.py)
                "retention_days": 7,
            },
        )
    ]


async def test_a_second_purge_removes_nothing_and_audits_nothing(store: Store, clock: FakeClock) -> None:
    await _old_rows(store)
    clock.advance(days=8)
    assert await purge_housekeeping(store, SETTINGS) == 5
    assert await purge_housekeeping(store, SETTINGS) == 0
    async with store.read() as tx:
        assert len(await tx.audit.recent(entity="housekeeping")) == 1


async def test_retention_never_drops_below_a_day(store: Store, clock: FakeClock) -> None:
    """Slack retries within minutes, Telegram keeps updates 24 h: a shorter retention given in
    code (settings refuse under 1 day) would let a re-delivery through, so a day is the floor."""
    async with store.write("test") as tx:
        assert await tx.events.claim(SLACK, "Ev-1")
        await tx.inbox.add(TG, "1", {"update_id": 1})
        await tx.inbox.claim(TG, "1")
        await tx.inbox.finish(TG, "1")
    clock.advance(hours=23)
    hasty = JobSettings(staff_platforms=("console",), retention=timedelta(minutes=5))
    assert await purge_housekeeping(store, hasty) == 0
    clock.advance(hours=2)
    assert await purge_housekeeping(store, hasty) == 2


async def test_purge_on_postgresql(pg_url: str) -> None:
    clock = FakeClock()
    store = Store.open(pg_url, clock=clock)
    try:
        await upgrade(store.engine)
        await _old_rows(store)
        clock.advance(days=7, hours=12)
        await _new_rows(store)
        clock.advance(hours=12)
        assert await purge_housekeeping(store, SETTINGS) == 5
        async with store.read() as tx:
            assert [await tx.inbox.state(TG, e) for e in ("1", "2", "3", "4", "5")] == [
                None,
                "pending",
                "failed",
                "working",
                "done",
            ]
    finally:
        await store.close()
