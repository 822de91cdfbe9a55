"""report loyalty: the latest run's score histogram and band moves against a run N days older."""

from __future__ import annotations

from sqlalchemy import insert

from crm_store.store import Store
from crm_store.tables import loyalty_scores
from handlers.messages import Actor
from handlers.report_loyalty import band_of, transitions
from handlers.router import Router
from tests.conftest import T0, Chat, all_text
from tests.handlers.reporting import customer, png_size


async def _scores(store: Store, run_date: str, scores: dict[int, float]) -> None:
    async with store.write("test") as tx:
        for customer_id, score in scores.items():
            await tx.conn.execute(
                insert(loyalty_scores).values(
                    run_date=run_date,
                    customer_id=customer_id,
                    score=score,
                    churn_risk=0.5,
                    recency_days=10,
                    order_count=1,
                    revenue_cents=100,
                    negatives=0,
                    open_tickets=0,
                    breached_tickets=0,
                    computed_at=T0,
                )
            )


def test_bands_and_transitions() -> None:
    assert [band_of(s) for s in (0, 39.9, 40, 69.9, 70, 100)] == [0, 0, 1, 1, 2, 2]
    # Rows: low, middle, high, not scored then; columns: low, middle, high now.
    assert transitions({1: 30, 2: 50, 3: 80}, {1: 75, 2: 45, 3: 35, 4: 55}) == [
        [0, 0, 1],
        [0, 1, 0],
        [1, 0, 0],
        [0, 1, 0],
    ]


async def test_histogram_and_band_moves_since_a_month_ago(
    router: Router, manager: Actor, store: Store
) -> None:
    ids = [await customer(store, name) for name in ("Up", "Stays", "Down", "New")]
    up, stays, down, new = ids
    await _scores(store, "2026-10-20", {up: 30, stays: 50, down: 80})  # 34 days before T0
    await _scores(store, "2026-11-10", {up: 90, stays: 50, down: 80})  # too recent for 30 days
    await _scores(store, "2026-11-23", {up: 75, stays: 45, down: 35, new: 55})
    boss = Chat(router, manager)
    reply = await boss.say("report loyalty")
    assert not reply.is_error, reply.text
    assert reply.title == "Loyalty report, bands against 30 days earlier"
    assert png_size(reply.image) == (1000, 600)
    text = all_text(reply)
    assert "Scores in the 2026-11-23 run, by 10 points from 0: 0 · 0 · 0 · 1 · 1 · 1 · 0 · 1 · 0 · 0" in text
    assert "Since 2026-10-20: 1 moved up a band, 1 moved down, 1 stayed, 1 were not scored then." in text
    assert "then low (under 40) → now low (under 40): 0, middle (40-69): 0, high (70+): 1" in text
    assert "then not scored → now low (under 40): 0, middle (40-69): 1, high (70+): 0" in text
    assert {f.label: f.value for f in reply.fields}["Customers scored"] == "4"
    # A week back compares with the 10 Nov run instead: Up was already high then.
    week = all_text(await boss.say("report loyalty 7"))
    assert "Since 2026-11-10: 0 moved up a band, 1 moved down, 2 stayed, 1 were not scored then." in week
    # Nothing 60 days back: no moves to show, and the report says why.
    far = await boss.say("report loyalty 60")
    assert "No loyalty run is 60 or more days older than 2026-11-23" in far.text
    assert png_size(far.image) == (1000, 600)


async def test_no_run_yet_says_no_data(router: Router, manager: Actor) -> None:
    reply = await Chat(router, manager).say("report loyalty")
    assert reply.text.startswith("No data: no loyalty scores yet")
    assert png_size(reply.image) == (1000, 600)
