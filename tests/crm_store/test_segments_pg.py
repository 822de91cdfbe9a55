"""Segments on PostgreSQL: the same features as on SQLite for the same book, and a whole run."""

from __future__ import annotations

import numpy as np

from crm_store.migrate import upgrade
from crm_store.store import Store
from handlers.segment_run import recompute_segments
from tests.conftest import FakeClock
from tests.segment_book import plant


async def test_features_and_a_run_agree_with_sqlite(db_url: str, pg_url: str) -> None:
    found = {}
    runs = {}
    for name, url in (("sqlite", db_url), ("postgresql", pg_url)):
        store = Store.open(url, clock=FakeClock())
        try:
            await upgrade(store.engine)
            await plant(store)
            async with store.read() as tx:
                found[name] = await tx.segments.features()
            runs[name] = await recompute_segments(store)
            async with store.read() as tx:
                assert (await tx.segments.of_customer(1)) is not None
        finally:
            await store.close()
    lite, pg = found["sqlite"], found["postgresql"]
    assert lite.customer_ids.tolist() == pg.customer_ids.tolist()
    assert np.allclose(lite.raw, pg.raw, equal_nan=True, atol=1e-6)
    assert [(s.name, s.size) for s in runs["sqlite"].segments] == [
        (s.name, s.size) for s in runs["postgresql"].segments
    ]
