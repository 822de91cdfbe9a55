"""The forecast repository on SQLite and PostgreSQL: orders as UTC day numbers up to a moment,
a run's forecasts stored and read back, revenue at risk ordered and owner-scoped, p_active in
the loyalty run's churn risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from crm_store.loyalty import LoyaltyModel
from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import customers
from tests.conftest import FakeClock

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DAY = (NOW.date() - datetime(1970, 1, 1).date()).days


async def _check(store: Store) -> None:
    async with store.write("test") as tx:
        rep = await tx.people.add_rep(display_name="Sam")
        other = await tx.people.add_rep(display_name="Priya")
        mine = await tx.customers.add(name="Mine", owner_rep_id=rep.id)
        theirs = await tx.customers.add(name="Theirs", owner_rep_id=other.id)
        nobodys = await tx.customers.add(name="Nobody's")
        gone = await tx.customers.add(name="Gone")
        for customer, days in ((mine.id, 0), (mine.id, 10), (theirs.id, 3), (nobodys.id, 40), (gone.id, 1)):
            await tx.orders.add(
                customer_id=customer,
                rep_id=None,
                amount_cents=1_000,
                ordered_at=NOW - timedelta(days=days, hours=1),
            )
        await tx.orders.add(
            customer_id=mine.id, rep_id=None, amount_cents=7, ordered_at=NOW + timedelta(days=2)
        )
        await tx.conn.execute(update(customers).where(customers.c.id == gone.id).values(deleted_at=NOW))
    async with store.read() as tx:
        rows = await tx.forecast.order_rows(until=NOW)
        scoped = await tx.forecast.order_rows(until=NOW, visible_to_rep=rep.id)
    got = sorted(zip(rows.customer_ids, rows.days, rows.amount_cents, strict=True))
    assert (mine.id, DAY, 1_000) in got and (mine.id, DAY - 10, 1_000) in got
    assert all(cents != 7 for _, _, cents in got)  # after ``until``
    assert gone.id not in rows.customer_ids
    assert theirs.id not in scoped.customer_ids and nobodys.id in scoped.customer_ids
    async with store.write("test") as tx:
        stored = await tx.forecast.save_run(
            run_date="2026-11-23",
            horizon_days=90,
            model="regression",
            rows=[(mine.id, 2.0, 50_000, 0.9), (theirs.id, 1.0, 90_000, 0.2), (nobodys.id, 0.5, 10_000, 0.5)],
        )
        assert stored == 3
    async with store.read() as tx:
        latest = await tx.forecast.latest_for(theirs.id)
        risky = await tx.forecast.revenue_at_risk(limit=5)
        risky_mine = await tx.forecast.revenue_at_risk(limit=5, visible_to_rep=rep.id)
    assert (
        latest is not None
        and latest.p_active == pytest.approx(0.2)
        and latest.expected_revenue_cents == 90_000
    )
    # (1 - p) x revenue / p: theirs 360,000; nobody's 10,000; mine 5,556
    assert [f.customer_id for f in risky] == [theirs.id, nobodys.id, mine.id]
    assert risky[0].revenue_at_risk_cents == 360_000
    assert [f.customer_id for f in risky_mine] == [nobodys.id, mine.id]
    risk = {}
    for run_date, model in (
        ("2026-11-23", LoyaltyModel()),
        ("2026-11-24", LoyaltyModel(forecast_weight=0.0)),
    ):
        async with store.write("test") as tx:
            await tx.loyalty.recompute(model, run_date=run_date)
            risk[run_date] = {
                cid: (await tx.loyalty.for_customer(cid))[0].churn_risk for cid in (mine.id, theirs.id)
            }
    blended, curve = risk["2026-11-23"], risk["2026-11-24"]
    for cid, p in ((mine.id, 0.9), (theirs.id, 0.2)):
        assert blended[cid] == pytest.approx(0.5 * curve[cid] + 0.5 * (1 - p))
    assert blended[theirs.id] > curve[theirs.id]  # unlikely to order: riskier than the curve says


async def test_on_sqlite(db_url: str) -> None:
    store = Store.open(db_url, clock=FakeClock(NOW))
    try:
        await _check(store)
    finally:
        await store.close()


async def test_on_postgresql(pg_url: str) -> None:
    store = Store.open(pg_url, clock=FakeClock(NOW))
    try:
        await upgrade(store.engine)
        await _check(store)
    finally:
        await store.close()
