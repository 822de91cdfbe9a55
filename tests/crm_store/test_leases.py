"""Leases: one holder at a time, renewal, expiry, release, and a race on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import FakeClock

TTL = timedelta(seconds=30)


async def _acquire(store: Store, holder: str) -> bool:
    async with store.write(holder) as tx:
        return await tx.leases.acquire("telegram-poller", holder=holder, ttl=TTL)


async def test_one_holder_renews_until_it_expires_or_releases(store: Store, clock: FakeClock) -> None:
    assert await _acquire(store, "a") and not await _acquire(store, "b")
    clock.advance(seconds=20)
    assert await _acquire(store, "a")  # renewed: good for 30 s from now
    clock.advance(seconds=20)
    assert not await _acquire(store, "b")
    clock.advance(seconds=11)
    assert await _acquire(store, "b") and not await _acquire(store, "a")  # a went quiet
    async with store.write("b") as tx:
        assert await tx.leases.release("telegram-poller", holder="b")
        assert not await tx.leases.release("telegram-poller", holder="a")
        assert await tx.leases.holder("telegram-poller") is None
    assert await _acquire(store, "a")


async def test_racing_replicas_on_postgres_get_one_lease(pg_url: str, clock: FakeClock) -> None:
    stores = [Store.open(pg_url, clock=clock) for _ in range(6)]
    await upgrade(stores[0].engine)
    try:
        won = await asyncio.gather(*(_acquire(s, f"replica-{n}") for n, s in enumerate(stores)))
        assert sum(won) == 1
        clock.advance(seconds=31)
        won = await asyncio.gather(*(_acquire(s, f"replica-{n}") for n, s in enumerate(stores)))
        assert sum(won) == 1
    finally:
        for s in stores:
            await s.close()
