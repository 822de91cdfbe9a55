"""report needs: planted topics in tickets, feedback and interactions come back labelled by
their words, with their counts per month and their sentiment."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import T0, Chat, FakeClock, all_text
from tests.handlers.reporting import customer, feedback, png_size, said, ticket

# topic -> (its words, the sentiment its texts carry, where customers say it)
PLANTED = {
    "refund": ("refund money charged twice payment invoice billing", -0.6, "feedback"),
    "delivery": ("delivery late parcel courier shipping tracking delayed", -0.3, "ticket"),
    "training": ("training onboarding workshop session staff course trainer", 0.5, "interaction"),
    "login": ("login password account locked reset access code", -0.1, "ticket"),
}
FILLER = [
    "the",
    "my",
    "it",
    "we",
    "you",
    "is",
    "and",
    "this",
    "that",
    "order",
    "help",
    "about",
    "with",
    "our",
]


async def test_planted_topics_counts_per_month_and_sentiment(
    router: Router, manager: Actor, store: Store, clock: FakeClock
) -> None:
    rng = random.Random(5)
    acme = await customer(store, "Acme")
    # 15 texts per topic: 5 in each of September, October and November.
    for words, tone, where in PLANTED.values():
        for n in range(15):
            at = T0 - timedelta(days=62 - 30 * (n % 3), hours=n)
            text = " ".join(rng.sample(words.split(), 4) + rng.sample(FILLER, 4))
            if where == "ticket":
                await ticket(
                    store, clock, customer_id=acme, at=at, subject=f"Question {n}", text=text, sentiment=tone
                )
            elif where == "feedback":
                await feedback(store, clock, customer_id=acme, at=at, text=text, sentiment=tone)
            else:
                await said(store, clock, customer_id=acme, at=at, text=text, sentiment=tone)
    clock.now = T0
    reply = await Chat(router, manager).say("report needs 90")
    assert not reply.is_error, reply.text
    assert reply.title == "Needs report, last 90 days"
    assert png_size(reply.image) == (1000, 600)
    fields = {f.label: f.value for f in reply.fields}
    assert fields == {
        "Texts": "60 (30 tickets, 15 feedbacks, 15 interactions)",
        "Topics": "4",
        "Without a topic": "0",
    }
    found = {}
    for item in reply.items:
        label = item.text.split(". ", 1)[1].split(":")[0]
        homes = {
            name for name, (words, _, _) in PLANTED.items() for w in label.split(", ") if w in words.split()
        }
        assert len(homes) == 1, (label, homes)
        found[homes.pop()] = item
    assert set(found) == set(PLANTED)
    for name, (_, tone, _) in PLANTED.items():
        assert f": 15 texts, sentiment {tone:+.2f} (over 15)" in found[name].text
        assert found[name].detail == "per month: 2026-08 0 · 2026-09 5 · 2026-10 5 · 2026-11 5"
    assert "chosen by silhouette among 2-8" in all_text(reply)


async def test_too_few_texts_say_no_data(
    router: Router, manager: Actor, store: Store, clock: FakeClock
) -> None:
    acme = await customer(store, "Acme")
    for n in range(5):
        await feedback(
            store, clock, customer_id=acme, at=T0 - timedelta(days=n), text="late parcel", sentiment=None
        )
    clock.now = T0
    reply = await Chat(router, manager).say("report needs")
    assert reply.text.startswith("No data: 5 texts from customers in the last 180 days, too few")
    assert png_size(reply.image) == (1000, 600) and not reply.items


async def test_a_large_period_is_read_from_a_sample(
    router: Router, manager: Actor, store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handlers import report_needs

    monkeypatch.setattr(report_needs, "SAMPLE_TEXTS", 40)
    rng = random.Random(3)
    acme = await customer(store, "Acme")
    for n in range(60):
        words = PLANTED["refund" if n % 2 else "training"][0].split()
        text = " ".join(rng.sample(words, 4) + rng.sample(FILLER, 3))
        await feedback(
            store, clock, customer_id=acme, at=T0 - timedelta(days=1, minutes=n), text=text, sentiment=0.1
        )
    clock.now = T0
    reply = await Chat(router, manager).say("report needs")
    fields = {f.label: f.value for f in reply.fields}
    assert fields["Texts"] == "40 (0 tickets, 40 feedbacks, 0 interactions)"
    assert fields["Sampled from"] == "60 texts in the period"
    assert sum(int(i.text.split(": ")[1].split(" ")[0]) for i in reply.items) == 40
