"""The inbox: de-duplication by event id and by the message it carries, one claim at a time,
backoff, failure, clean-up."""

from __future__ import annotations

from datetime import timedelta

from crm_store.inbox import MAX_ATTEMPTS
from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import FakeClock

TG = "telegram"


async def test_a_redelivery_is_refused_and_a_claim_is_exclusive(store: Store, clock: FakeClock) -> None:
    async with store.write("t") as tx:
        assert await tx.inbox.add(TG, "10", {"update_id": 10, "message": {"text": "hi"}})
        assert not await tx.inbox.add(TG, "10", {"update_id": 10})
        assert await tx.inbox.add(TG, "11", {"update_id": 11})
        assert await tx.inbox.unfinished(TG) == ["10", "11"]
        assert await tx.inbox.claim(TG, "10") == {"update_id": 10, "message": {"text": "hi"}}
        assert await tx.inbox.claim(TG, "10") is None  # another worker's, for now
        assert await tx.inbox.unfinished(TG) == ["11"]
    clock.advance(minutes=3)  # the worker died: its claim lapses
    async with store.write("t") as tx:
        assert await tx.inbox.claim(TG, "10") is not None
        await tx.inbox.finish(TG, "10")
        assert await tx.inbox.claim(TG, "10") is None
        assert await tx.inbox.state(TG, "10") == "done"


async def test_a_failing_update_backs_off_then_fails_and_done_rows_are_purged(
    store: Store, clock: FakeClock
) -> None:
    async with store.write("t") as tx:
        await tx.inbox.add(TG, "7", {"update_id": 7})
    for attempt in range(1, MAX_ATTEMPTS + 1):
        async with store.write("t") as tx:
            assert await tx.inbox.claim(TG, "7", due_only=False) is not None
            state = await tx.inbox.release(TG, "7", error="RuntimeError")
            assert await tx.inbox.unfinished(TG) == []  # backing off
        assert state == ("failed" if attempt == MAX_ATTEMPTS else "pending")
    async with store.write("t") as tx:
        assert await tx.inbox.unfinished(TG, due_only=False) == []
        await tx.inbox.add(TG, "8", {"update_id": 8})
        await tx.inbox.claim(TG, "8")
        await tx.inbox.finish(TG, "8")
    clock.advance(days=2)
    async with store.write("t") as tx:
        assert await tx.inbox.purge_done_before(clock.now - timedelta(days=1)) == 1
        assert await tx.inbox.state(TG, "7") == "failed"  # kept for an operator


async def _same_message_under_new_update_ids_is_refused(store: Store) -> None:
    async with store.write("t") as tx:
        assert await tx.inbox.add(TG, "10", {"update_id": 10}, dedupe_key="555:message:7")
        assert not await tx.inbox.add(TG, "11", {"update_id": 11}, dedupe_key="555:message:7")
        assert not await tx.inbox.add(TG, "10", {"update_id": 10}, dedupe_key="555:message:8")
        assert await tx.inbox.add(TG, "12", {"update_id": 12}, dedupe_key="555:message:8")
        assert await tx.inbox.add(TG, "13", {"update_id": 13}, dedupe_key="556:message:7")
        assert await tx.inbox.add("other", "11", {"update_id": 11}, dedupe_key="555:message:7")
        # Rows stored before the key existed, or kinds without one, are told apart by event id.
        assert await tx.inbox.add(TG, "20", {"update_id": 20})
        assert await tx.inbox.add(TG, "21", {"update_id": 21})
        assert await tx.inbox.unfinished(TG) == ["10", "12", "13", "20", "21"]


async def test_the_same_message_under_a_new_event_id_is_refused(store: Store) -> None:
    await _same_message_under_new_update_ids_is_refused(store)


async def test_the_same_message_under_a_new_event_id_is_refused_on_postgres(
    pg_url: str, clock: FakeClock
) -> None:
    store = Store.open(pg_url, clock=clock)
    try:
        await upgrade(store.engine)
        await _same_message_under_new_update_ids_is_refused(store)
    finally:
        await store.close()


async def test_an_update_stored_claimed_is_no_other_workers_until_its_claim_lapses(
    store: Store, clock: FakeClock
) -> None:
    async with store.write("t") as tx:
        assert await tx.inbox.add(TG, "20", {"update_id": 20}, claim_ttl=timedelta(minutes=2))
        assert not await tx.inbox.add(TG, "20", {"update_id": 20}, claim_ttl=timedelta(minutes=2))
        assert await tx.inbox.state(TG, "20") == "working"
        assert await tx.inbox.unfinished(TG, due_only=False) == []
        assert await tx.inbox.claim(TG, "20") is None
    clock.advance(minutes=3)  # the worker died before handling it
    async with store.write("t") as tx:
        assert await tx.inbox.claim(TG, "20") == {"update_id": 20}
