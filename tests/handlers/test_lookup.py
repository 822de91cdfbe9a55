"""The customer lookup follows this process's writes at once and other replicas' within seconds."""

from __future__ import annotations

from crm_store.store import Store
from handlers.lookup import CustomerLookup


async def test_other_replicas_writes_are_followed_after_the_refresh_interval(store: Store) -> None:
    mine = CustomerLookup(store, refresh_seconds=0)
    await mine.refresh(force=True)
    theirs = CustomerLookup(store, refresh_seconds=0)  # another replica on the same database
    async with store.write("replica-b") as tx:
        added = await tx.customers.add(name="Initech", email="bill@initech.example")
    theirs.note(added)
    assert (await mine.search("initech"))[0].customer.id == added.id  # picked up by the watermark poll
    async with store.write("replica-b") as tx:
        renamed = await tx.customers.update(added.id, fields={"name": "Initrode"})
    assert (await mine.search("initrode"))[0].customer.name == "Initrode"
    async with store.write("replica-b") as tx:
        await tx.customers.soft_delete(renamed.id, reason="test")
    assert await mine.search("initrode") == []


async def test_refresh_waits_for_its_interval(store: Store) -> None:
    lookup = CustomerLookup(store, refresh_seconds=3600)
    await lookup.refresh(force=True)
    async with store.write("replica-b") as tx:
        await tx.customers.add(name="Umbrella")
    assert await lookup.refresh() == 0  # not yet due: no query per search
    assert await lookup.refresh(force=True) == 1


async def test_paging_through_many_changes(store: Store) -> None:
    async with store.write("import") as tx:
        await tx.customers.add_many([{"name": f"Customer {i:05d}"} for i in range(2_500)], source="t")
    lookup = CustomerLookup(store, refresh_seconds=0)
    lookup_page = 1_000
    applied = 0
    while True:
        async with store.read() as tx:
            page = await tx.customers.changed_since(lookup._watermark, lookup._after_id, limit=lookup_page)
        if not page:
            break
        for customer in page:
            lookup.note(customer)
        lookup._watermark, lookup._after_id = page[-1].updated_at, page[-1].id
        applied += len(page)
    assert applied == 2_500 and len(lookup.index) == 2_500


async def test_a_lagging_replica_clock_does_not_hide_its_writes(store: Store, db_url: str, clock) -> None:
    from datetime import timedelta

    from tests.conftest import FakeClock

    lookup = CustomerLookup(store, refresh_seconds=0)
    async with store.write("replica-a") as tx:
        await tx.customers.add(name="Acme")
    await lookup.refresh()
    lagging = Store.open(db_url, clock=FakeClock(clock.now - timedelta(seconds=3)))
    try:
        async with lagging.write("replica-b") as tx:
            await tx.customers.add(name="Globex")  # stamped before the watermark we hold
    finally:
        await lagging.close()
    clock.advance(seconds=1)
    assert [c.customer.name for c in await lookup.search("globex")] == ["Globex"]


async def test_person_from_company(store: Store) -> None:
    lookup = CustomerLookup(store, refresh_seconds=0)
    async with store.write("t") as tx:
        await tx.customers.add(name="Globex Corporation", company="Globex Corporation")
        hank = await tx.customers.add(name="Hank Scorpio", company="Globex Corporation")
        await tx.customers.add(name="Hank Hill", company="Strickland Propane")
    resolution = await lookup.resolve("hank from globex")
    assert resolution.customer is not None and resolution.customer.id == hank.id
