"""report satisfaction: CSAT and sentiment histograms and the weekly trend, numbers in the text."""

from __future__ import annotations

from datetime import timedelta

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import T0, Chat, FakeClock, all_text
from tests.handlers.reporting import customer, feedback, png_size, said, ticket


async def test_distributions_and_weekly_trend(
    router: Router, manager: Actor, store: Store, clock: FakeClock
) -> None:
    acme = await customer(store, "Acme")
    # T0 is a Monday: weeks start on 9, 16 and 23 Nov.
    for days_before, rating in ((14, 5), (14, 4), (7, 2), (0, 1), (0, 5)):
        await ticket(
            store,
            clock,
            customer_id=acme,
            at=T0 - timedelta(days=days_before, hours=2),
            answer_after=timedelta(minutes=10),
            rating=rating,
        )
    await said(store, clock, customer_id=acme, at=T0 - timedelta(days=13), text="great", sentiment=0.8)
    await said(store, clock, customer_id=acme, at=T0 - timedelta(days=6), text="bad", sentiment=-0.6)
    await said(store, clock, customer_id=acme, at=T0 - timedelta(days=6), text="meh", sentiment=-0.4)
    await feedback(store, clock, customer_id=acme, at=T0 - timedelta(hours=1), text="ok", sentiment=0.3)
    clock.now = T0
    reply = await Chat(router, manager).say("report satisfaction 30")
    assert not reply.is_error, reply.text
    assert reply.title == "Satisfaction report, last 30 days"
    assert png_size(reply.image) == (1000, 600) and reply.image_name == "satisfaction.png"
    assert {f.label: f.value for f in reply.fields} == {
        "CSAT": "3.40/5",  # 17 / 5
        "Ratings": "5",
        "Mean sentiment": "+0.03",  # (0.8 - 0.6 - 0.4 + 0.3) / 4
        "Negative messages": "2",
    }
    text = all_text(reply)
    assert "CSAT ratings: 1★ 1 · 2★ 1 · 3★ 0 · 4★ 1 · 5★ 2" in text
    assert "Sentiment: 2 negative, 0 neutral, 2 positive" in text
    assert "-0.6…-0.4: 1" in text and "-0.4…-0.2: 1" in text and "+0.8…+1.0: 1" in text
    items = [i.text for i in reply.items]
    assert "Week of 09 Nov: CSAT 4.50 (2), sentiment +0.80 (1)" in items
    assert "Week of 16 Nov: CSAT 2.00 (1), sentiment -0.50 (2)" in items
    assert "Week of 23 Nov: CSAT 3.00 (2), sentiment +0.30 (1)" in items
    assert "Week of 26 Oct: CSAT –, sentiment –" in items  # a quiet week is shown, not skipped
    # Seven days hold only this week's and the end of last week's figures.
    week = await Chat(router, manager).say("report satisfaction 7")
    assert {f.label: f.value for f in week.fields}["Ratings"] == "2"


async def test_nothing_rated_or_said_says_no_data(router: Router, manager: Actor) -> None:
    reply = await Chat(router, manager).say("report satisfaction")
    assert reply.text.startswith("No data: no CSAT ratings and no sentiment recorded in the last 90 days")
    assert png_size(reply.image) == (1000, 600)
    assert reply.fields[1].value == "0" and not reply.items


async def test_owner_scope_leaves_other_books_out(store: Store, clock: FakeClock) -> None:
    from handlers.people import staff_actor
    from tests.conftest import services_for

    dana = await staff_actor(store, platform="console", user_id="dana", display_name="Dana", role="manager")
    bea = await staff_actor(store, platform="console", user_id="bea", display_name="Bea", role="manager")
    mine = await customer(store, "Mine", owner=dana.rep_id)
    theirs = await customer(store, "Theirs", owner=bea.rep_id)
    await ticket(store, clock, customer_id=mine, at=T0 - timedelta(days=1), rating=5)
    await ticket(store, clock, customer_id=theirs, at=T0 - timedelta(days=1), rating=1)
    clock.now = T0
    owner_router = Router(services_for(store, customer_access="owner"))
    reply = await Chat(owner_router, dana).say("report satisfaction")
    assert {f.label: f.value for f in reply.fields}["CSAT"] == "5.00/5"
    team = await Chat(Router(services_for(store)), dana).say("report satisfaction")
    assert {f.label: f.value for f in team.fields}["CSAT"] == "3.00/5"
