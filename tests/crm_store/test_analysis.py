"""crm_store/analysis.py: the reports' bulk reads give the figures worked out by hand, the same on
SQLite and PostgreSQL, and leave deleted and (under owner access) other reps' customers out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np

from crm_store.loyalty import LoyaltyModel
from crm_store.migrate import upgrade
from crm_store.store import Store
from tests.conftest import T0, FakeClock
from tests.handlers.reporting import customer, feedback, said, ticket


async def _book(store: Store, clock: FakeClock) -> dict[str, Any]:
    async with store.write("test") as tx:
        rep = await tx.people.add_rep(display_name="Dana")
        other = await tx.people.add_rep(display_name="Bea")
    mine = await customer(store, "Mine", owner=rep.id)
    theirs = await customer(store, "Theirs", owner=other.id)
    gone = await customer(store, "Gone")
    day = timedelta(days=1)
    await ticket(store, clock, customer_id=mine, at=T0 - 5 * day, subject="Late parcel", text="Where is it?",
                 sentiment=-0.5, answer_after=timedelta(minutes=30), rating=2)  # fmt: skip
    await ticket(store, clock, customer_id=mine, at=T0 - 3 * day, subject="Refund", text="Money back",
                 sentiment=-0.7, answer_after=timedelta(minutes=90), rating=4)  # fmt: skip
    await ticket(store, clock, customer_id=theirs, at=T0 - 2 * day, subject="Login", rating=5,
                 answer_after=timedelta(minutes=10))  # fmt: skip
    await ticket(store, clock, customer_id=gone, at=T0 - 2 * day, subject="Secret", rating=1)
    await said(store, clock, customer_id=mine, at=T0 - 4 * day, text="Happy call", sentiment=0.6)
    await feedback(store, clock, customer_id=theirs, at=T0 - day, text="Great", sentiment=0.9)
    await feedback(store, clock, customer_id=mine, at=T0 - 400 * day, text="Long ago", sentiment=-1.0)
    clock.now = T0 - day
    async with store.write("test") as tx:
        await tx.orders.add(customer_id=mine, rep_id=None, amount_cents=12_000)
        await tx.orders.add(customer_id=mine, rep_id=None, amount_cents=3_000)
        await tx.loyalty.recompute(LoyaltyModel(), run_date="2026-11-22")
    clock.now = T0
    async with store.write("test") as tx:
        await tx.loyalty.recompute(LoyaltyModel(), run_date="2026-11-23")
        await tx.privacy.erase_customer(gone)
    return {"mine": mine, "theirs": theirs, "rep": rep.id}


async def _read(store: Store, owner: int | None) -> dict[str, Any]:
    since, until = T0 - timedelta(days=30), T0 + timedelta(seconds=1)
    async with store.read() as tx:
        figures = await tx.analysis.customer_figures(since, until, owner=owner)
        return {
            "ratings": sorted(r for _, r in await tx.analysis.ratings(since, until, owner=owner)),
            "sentiments": [s for _, s in await tx.analysis.sentiments(since, until, owner=owner)],
            "texts": sorted(
                (p.source, p.text, p.sentiment) for p in await tx.analysis.texts(since, until, owner=owner)
            ),
            "ids": figures.customer_id.tolist(),
            "columns": {k: v.tolist() for k, v in figures.columns.items()},
            "runs": await tx.analysis.loyalty_runs(days_back=1, owner=owner),
        }


def _check(found: dict[str, Any], ids: dict[str, Any]) -> None:
    mine, theirs = ids["mine"], ids["theirs"]
    assert found["ratings"] == [2, 4, 5]  # the erased customer's rating is gone with them
    assert found["sentiments"] == [0.6, 0.9]  # interactions and feedback; 400 days ago is out
    assert found["texts"] == [
        ("feedback", "Great", 0.9),
        ("interaction", "Happy call", 0.6),
        ("ticket", "Late parcel\nWhere is it?", -0.5),
        ("ticket", "Login", None),
        ("ticket", "Refund\nMoney back", -0.7),
    ]
    assert found["ids"] == [mine, theirs]
    columns = found["columns"]
    assert columns["csat"] == [3.0, 5.0]
    assert np.allclose(columns["first_response"], [60.0, 10.0])  # mean of 30 and 90 minutes
    assert columns["orders"] == [2.0, 0.0] and columns["revenue"] == [150.0, 0.0]
    assert columns["tickets"] == [2.0, 1.0]
    assert columns["sentiment"] == [0.6, 0.9]
    assert all(not np.isnan(v) for v in columns["loyalty"])
    runs = found["runs"]
    assert (runs.latest, runs.earlier) == ("2026-11-23", "2026-11-22")
    assert set(runs.scores) == set(runs.earlier_scores) == {mine, theirs}


async def test_figures_by_hand_and_owner_scope(store: Store, clock: FakeClock) -> None:
    ids = await _book(store, clock)
    _check(await _read(store, None), ids)
    scoped = await _read(store, ids["rep"])
    assert scoped["ids"] == [ids["mine"]] and scoped["ratings"] == [2, 4]
    assert set(scoped["runs"].scores) == {ids["mine"]}
    assert [t for t in scoped["texts"] if "Login" in t[1] or "Great" in t[1]] == []


async def test_the_same_on_postgresql(pg_url: str) -> None:
    clock = FakeClock()
    pg = Store.open(pg_url, clock=clock)
    try:
        await upgrade(pg.engine)
        ids = await _book(pg, clock)
        _check(await _read(pg, None), ids)
    finally:
        await pg.close()
