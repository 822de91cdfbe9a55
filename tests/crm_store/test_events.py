"""Processed events: a claim succeeds once per (platform, event id), across transactions."""

from __future__ import annotations

from crm_store.store import Store


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
