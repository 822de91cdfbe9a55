"""The loyalty recompute SQL on both dialects: the book of test_loyalty.py scored on PostgreSQL
gives the figures worked out by hand, and the same figures as on SQLite for every customer."""

from __future__ import annotations

from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import FakeClock
from tests.crm_store.test_loyalty import TOLERANCE, check_hand_computed, score_book


async def test_recompute_gives_the_same_scores_on_sqlite_and_postgresql(sqlite_url: str, pg_url: str) -> None:
    lite_clock, pg_clock = FakeClock(), FakeClock()
    lite = Store.open(sqlite_url, clock=lite_clock)
    pg = Store.open(pg_url, clock=pg_clock)
    try:
        await upgrade(pg.engine)
        on_sqlite = await score_book(lite, lite_clock)
        on_pg = await score_book(pg, pg_clock)
    finally:
        await lite.close()
        await pg.close()

    check_hand_computed(on_pg)  # the figures worked out by hand (and checked on SQLite alone)
    assert on_sqlite.keys() == on_pg.keys()
    exact = ("customer_id", "recency_days", "order_count", "revenue_cents", "negatives", "open_tickets")
    for name, lite_score in on_sqlite.items():
        pg_score = on_pg[name]
        assert abs(lite_score.score - pg_score.score) < TOLERANCE, name
        assert abs(lite_score.churn_risk - pg_score.churn_risk) < TOLERANCE, name
        assert [getattr(lite_score, f) for f in (*exact, "breached_tickets")] == [
            getattr(pg_score, f) for f in (*exact, "breached_tickets")
        ], name
        for part in ("sentiment", "csat"):
            a, b = getattr(lite_score, part), getattr(pg_score, part)
            assert (a is None) == (b is None) and (a is None or abs(a - b) < TOLERANCE), (name, part)
