"""The loyalty recompute SQL on SQLite, checked against figures worked out by hand for a small
book: every customer's six parts, score, churn risk and the counts behind them. The same book
is scored on PostgreSQL in test_loyalty_pg.py."""

from __future__ import annotations

import math
from datetime import timedelta

from crm_store.loyalty import LoyaltyModel, LoyaltyScore
from crm_store.store import Store
from tests.conftest import T0, FakeClock

RUN = "2026-11-23"
TOLERANCE = 1e-6

# Best first, as the book below is built: the recent, frequent, happy big spender on top; the
# tied buyers split by a poor rating; three open tickets, then a 60-day silence; the leads who
# never ordered on their neutral parts; silent 200 days, upset and breached last of all.
EXPECTED_RANKING = ["Acme", "Initech", "Umbrella", "Stark", "Hooli", "Lead Happy", "Lead Quiet", "Globex"]
NAMES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Lead Happy", "Lead Quiet", "Gone"]


async def build_book(store: Store, clock: FakeClock) -> None:
    """Orders, sentiment, CSAT and tickets in and out of the 90-day window, ties, a lead and
    a deleted customer: every branch of the recompute."""
    clock.now = T0 - timedelta(days=120)  # outside the window: these must not count
    async with store.write("test") as tx:
        ids = {name: (await tx.customers.add(name=name)).id for name in NAMES}
        await tx.feedback.add(
            customer_id=ids["Umbrella"], rating=5, sentiment_label="positive", sentiment_score=0.9
        )
        old = await tx.tickets.open(customer_id=ids["Hooli"], subject="Old", source="telegram")
        await tx.tickets.resolve(old.id)
        await tx.tickets.set_csat(old.id, ids["Hooli"], 1)
    clock.now = T0 - timedelta(days=10)
    async with store.write("test") as tx:
        for n in range(6):
            # The latest dated 2 h ahead (a local time typed as UTC): "0 days ago" on both.
            at = T0 - timedelta(days=n) if n else T0 + timedelta(hours=2)
            await tx.orders.add(customer_id=ids["Acme"], rep_id=None, amount_cents=90_000, ordered_at=at)
        for name in ("Initech", "Umbrella"):  # identical buyers: tied in every CUME_DIST
            for n in (3, 40):
                await tx.orders.add(
                    customer_id=ids[name], rep_id=None, amount_cents=20_000, ordered_at=T0 - timedelta(days=n)
                )
        await tx.orders.add(
            customer_id=ids["Hooli"], rep_id=None, amount_cents=5_000, ordered_at=T0 - timedelta(days=60)
        )
        await tx.orders.add(
            # 20 days and 18 hours ago: whole days, truncated (20, not 21).
            customer_id=ids["Stark"],
            rep_id=None,
            amount_cents=50_000,
            ordered_at=T0 - timedelta(days=20, hours=18),
        )
        await tx.orders.add(
            customer_id=ids["Globex"], rep_id=None, amount_cents=1_000, ordered_at=T0 - timedelta(days=200)
        )
        await tx.orders.add(customer_id=ids["Gone"], rep_id=None, amount_cents=99_000)
        await tx.customers.soft_delete(ids["Gone"], reason="test")
        for name, label, score in (
            ("Acme", "positive", 0.8),
            ("Acme", "positive", 0.6),
            ("Globex", "negative", -0.7),
        ):
            await tx.interactions.add(
                customer_id=ids[name],
                rep_id=None,
                channel="console",
                kind="call",
                text="call",
                sentiment_label=label,
                sentiment_score=score,
            )
        await tx.feedback.add(
            customer_id=ids["Globex"], text="bad", sentiment_label="negative", sentiment_score=-0.5
        )
        await tx.feedback.add(customer_id=ids["Umbrella"], rating=2)
        await tx.feedback.add(
            customer_id=ids["Lead Happy"], text="love it", sentiment_label="positive", sentiment_score=1.0
        )
        for subject in ("A", "B", "C"):
            await tx.tickets.open(customer_id=ids["Stark"], subject=subject, source="telegram")
        broken = await tx.tickets.open(customer_id=ids["Globex"], subject="Broken", source="telegram")
        await tx.sla.claim_breach(broken.id, "first_response")
        done = await tx.tickets.open(customer_id=ids["Acme"], subject="Question", source="telegram")
        await tx.tickets.resolve(done.id)
        await tx.tickets.set_csat(done.id, ids["Acme"], 5)
        fixed = await tx.tickets.open(customer_id=ids["Hooli"], subject="Fixed", source="telegram")
        await tx.tickets.resolve(fixed.id)
        await tx.tickets.set_csat(fixed.id, ids["Hooli"], 3)
    clock.now = T0


async def score_book(store: Store, clock: FakeClock) -> dict[str, LoyaltyScore]:
    await build_book(store, clock)
    async with store.write("test") as tx:
        assert await tx.loyalty.recompute(LoyaltyModel(), run_date=RUN) == 8  # "Gone" is not scored
    async with store.read() as tx:
        scores = [s for cid in range(1, len(NAMES) + 1) for s in await tx.loyalty.for_customer(cid)]
    return {s.customer_name: s for s in scores}


# Worked by hand from the book above (README, "Loyalty"). Among the 7 buyers (the deleted one
# still counts in the percentiles), CUME_DIST of the last order date: Globex 1/7, Hooli 2/7,
# Stark 3/7, Gone 4/7, Initech = Umbrella 6/7, Acme 7/7; of the order count: the four single
# orders 4/7, the two pairs 6/7, Acme's six 7/7; of revenue: Globex $10 1/7, Hooli $50 2/7,
# Initech = Umbrella $400 4/7, Stark $500 5/7, Gone $990 6/7, Acme $5,400 7/7.
# Sentiment part (mean + 1) / 2: Acme (0.8, 0.6) 0.85; Globex (-0.7, -0.5) 0.2; Lead Happy 1.0;
# Umbrella's 0.9 is 120 days old; everybody else 0.5. CSAT part (mean - 1) / 4: Acme 5 -> 1.0,
# Umbrella 2 -> 0.25, Hooli 3 -> 0.5 (its 1 is 120 days old), else 0.5. Tickets part
# 1 - (open + 2 x breached) / 5: Stark 3 open -> 0.4, Globex 1 open and breached -> 0.4, else 1.
# Parts: (recency, frequency, monetary, sentiment, CSAT, tickets).
EXPECTED_PARTS = {
    "Acme": (1, 1, 1, 0.85, 1, 1),
    "Initech": (6 / 7, 6 / 7, 4 / 7, 0.5, 0.5, 1),
    "Umbrella": (6 / 7, 6 / 7, 4 / 7, 0.5, 0.25, 1),
    "Stark": (3 / 7, 4 / 7, 5 / 7, 0.5, 0.5, 0.4),
    "Hooli": (2 / 7, 4 / 7, 2 / 7, 0.5, 0.5, 1),
    "Lead Happy": (0, 0, 0, 1.0, 0.5, 1),
    "Lead Quiet": (0, 0, 0, 0.5, 0.5, 1),
    "Globex": (1 / 7, 4 / 7, 1 / 7, 0.2, 0.5, 0.4),
}
WEIGHTS = (0.25, 0.15, 0.15, 0.20, 0.10, 0.15)
# The same sums done out: 100 x (0.25 + 0.15 + 0.15 + 0.2 x 0.85 + 0.1 + 0.15) = 97 for Acme;
# Stark 100 x (2.1 / 7 + 0.1 + 0.05 + 0.06) = 51; Hooli 100 x (1.4 / 7 + 0.3) = 50; the leads
# 40 and 30 on their neutral parts; Globex 100 x (1 / 7 + 0.15).
EXPECTED_SCORES = {
    "Acme": 97.0,
    "Initech": 100 * (3 / 7 + 0.3),
    "Umbrella": 100 * (3 / 7 + 0.275),
    "Stark": 51.0,
    "Hooli": 50.0,
    "Lead Happy": 40.0,
    "Lead Quiet": 30.0,
    "Globex": 100 * (1 / 7 + 0.15),
}
# (recency_days, order_count, revenue_cents, sentiment, negatives, csat, open, breached)
EXPECTED_FIGURES = {
    "Acme": (0, 6, 540_000, 0.7, 0, 5.0, 0, 0),  # the order 2 h ahead is 0 days old, not -1
    "Initech": (3, 2, 40_000, None, 0, None, 0, 0),
    "Umbrella": (3, 2, 40_000, None, 0, 2.0, 0, 0),
    "Stark": (20, 1, 50_000, None, 0, None, 3, 0),
    "Hooli": (60, 1, 5_000, None, 0, 3.0, 0, 0),
    "Lead Happy": (None, 0, 0, 1.0, 0, None, 0, 0),
    "Lead Quiet": (None, 0, 0, None, 0, None, 0, 0),
    "Globex": (200, 1, 1_000, -0.6, 2, None, 1, 1),
}


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isclose(a, b, abs_tol=TOLERANCE))


def check_hand_computed(scores: dict[str, LoyaltyScore]) -> None:
    """``scores`` (one run over the book) are the figures worked out above."""
    assert sorted(scores) == sorted(EXPECTED_SCORES)  # "Gone" is deleted: not scored
    for name, parts in EXPECTED_PARTS.items():
        from_parts = 100 * sum(w * p for w, p in zip(WEIGHTS, parts, strict=True)) / sum(WEIGHTS)
        assert math.isclose(from_parts, EXPECTED_SCORES[name], abs_tol=TOLERANCE), name
    for name, s in scores.items():
        assert math.isclose(s.score, EXPECTED_SCORES[name], abs_tol=TOLERANCE), (name, s.score)
        risk = 1 / (1 + math.exp(-0.1 * (40 - EXPECTED_SCORES[name])))
        assert math.isclose(s.churn_risk, risk, abs_tol=TOLERANCE), (name, s.churn_risk)
        figures = (
            s.recency_days,
            s.order_count,
            s.revenue_cents,
            s.sentiment,
            s.negatives,
            s.csat,
            s.open_tickets,
            s.breached_tickets,
        )
        assert all(_same(a, b) for a, b in zip(figures, EXPECTED_FIGURES[name], strict=True)), (name, figures)
    ranking = sorted(scores.values(), key=lambda s: (-s.score, s.customer_id))
    assert [s.customer_name for s in ranking] == EXPECTED_RANKING


async def test_recompute_on_sqlite_gives_the_hand_computed_figures(store: Store, clock: FakeClock) -> None:
    check_hand_computed(await score_book(store, clock))
