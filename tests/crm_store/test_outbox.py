"""The outbox repository: idempotent enqueue, atomic claims (one per chat, in order), leases."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import FakeClock

LEASE = timedelta(seconds=60)


async def test_enqueue_is_idempotent_and_claims_go_one_per_chat_in_order(
    store: Store, clock: FakeClock
) -> None:
    async with store.write("t") as tx:
        assert await tx.outbox.enqueue(platform="telegram", target="1", payload={"text": "a"}, key="k1")
        assert not await tx.outbox.enqueue(platform="telegram", target="1", payload={"text": "a"}, key="k1")
        await tx.outbox.enqueue(platform="telegram", target="1", payload={"text": "b"}, key="k2")
        await tx.outbox.enqueue(platform="telegram", target="2", payload={"text": "c"}, key="k3")
        await tx.outbox.enqueue(platform="slack", target="C1", payload={"text": "d"}, key="k4")
    async with store.write("t") as tx:
        first = await tx.outbox.claim_due(platforms=["telegram"], limit=10, lease=LEASE)
    assert [r.payload["text"] for r in first] == ["a", "c"] and all(r.attempts == 1 for r in first)
    async with store.write("t") as tx:
        assert await tx.outbox.claim_due(platforms=["telegram"], limit=10, lease=LEASE) == []
        assert await tx.outbox.mark_sent(first[0].id, "m-1")
        assert [
            r.payload["text"]
            for r in await tx.outbox.claim_due(platforms=["telegram"], limit=10, lease=LEASE)
        ] == ["b"]
    # The dispatcher holding "c" died: after the lease, "c" is claimable again.
    clock.advance(seconds=61)
    async with store.write("t") as tx:
        again = await tx.outbox.claim_due(platforms=["telegram"], limit=10, lease=LEASE)
        assert {r.payload["text"] for r in again} == {"b", "c"}
        row = await tx.outbox.get(first[0].id)
    assert row is not None and row.state == "sent" and row.sent_message_id == "m-1"


async def test_postgres_claims_never_overlap(pg_url: str, clock: FakeClock) -> None:
    stores = [Store.open(pg_url, clock=clock) for _ in range(4)]
    await upgrade(stores[0].engine)
    try:
        async with stores[0].write("t") as tx:
            for n in range(500):
                await tx.outbox.enqueue(
                    platform="telegram", target=str(n), payload={"text": str(n)}, key=f"k{n}"
                )

        async def _claim_all(store: Store) -> list[int]:
            taken: list[int] = []
            while True:
                async with store.write("t") as tx:
                    rows = await tx.outbox.claim_due(platforms=["telegram"], limit=7, lease=LEASE)
                if not rows:
                    return taken
                taken += [r.id for r in rows]

        claimed = await asyncio.gather(*(_claim_all(s) for s in stores))
        ids = [i for batch in claimed for i in batch]
        assert len(ids) == 500 == len(set(ids))
    finally:
        for store in stores:
            await store.close()
