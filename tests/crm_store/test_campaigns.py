"""Campaigns and recipients, on SQLite and PostgreSQL: the life of a campaign (draft, scheduled,
sending, sent, cancelled), idempotent audiences, the pending queue with deferrals, counts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from crm_store.campaigns import NewRecipient
from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import T0, FakeClock


@pytest.fixture
async def book(db_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = Store.open(db_url, clock=clock)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


async def _customers(store: Store, n: int) -> list[int]:
    async with store.write("t") as tx:
        return [(await tx.customers.add(name=f"Customer {i}")).id for i in range(n)]


async def test_a_draft_is_edited_scheduled_started_and_finished_once(book: Store) -> None:
    async with book.write("t") as tx:
        made = await tx.campaigns.create("Spring promo", created_by_rep_id=None)
        assert made.state == "draft" and made.control_pct == 0
        assert await tx.campaigns.edit(made.id, audience="tag:vip", body="Hi", control_pct=10)
        with pytest.raises(ValueError):
            await tx.campaigns.edit(made.id, state="sent")
        assert await tx.campaigns.schedule(made.id, T0 + timedelta(hours=2))
    async with book.read() as tx:
        assert await tx.campaigns.due_to_start(T0 + timedelta(hours=1)) == []
        assert await tx.campaigns.due_to_start(T0 + timedelta(hours=2)) == [made.id]
        got = await tx.campaigns.get(made.id)
        assert got is not None and (got.audience, got.body, got.control_pct) == ("tag:vip", "Hi", 10)
        assert got.state == "scheduled"
        assert await tx.campaigns.get(made.id + 1000) is None
    async with book.write("t") as tx:
        assert await tx.campaigns.mark_sending(made.id)
        assert not await tx.campaigns.mark_sending(made.id)  # started already
        assert not await tx.campaigns.edit(made.id, body="changed")  # fixed once sending
        assert await tx.campaigns.sending() == [made.id]
        assert await tx.campaigns.finish(made.id)
        assert not await tx.campaigns.finish(made.id)
        assert await tx.campaigns.cancel(made.id) is None  # sent: nothing to cancel
    async with book.read() as tx:
        done = await tx.campaigns.get(made.id)
        assert done is not None and done.state == "sent" and done.finished_at is not None
        assert [c.id for c in await tx.campaigns.finished_between(T0, T0 + timedelta(days=1))] == [made.id]
        assert await tx.campaigns.due_to_start(T0 + timedelta(days=1)) == []
        actions = [a.action for a in await tx.audit.recent(entity="campaign", entity_id=made.id)]
        assert actions == ["finish", "start", "schedule", "update", "create"]


async def test_recipients_are_added_once_and_pending_ones_come_in_their_time(
    book: Store, clock: FakeClock
) -> None:
    ids = await _customers(book, 5)
    async with book.write("t") as tx:
        made = await tx.campaigns.create("Promo", created_by_rep_id=None)
        rows = [
            NewRecipient(ids[0]),
            NewRecipient(ids[1]),
            NewRecipient(ids[2], arm="control"),
            NewRecipient(ids[3], state="skipped", reason="no Telegram"),
            NewRecipient(ids[4]),
        ]
        assert await tx.campaigns.add_recipients(made.id, rows) == 5
        assert await tx.campaigns.add_recipients(made.id, rows) == 0  # idempotent
        assert await tx.campaigns.set_recipient(
            made.id, ids[4], state="pending", not_before=T0 + timedelta(hours=12)
        )
    async with book.read() as tx:
        due = await tx.campaigns.next_pending(made.id, T0, 10)
        assert [r.customer_id for r in due] == [ids[0], ids[1]]  # not control, skipped, deferred
        assert [r.customer_id for r in await tx.campaigns.next_pending(made.id, T0, 1)] == [ids[0]]
        later = await tx.campaigns.next_pending(made.id, T0 + timedelta(hours=12), 10)
        assert [r.customer_id for r in later] == [ids[0], ids[1], ids[4]]
    clock.advance(minutes=1)
    async with book.write("t") as tx:
        await tx.campaigns.set_recipient(made.id, ids[0], state="queued", outbox_key="campaign:1:x")
        await tx.campaigns.set_recipient(made.id, ids[0], state="sent", message_id="77")
        await tx.campaigns.set_recipient(made.id, ids[1], state="failed", reason="blocked the bot")
        with pytest.raises(ValueError):
            await tx.campaigns.set_recipient(made.id, ids[1], state="lost")
    async with book.read() as tx:
        sent = await tx.campaigns.recipient(made.id, ids[0])
        assert sent is not None and sent.outbox_key == "campaign:1:x" and sent.message_id == "77"
        assert sent.queued_at == clock.now and sent.sent_at == clock.now
        assert await tx.campaigns.delivered(made.id) == 1
        assert await tx.campaigns.left_to_send(made.id) == 1  # ids[4], deferred
        assert await tx.campaigns.counts(made.id) == {
            ("send", "sent", None): 1,
            ("send", "failed", "blocked the bot"): 1,
            ("send", "pending", None): 1,
            ("send", "skipped", "no Telegram"): 1,
            ("control", "pending", None): 1,
        }
        arms = await tx.campaigns.arms(made.id)
        assert arms == {"send": [ids[0], ids[1], ids[3], ids[4]], "control": [ids[2]]}


async def test_cancel_stops_every_pending_recipient_and_only_them(book: Store) -> None:
    ids = await _customers(book, 3)
    async with book.write("t") as tx:
        made = await tx.campaigns.create("Promo", created_by_rep_id=None)
        await tx.campaigns.add_recipients(made.id, [NewRecipient(i) for i in ids])
        assert await tx.campaigns.mark_sending(made.id)
        await tx.campaigns.set_recipient(made.id, ids[0], state="queued", outbox_key="k")
    async with book.write("t") as tx:
        assert await tx.campaigns.cancel(made.id) == 2
        assert await tx.campaigns.cancel(made.id) is None  # once
    async with book.read() as tx:
        assert await tx.campaigns.next_pending(made.id, T0, 10) == []
        counts = await tx.campaigns.counts(made.id)
        assert counts == {("send", "queued", None): 1, ("send", "cancelled", None): 2}
        got = await tx.campaigns.get(made.id)
        assert got is not None and got.state == "cancelled" and got.cancelled_at is not None
