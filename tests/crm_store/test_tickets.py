"""Pages of tickets for API clients: least recently updated first, filters, and a keyset under
which a ticket updated between pages comes round again instead of being skipped."""

from __future__ import annotations

from crm_store.store import Store
from tests.conftest import T0, FakeClock


async def test_pages_follow_updates(store: Store, clock: FakeClock) -> None:
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")
        other = await tx.customers.add(name="Other")
    opened = []
    for customer_id in (acme.id, other.id, acme.id):
        clock.advance(minutes=1)
        async with store.write("test") as tx:
            opened.append((await tx.tickets.open(customer_id=customer_id, subject="s", source="api")).id)
    async with store.read() as tx:
        first = await tx.tickets.page(limit=2)
        assert [t.id for t in first] == opened[:2]
        key = (first[-1].updated_at, first[-1].id)
    clock.advance(minutes=1)
    async with store.write("test") as tx:
        await tx.tickets.resolve(opened[0])  # read already, updated now: it comes round again
    async with store.read() as tx:
        rest = await tx.tickets.page(limit=10, after=key)
        assert [t.id for t in rest] == [opened[2], opened[0]]
        assert [t.id for t in await tx.tickets.page(limit=10, status="resolved")] == [opened[0]]
        assert [t.id for t in await tx.tickets.page(limit=10, status="open")] == [opened[1], opened[2]]
        assert [t.id for t in await tx.tickets.page(limit=10, customer_id=acme.id)] == [opened[2], opened[0]]
        since = await tx.tickets.page(limit=10, updated_since=T0.replace(minute=3))
        assert [t.id for t in since] == [opened[2], opened[0]]
