"""Consent events and reach, on SQLite and PostgreSQL: the latest event counts, and each customer
who cannot get a campaign has one reason (erased, no Telegram, stopped, blocked the bot)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import FakeClock


@pytest.fixture
async def book(db_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = Store.open(db_url, clock=clock)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


async def test_the_latest_consent_event_counts_and_history_keeps_them_all(book: Store) -> None:
    async with book.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        await tx.consents.record(acme.id, "stopped", source="button")
    async with book.read() as tx:
        assert await tx.consents.stopped([acme.id]) == {acme.id}
    async with book.write("t") as tx:
        await tx.consents.record(acme.id, "subscribed", source="command")
    async with book.read() as tx:
        assert await tx.consents.stopped([acme.id]) == set()
        assert [(e.state, e.source) for e in await tx.consents.history(acme.id)] == [
            ("stopped", "button"),
            ("subscribed", "command"),
        ]


async def test_each_unreachable_customer_has_one_reason(book: Store) -> None:
    async with book.write("t") as tx:
        linked = await tx.customers.add(name="Linked")
        unlinked = await tx.customers.add(name="Unlinked")
        stopped = await tx.customers.add(name="Stopped")
        blocked = await tx.customers.add(name="Blocked")
        for number, customer in enumerate((linked, stopped, blocked), start=1):
            await tx.people.link_customer(
                platform="telegram", external_id=str(number), customer_id=customer.id
            )
        await tx.consents.record(stopped.id, "stopped", source="command")
        assert await tx.consents.mark_blocked("telegram", "3")
        assert not await tx.consents.mark_blocked("telegram", "3")  # once
    ids = [linked.id, unlinked.id, stopped.id, blocked.id, 10**9]
    async with book.read() as tx:
        assert await tx.consents.unreachable(ids) == {
            unlinked.id: "no Telegram",
            stopped.id: "stopped",
            blocked.id: "blocked the bot",
            10**9: "erased",
        }
    async with book.write("t") as tx:
        assert await tx.consents.mark_unblocked("telegram", "3")
    async with book.read() as tx:
        assert blocked.id not in await tx.consents.unreachable(ids)
