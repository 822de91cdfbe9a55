"""Pages of a customer's interactions: newest first by when they happened, kind and since
filters, and a keyset that neither skips nor repeats when one is logged between pages."""

from __future__ import annotations

from datetime import timedelta

from crm_store.store import Store
from tests.conftest import T0, FakeClock


async def test_pages_are_newest_first_and_stable(store: Store, clock: FakeClock) -> None:
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")
        other = await tx.customers.add(name="Other")
        # Two at the same moment, one backdated, and one for someone else.
        ids = [
            await tx.interactions.add(
                customer_id=acme.id, rep_id=None, channel="api", kind=k, text=k, occurred_at=at
            )
            for k, at in (
                ("call", T0 - timedelta(days=1)),
                ("note", T0),
                ("email", T0),
                ("meeting", T0 - timedelta(days=30)),
            )
        ]
        await tx.interactions.add(customer_id=other.id, rep_id=None, channel="api", kind="note", text="x")
    async with store.read() as tx:
        first = await tx.interactions.page(acme.id, limit=2)
        assert [i.id for i in first] == [ids[2], ids[1]]
        key = (first[-1].occurred_at, first[-1].id)
    clock.advance(minutes=1)
    async with store.write("test") as tx:
        await tx.interactions.add(customer_id=acme.id, rep_id=None, channel="api", kind="note", text="new")
    async with store.read() as tx:
        rest = await tx.interactions.page(acme.id, limit=10, before=key)
        assert [i.id for i in rest] == [ids[0], ids[3]]
        calls = await tx.interactions.page(acme.id, limit=10, kind="call")
        assert [i.kind for i in calls] == ["call"]
        recent = await tx.interactions.page(acme.id, limit=10, since=T0 - timedelta(days=2))
        assert len(recent) == 4 and ids[3] not in {i.id for i in recent}
        assert (await tx.interactions.get(ids[0])) == rest[0]
        assert await tx.interactions.get(10_000) is None
