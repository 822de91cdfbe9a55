"""The outbox repository: idempotent enqueue, atomic claims (one per chat, in order), short
leases renewed by their owner, released at a clean stop, taken over when their owner died."""

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
                assert len(rows) <= 7  # a claim never takes more than it asked for
                taken += [r.id for r in rows]

        claimed = await asyncio.gather(*(_claim_all(s) for s in stores))
        ids = [i for batch in claimed for i in batch]
        assert len(ids) == 500 == len(set(ids))
    finally:
        for store in stores:
            await store.close()


SHORT = timedelta(seconds=15)


async def _claim(store: Store, owner: str, *, limit: int = 10) -> list[str]:
    async with store.write("t") as tx:
        rows = await tx.outbox.claim_due(platforms=["telegram"], limit=limit, lease=SHORT, owner=owner)
    return [r.payload["text"] for r in rows]


async def _stranded_claims_are_taken_over_and_renewed_ones_are_not(store: Store, clock: FakeClock) -> None:
    async with store.write("t") as tx:
        for key, chat in (("a1", "1"), ("a2", "1"), ("b1", "2"), ("b2", "2")):
            await tx.outbox.enqueue(platform="telegram", target=chat, payload={"text": key}, key=key)
    assert await _claim(store, "killed", limit=1) == ["a1"]
    assert await _claim(store, "alive", limit=1) == ["b1"]
    clock.advance(seconds=10)
    async with store.write("t") as tx:
        assert await tx.outbox.renew("alive", lease=SHORT) == 1  # still sending (a long 429 wait)
    clock.advance(seconds=10)  # 20 s: the killed owner's lease ran out, the renewed one has 5 s left
    # Only the stranded row is taken over; each chat's later row still waits for its older one.
    assert await _claim(store, "successor") == ["a1"]
    async with store.write("t") as tx:
        a1, b1 = (r for r in await tx.outbox.listing(states=("sending",)))
        assert (a1.lease_owner, a1.attempts, b1.lease_owner) == ("successor", 2, "alive")
        assert a1.lease_until == clock.now + SHORT
        # The killed owner, were it only stalled, can no longer record an outcome for its row.
        assert not await tx.outbox.mark_sent(a1.id, "stale", owner="killed")
        assert await tx.outbox.renew("killed", lease=SHORT) == 0
        assert await tx.outbox.mark_sent(a1.id, "m-a1", owner="successor")
    assert await _claim(store, "successor") == ["a2"]  # in order, behind the recovered row
    clock.advance(seconds=4)  # 24 s: "alive" renewed at 10 s, so its lease holds until 25 s
    assert await _claim(store, "successor") == []
    async with store.write("t") as tx:
        assert await tx.outbox.mark_sent(b1.id, "m-b1", owner="alive")
    assert await _claim(store, "alive") == ["b2"]


async def test_a_stranded_claim_is_taken_over_within_the_short_lease_and_a_renewed_one_is_not(
    store: Store, clock: FakeClock
) -> None:
    await _stranded_claims_are_taken_over_and_renewed_ones_are_not(store, clock)


async def test_postgres_takes_over_stranded_claims_and_keeps_renewed_ones(
    pg_url: str, clock: FakeClock
) -> None:
    store = Store.open(pg_url, clock=clock)
    await upgrade(store.engine)
    try:
        await _stranded_claims_are_taken_over_and_renewed_ones_are_not(store, clock)
    finally:
        await store.close()


async def _released_claims_are_due_at_once(store: Store) -> None:
    async with store.write("t") as tx:
        for key, chat in (("a1", "1"), ("a2", "1"), ("b1", "2"), ("c1", "3")):
            await tx.outbox.enqueue(platform="telegram", target=chat, payload={"text": key}, key=key)
    assert await _claim(store, "stopping") == ["a1", "b1", "c1"]
    assert await _claim(store, "other", limit=1) == []
    async with store.write("t") as tx:
        sent = next(r for r in await tx.outbox.listing(states=("sending",)) if r.payload["text"] == "c1")
        assert await tx.outbox.mark_sent(sent.id, "m-c1", owner="stopping")
        assert await tx.outbox.release("stopping") == 2  # what it had not sent
        assert await tx.outbox.release("stopping") == 0
        pending = await tx.outbox.listing(states=("pending",))
    # Not an attempt spent: the platform refused nothing.
    assert [(r.payload["text"], r.attempts, r.lease_owner) for r in pending] == [
        ("a1", 0, None),
        ("a2", 0, None),
        ("b1", 0, None),
    ]
    assert await _claim(store, "other") == ["a1", "b1"]  # no lease to wait out, still in order


async def test_a_clean_stop_releases_its_claims_at_once(store: Store) -> None:
    await _released_claims_are_due_at_once(store)


async def test_postgres_releases_claims_at_once(pg_url: str, clock: FakeClock) -> None:
    store = Store.open(pg_url, clock=clock)
    await upgrade(store.engine)
    try:
        await _released_claims_are_due_at_once(store)
    finally:
        await store.close()


async def test_claims_take_the_conversation_first_and_only_a_few_bulk_rows(store: Store) -> None:
    async with store.write("t") as tx:
        for n in range(10):
            await tx.outbox.enqueue(
                platform="telegram",
                target=str(100 + n),
                payload={"text": f"bulk{n}"},
                key=f"b{n}",
                priority=2,
            )
        await tx.outbox.enqueue(platform="telegram", target="9", payload={"text": "notice"}, key="n")
        await tx.outbox.enqueue(
            platform="telegram", target="8", payload={"text": "reply"}, key="r", priority=0
        )
        assert await tx.outbox.bulk_backlog() == 10
    async with store.write("t") as tx:
        rows = await tx.outbox.claim_due(platforms=["telegram"], limit=5, lease=LEASE, bulk_limit=2)
    # Lowest priority number first, oldest first within one; at most 2 bulk rows however much room.
    assert [(r.payload["text"], r.priority) for r in rows] == [
        ("reply", 0),
        ("notice", 1),
        ("bulk0", 2),
        ("bulk1", 2),
    ]
    async with store.write("t") as tx:
        rest = await tx.outbox.claim_due(platforms=["telegram"], limit=5, lease=LEASE)
        assert [r.payload["text"] for r in rest] == [f"bulk{n}" for n in range(2, 7)]
        assert await tx.outbox.bulk_backlog() == 10  # claimed is not sent
        for row in rows[2:]:
            await tx.outbox.mark_sent(row.id, "m")
        assert await tx.outbox.bulk_backlog() == 8


async def test_a_chat_keeps_its_order_whatever_the_priority(store: Store) -> None:
    async with store.write("t") as tx:
        await tx.outbox.enqueue(
            platform="telegram", target="1", payload={"text": "offer"}, key="c", priority=2
        )
        await tx.outbox.enqueue(
            platform="telegram", target="1", payload={"text": "reply"}, key="r", priority=0
        )
    async with store.write("t") as tx:
        first = await tx.outbox.claim_due(platforms=["telegram"], limit=5, lease=LEASE, bulk_limit=1)
    assert [r.payload["text"] for r in first] == ["offer"]
