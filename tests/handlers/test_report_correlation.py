"""report correlation: a planted relation (slower first responses, lower CSAT) is spelled out
with rho and n; noise and too few customers are not reported as findings."""

from __future__ import annotations

import random
from datetime import timedelta

from crm_store.store import Store
from handlers.messages import Actor
from handlers.report_correlation import BY_CONSTRUCTION, WORDS, sentence
from handlers.router import Router
from insight.correlation import Relation
from tests.conftest import T0, Chat, FakeClock, all_text
from tests.handlers.reporting import customer, png_size, ticket


async def _book(store: Store, clock: FakeClock, size: int, *, planted: bool) -> None:
    rng = random.Random(11)
    for n in range(size):
        who = await customer(store, f"Customer {n}")
        wait = rng.randint(5, 600)  # minutes to the first answer
        rating = (
            (max(1, min(5, 5 - wait // 150 + rng.choice((-1, 0, 0, 1))))) if planted else rng.randint(1, 5)
        )
        at = T0 - timedelta(days=rng.randint(2, 300))
        await ticket(
            store, clock, customer_id=who, at=at, answer_after=timedelta(minutes=wait), rating=rating
        )
        async with store.write("test") as tx:
            for _ in range(rng.randint(0, 3)):
                await tx.orders.add(customer_id=who, rep_id=None, amount_cents=rng.randint(1_000, 90_000))
    clock.now = T0


async def test_planted_relation_is_spelled_out(
    router: Router, manager: Actor, store: Store, clock: FakeClock
) -> None:
    await _book(store, clock, 60, planted=True)
    reply = await Chat(router, manager).say("report correlation")
    assert not reply.is_error, reply.text
    assert reply.title == "Correlation report, last 365 days"
    assert png_size(reply.image) == (1000, 600)
    assert {f.label: f.value for f in reply.fields} == {"Customers": "60"}
    first = reply.items[0].text
    assert first.startswith("customers with slower first responses give lower CSAT: rho = -0."), first
    assert ", n = 60, p < 0.001" in first
    assert all("revenue" not in i.text or "orders" not in i.text for i in reply.items)  # by construction
    assert "CSAT ~ first response: -0." in all_text(reply)  # the heatmap's numbers, in words


async def test_few_customers_say_no_data(
    router: Router, manager: Actor, store: Store, clock: FakeClock
) -> None:
    await _book(store, clock, 15, planted=True)
    few = await Chat(router, manager).say("report correlation")
    assert few.text.startswith(
        "No data: 15 customers active in the last 365 days; relations need at least 20"
    )
    assert png_size(few.image) == (1000, 600) and not few.items


async def test_noise_is_no_finding(router: Router, manager: Actor, store: Store, clock: FakeClock) -> None:
    await _book(store, clock, 60, planted=False)  # ratings at random
    reply = await Chat(router, manager).say("report correlation")
    assert reply.text.startswith("No relation passes the bar (n ≥ 20, Holm-corrected p < 0.05, |rho| ≥ 0.1)")
    assert not reply.items
    assert "CSAT ~ first response: " in all_text(reply)  # computed, shown, not called a finding


def test_sentences_read_in_the_direction_of_the_relation() -> None:
    slower = Relation("csat", "first_response", -0.41, 0.0001, 312, 0.0004)
    assert (
        sentence(slower)
        == "customers with slower first responses give lower CSAT: rho = -0.41, n = 312, p < 0.001"
    )
    happier = Relation("sentiment", "csat", 0.3, 0.002, 80, 0.012)
    assert (
        sentence(happier)
        == "customers with higher CSAT speak more positively: rho = +0.30, n = 80, p = 0.012"
    )
    assert all(a in WORDS and b in WORDS for a, b in BY_CONSTRUCTION)
