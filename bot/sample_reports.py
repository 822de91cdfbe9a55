"""Six months of history for the sample book, so that the analysis reports have something to
show on a fresh start: resolved and rated tickets (slower answers rated lower), feedback with
its tone, and a loyalty run 35 days back beside today's."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crm_store.feedback import FeedbackRepo
from crm_store.loyalty import LoyaltyModel, LoyaltyRepo, run_date_of
from crm_store.store import Tx
from crm_store.tickets import TicketRepo

HISTORY_DAYS = 170
TICKETS = 80
FEEDBACK = 40
LOYALTY_DAYS_BACK = 35
# theme -> (subjects, what the customer writes, the tone it carries)
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "delivery": (
        ("Parcel arrived late", "Delivery delayed again", "Tracking shows no movement"),
        (
            "The courier was three days late with the parcel.",
            "Shipping is delayed and the tracking page has not moved since Monday.",
            "Our delivery missed the promised date; the courier gave no reason.",
        ),
        -0.5,
    ),
    "billing": (
        ("Charged twice", "Wrong invoice amount", "Refund still missing"),
        (
            "The invoice charges us twice for the same payment.",
            "We were promised a refund for the billing error a month ago.",
            "The card was charged twice; please refund the duplicate payment.",
        ),
        -0.6,
    ),
    "login": (
        ("Cannot log in", "Password reset not working", "Account locked"),
        (
            "The password reset email never arrives and the account is locked.",
            "Login fails with a code error since the update.",
            "Our account is locked after a password reset.",
        ),
        -0.3,
    ),
    "damaged": (
        ("Item arrived damaged", "Cracked display on arrival", "Faulty unit"),
        (
            "Two boxes arrived crushed and the display is cracked.",
            "The unit is faulty and the casing arrived broken.",
            "The screen was cracked in the box; we need a replacement.",
        ),
        -0.5,
    ),
    "training": (
        ("Onboarding session request", "Training for new staff"),
        (
            "Could we book a training session for our new staff?",
            "The onboarding workshop was great; we would like a second session for the team.",
            "Please schedule onboarding training for five new hires.",
        ),
        0.4,
    ),
}
PRAISE = (
    ("Quick and friendly support, thank you.", 0.8, 5),
    ("Great service, the team solved it the same day.", 0.7, 5),
    ("Support was helpful but it took a while.", 0.1, 4),
)
WAITS_MINUTES = (10, 25, 45, 90, 180, 360, 720, 1440)


def _label(score: float) -> str:
    return "negative" if score < -0.2 else "positive" if score >= 0.2 else "neutral"


def _tone(rng: random.Random, base: float) -> float:
    return max(-1.0, min(1.0, round(base + rng.uniform(-0.3, 0.3), 2)))


async def add_history(
    tx: Tx, customer_ids: list[int], rep_ids: list[int], *, seed: int = 11
) -> dict[str, int]:
    """Tickets, ratings, feedback and loyalty runs in the past; counts of what was added."""
    rng = random.Random(seed)
    # Who answers draws from its own stream: the history is the same whoever joins the team.
    answerers = random.Random(seed + 1)
    now: datetime = tx.now
    for _ in range(TICKETS):
        theme = rng.choice(list(THEMES))
        subjects, messages, base = THEMES[theme]
        opened_at = now - timedelta(days=rng.uniform(3, HISTORY_DAYS))
        tone = _tone(rng, base)
        at = TicketRepo(tx.conn, tx.audit, now=opened_at)
        ticket = await at.open(
            customer_id=rng.choice(customer_ids),
            subject=rng.choice(subjects),
            source="sample",
            first_message=rng.choice(messages),
            sentiment_label=_label(tone),
            sentiment_score=tone,
        )
        slowness = rng.randrange(len(WAITS_MINUTES))
        answered_at = opened_at + timedelta(minutes=WAITS_MINUTES[slowness])
        rep = answerers.choice(rep_ids)
        await TicketRepo(tx.conn, tx.audit, now=answered_at).add_message(
            ticket.id, author_kind="rep", author_rep_id=rep, text="Thanks, we are on it."
        )
        later = TicketRepo(tx.conn, tx.audit, now=answered_at + timedelta(hours=rng.randint(1, 30)))
        await later.resolve(ticket.id)
        if rng.random() < 0.8:  # most customers rate; slower first answers are rated lower
            rating = max(1, min(5, 5 - slowness // 2 + rng.choice((-1, 0, 0, 1))))
            await later.set_csat(ticket.id, ticket.customer_id, rating)
    for _ in range(FEEDBACK):
        written = FeedbackRepo(tx.conn, tx.audit, now=now - timedelta(days=rng.uniform(1, HISTORY_DAYS)))
        if rng.random() < 0.4:
            text, base, rating = rng.choice(PRAISE)
        else:
            _, messages, base = THEMES[rng.choice(list(THEMES))]
            text, rating = rng.choice(messages), rng.randint(1, 3)
        tone = _tone(rng, base)
        await written.add(
            customer_id=rng.choice(customer_ids),
            text=text,
            rating=rating,
            sentiment_label=_label(tone),
            sentiment_score=tone,
        )
    back = now - timedelta(days=LOYALTY_DAYS_BACK)
    model = LoyaltyModel()
    await LoyaltyRepo(tx.conn, tx.audit, now=back).recompute(model, run_date=run_date_of(back))
    await LoyaltyRepo(tx.conn, tx.audit, now=now).recompute(model, run_date=run_date_of(now))
    return {"tickets": TICKETS, "feedback": FEEDBACK, "loyalty_runs": 2}
