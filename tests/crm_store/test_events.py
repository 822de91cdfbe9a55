"""Processed events: a claim succeeds once per (platform, event id), across transactions; a
delivery holds an event while it answers, and a retry takes it over only if that holder let go."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crm_store.store import Store
from crm_store.tables import processed_events
from tests.conftest import T0, FakeClock


async def test_claim_is_true_once_per_platform_and_event(store: Store) -> None:
    async with store.write("test") as tx:
        assert await tx.events.claim("slack", "Ev1") is True
    async with store.write("test") as tx:
        assert await tx.events.claim("slack", "Ev1") is False
        assert await tx.events.claim("telegram", "Ev1") is True
        assert await tx.events.claim("slack", "Ev2") is True


async def test_claim_on_postgres(pg_url: str) -> None:
    from crm_store.migrate import upgrade

    store = Store.open(pg_url)
    try:
        await upgrade(store.engine)
        async with store.write("test") as tx:
            assert await tx.events.claim("slack", "Ev1") is True
            assert await tx.events.claim("slack", "Ev1") is False
    finally:
        await store.close()


async def _lease_cycle(store: Store, clock: FakeClock) -> None:
    """One event through its deliveries: held, waited on, released, taken over, answered."""
    lease = timedelta(seconds=30)
    async with store.write("test") as tx:
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "taken"
    async with store.write("test") as tx:  # a retry while the first delivery answers
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "held"
        assert await tx.events.take("slack", "Ev10", ttl=lease) == "taken"  # another event: free
    clock.advance(seconds=20)
    async with store.write("test") as tx:
        await tx.events.renew("slack", "Ev9", ttl=lease)
    clock.advance(seconds=20)  # 40 s after the take, 20 s after the renewal: still held
    async with store.write("test") as tx:
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "held"
        await tx.events.release("slack", "Ev9")  # its answer failed: free at once
    async with store.write("test") as tx:
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "taken"
    clock.advance(seconds=31)  # that holder died without a word: its lease lapses
    async with store.write("test") as tx:
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "taken"
        await tx.events.answered("slack", "Ev9")
    clock.advance(days=1)
    async with store.write("test") as tx:
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "answered"
        await tx.events.release("slack", "Ev9")  # a late failure report reopens nothing
        assert await tx.events.take("slack", "Ev9", ttl=lease) == "answered"
        assert await tx.events.claim("slack", "Ev9") is False  # the one-use claim sees it too


async def test_take_holds_an_event_until_answered_released_or_lapsed(store: Store, clock: FakeClock) -> None:
    await _lease_cycle(store, clock)


async def test_take_on_postgres(pg_url: str) -> None:
    from crm_store.migrate import upgrade

    clock = FakeClock()
    store = Store.open(pg_url, clock=clock)
    try:
        await upgrade(store.engine)
        await _lease_cycle(store, clock)
    finally:
        await store.close()


async def test_events_claimed_before_the_migration_stay_answered(tmp_path: Path) -> None:
    """Rows from the claim-before-handling days were final: a late retry must not reopen them."""
    from crm_store.migrate import upgrade

    store = Store.open(f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}", clock=FakeClock())
    try:
        await upgrade(store.engine, "0008")
        async with store.engine.begin() as conn:
            await conn.execute(
                processed_events.insert().values(platform="slack", event_id="EvOld", received_at=T0)
            )
        await upgrade(store.engine)
        async with store.write("test") as tx:
            assert await tx.events.take("slack", "EvOld", ttl=timedelta(seconds=30)) == "answered"
    finally:
        await store.close()
