"""The next-product reads: every line in bulk, one customer's held products net of returns."""

from __future__ import annotations

from datetime import timedelta

import numpy as np

from crm_store.migrate import upgrade
from crm_store.recommend import day_of
from crm_store.store import Store


async def _check_reads(store: Store) -> None:
    async with store.write("test") as tx:
        mug = await tx.catalog.add_product(sku="MUG", name="Blue mug")
        pot = await tx.catalog.add_product(sku="POT", name="Red teapot")
        ann = await tx.customers.add(name="Ann")
        bob = await tx.customers.add(name="Bob")
        gone = await tx.customers.add(name="Gone")
        early = tx.now - timedelta(days=10)
        await tx.orders.add_with_lines(
            customer_id=ann.id, lines=[(mug, 2, 500), (pot, 1, 900)], ordered_at=early
        )
        await tx.orders.add_with_lines(customer_id=ann.id, lines=[(mug, 1, 500)])
        await tx.orders.add_with_lines(customer_id=ann.id, lines=[(pot, -1, 900)])  # returned the teapot
        await tx.orders.add_with_lines(customer_id=bob.id, lines=[(pot, 1, 900)], ordered_at=early)
        await tx.orders.add_with_lines(customer_id=gone.id, lines=[(mug, 1, 500)])
        await tx.customers.soft_delete(gone.id, reason="test")
        now = tx.now
    async with store.read() as tx:
        lines = await tx.recommend.lines()
        ann_held = await tx.recommend.held(ann.id)
        bob_held = await tx.recommend.held(bob.id)
        everyone = await tx.recommend.customer_ids()
    assert len(lines.customer_ids) == 5  # the deleted customer's line is left out
    assert sorted(lines.quantities.tolist()) == [-1, 1, 1, 1, 2]
    assert np.isclose(lines.days.max(), day_of(now))
    assert ann_held == {mug: day_of(now)}  # the teapot went back; the mug's last order is today
    assert bob_held == {pot: day_of(now - timedelta(days=10))}
    assert everyone == [ann.id, bob.id]


async def test_lines_in_bulk_and_held_products_net_of_returns_on_sqlite(store: Store) -> None:
    await _check_reads(store)


async def test_lines_in_bulk_and_held_products_net_of_returns_on_postgresql(pg_url: str) -> None:
    store = Store.open(pg_url)
    try:
        await upgrade(store.engine)
        await _check_reads(store)
    finally:
        await store.close()
