"""digest, subscribe, unsubscribe: manager-only, content against a known dataset, periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_store.store import Store
from handlers.context import HandlerSettings
from handlers.digests import build_digest, current_period
from handlers.jobs import JobSettings, queue_digests_now, queue_due_digests, run_loyalty
from handlers.messages import Actor, reply_from_dict
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, all_text, services_for


async def _dataset(store: Store, rep: Actor, clock: FakeClock) -> None:
    """In the day before T0: 2 new customers, 3 orders ($600), 3 interactions (Sam 2, none 1),
    2 tickets opened and 1 resolved with CSAT 4 after a 30-minute first response, one breach."""
    start = clock.now
    clock.now = start - timedelta(hours=20)
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme Corp")
        await tx.customers.add(name="Globex")
        for cents in (10_000, 20_000, 30_000):
            await tx.orders.add(customer_id=acme.id, rep_id=None, amount_cents=cents)
        for score in (0.5, -0.5):
            await tx.interactions.add(
                customer_id=acme.id,
                rep_id=rep.rep_id,
                channel="console",
                kind="call",
                text="x",
                sentiment_label="neutral",
                sentiment_score=score,
            )
        await tx.interactions.add(customer_id=acme.id, rep_id=None, channel="console", kind="note", text="y")
        first = await tx.tickets.open(customer_id=acme.id, subject="A", source="telegram")
        second = await tx.tickets.open(customer_id=acme.id, subject="B", source="telegram")
        await tx.conn.exec_driver_sql(f"UPDATE tickets SET breached_at = created_at WHERE id = {second.id}")
    clock.advance(minutes=30)
    async with store.write("test") as tx:
        await tx.tickets.add_message(first.id, author_kind="rep", text="on it", author_rep_id=rep.rep_id)
        await tx.tickets.resolve(first.id)
        await tx.tickets.set_csat(first.id, acme.id, 4)
    clock.now = start


async def test_digest_content_against_a_known_dataset(store: Store, rep: Actor, clock: FakeClock) -> None:
    await _dataset(store, rep, clock)
    reply = await build_digest(
        store, since=clock.now - timedelta(days=1), until=clock.now, tz="UTC", cadence="daily"
    )
    fields = {f.label: f.value for f in reply.fields}
    assert fields["New customers"] == "2"
    assert fields["Orders"] == "3 · $600.00"
    assert fields["Tickets"] == "2 opened, 1 resolved, 1 breached SLA"
    assert fields["Median first response"] == "30 min"
    assert fields["CSAT"] == "4.0/5 (1)"
    assert fields["Sentiment"].startswith("+0.00")
    assert fields["Overdue reminders"] == "0"
    assert [i.text for i in reply.items] == ["Sam: 2 interactions", "(no rep): 1 interaction"]
    assert "22 Nov: sentiment +0.00, 2 opened, 1 resolved" in reply.text  # the chart's numbers as text
    assert reply.image is not None and reply.image.startswith(b"\x89PNG")


async def test_digest_and_subscriptions_are_for_managers(chat: Chat, router: Router, manager: Actor) -> None:
    for text in ("digest", "subscribe digest daily", "unsubscribe digest", "report tickets"):
        reply = await chat.say(text)
        assert reply.is_error and "is for managers" in reply.text, text
    boss = Chat(router, manager)
    assert (await boss.say("digest")).title == "Daily digest"
    assert (await boss.say("digest weekly")).title == "Weekly digest"
    assert "a day or a week" in (await boss.say("digest monthly")).text


async def test_subscribe_and_unsubscribe(router: Router, manager: Actor, store: Store) -> None:
    boss = Chat(router, manager)
    assert "weekly at 07:30 UTC on Mondays, here" in (await boss.say("subscribe digest weekly 7:30")).text
    assert "daily at 08:00 UTC" in (await boss.say("subscribe digest daily")).text  # replaces it
    async with store.read() as tx:
        subs = await tx.digests.subscriptions()
    assert len(subs) == 1 and subs[0].cadence == "daily" and subs[0].last_period == "2026-11-23"
    for text, needle in [
        ("subscribe digest hourly", "not daily or weekly"),
        ("subscribe digest daily 25:00", "I don't understand"),
        ("subscribe news daily", "Usage: subscribe digest"),
        ("subscribe digest daily 08:00 in #sales", "Channels are Slack's"),  # the console has none
        ("unsubscribe news", "Usage: unsubscribe digest"),
    ]:
        reply = await boss.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    assert "1 subscription removed" in (await boss.say("unsubscribe digest")).text
    assert "no digest subscription" in (await boss.say("unsubscribe digest")).text


def test_periods_daily_and_weekly_in_the_subscribers_zone() -> None:
    now = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday 07:00 in Berlin
    daily = current_period("daily", "08:00", "Europe/Berlin", now)
    assert daily.key == "2026-11-24" and daily.end == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    weekly = current_period("weekly", "08:00", "Europe/Berlin", now)
    assert weekly.key == "2026-W48" and weekly.end - weekly.start == timedelta(days=7)


async def test_under_owner_access_a_managers_digest_names_only_their_book(
    store: Store, manager: Actor, clock: FakeClock
) -> None:
    """CRM_CUSTOMER_ACCESS=owner: at-risk lines and loyalty alerts of another manager's
    customers stay out of the digest, asked for or scheduled; the team figures stay whole."""
    other = await staff_actor(store, platform="console", user_id="bea", display_name="Bea", role="manager")
    assert manager.rep_id is not None and other.rep_id is not None
    async with store.write("test") as tx:
        for name, owner in (("Mine Ltd", manager.rep_id), ("Theirs Holdings", other.rep_id)):
            customer = await tx.customers.add(name=name, owner_rep_id=owner)
            await tx.orders.add(
                customer_id=customer.id,
                rep_id=None,
                amount_cents=100,
                ordered_at=tx.now - timedelta(days=200),
            )
    settings = JobSettings(
        staff_platforms=("console",), handlers=HandlerSettings(customer_access="owner"), alert_below=90
    )
    assert (await run_loyalty(store, settings)).alerts == 2
    strict = Router(services_for(store, customer_access="owner"))
    asked = await Chat(strict, manager).say("digest")
    assert "Mine Ltd" in all_text(asked) and "Theirs" not in all_text(asked)
    assert {f.label: f.value for f in asked.fields}["Loyalty alerts"] == "1"
    assert {f.label: f.value for f in asked.fields}["Orders"] == "0 · $0.00"  # figures: the whole team

    boss = Chat(strict, manager)
    await boss.say("subscribe digest daily 08:00")
    clock.advance(days=1)
    assert await queue_due_digests(store, settings) == 1
    async with store.read() as tx:
        (row,) = [r for r in await tx.outbox.listing(limit=10) if r.idempotency_key.startswith("digest:")]
    scheduled = all_text(reply_from_dict(row.payload))
    assert "Mine Ltd" in scheduled and "Theirs" not in scheduled
    # The same book under the default team access names both.
    assert "Theirs Holdings" in all_text(
        await build_digest(
            store, since=clock.now - timedelta(days=2), until=clock.now, tz="UTC", cadence="daily"
        )
    )


async def test_an_empty_period_says_no_data_in_the_text_and_the_chart(store: Store, clock: FakeClock) -> None:
    reply = await build_digest(
        store, since=clock.now - timedelta(days=7), until=clock.now, tz="UTC", cadence="weekly"
    )
    assert "By day: no data (no sentiment recorded, no tickets opened or resolved)." in reply.text
    assert "0 opened" not in reply.text
    assert reply.image is not None and reply.image.startswith(b"\x89PNG")


async def test_the_digest_shows_the_periods_feedback_from_the_readers_book(
    store: Store, manager: Actor, clock: FakeClock
) -> None:
    """Written feedback of the period: how much, its mean sentiment and the latest lines, newest
    first; ratings without words are CSAT, not feedback; under owner access only the reader's
    customers (and unowned ones) count."""
    bea = await staff_actor(store, platform="console", user_id="bea", display_name="Bea", role="manager")
    start = clock.now
    async with store.write("test") as tx:
        mine = await tx.customers.add(name="Mine Ltd", owner_rep_id=manager.rep_id)
        theirs = await tx.customers.add(name="Theirs Holdings", owner_rep_id=bea.rep_id)
    for hours_ago, customer_id, text, score in (
        (30, mine.id, "Last week was fine", 0.5),  # before the period
        (4, mine.id, "Great onboarding", 0.8),
        (3, mine.id, "", None),  # a bare rating
        (2, mine.id, "Invoices are confusing", -0.4),
        (1, theirs.id, "Too slow", -0.9),
    ):
        clock.now = start - timedelta(hours=hours_ago)
        async with store.write("test") as tx:
            await tx.feedback.add(
                customer_id=customer_id,
                text=text,
                rating=None if text else 5,
                sentiment_label=None if score is None else ("negative" if score < 0 else "positive"),
                sentiment_score=score,
            )
    clock.now = start
    team = await Chat(Router(services_for(store)), manager).say("digest")
    assert {f.label: f.value for f in team.fields}["Feedback"] == "3 · mean sentiment -0.17"
    lines = [i.text for i in team.items if i.text.startswith("Feedback from ")]
    assert lines == [
        f"Feedback from Theirs Holdings (#{theirs.id}): Too slow",
        f"Feedback from Mine Ltd (#{mine.id}): Invoices are confusing",
        f"Feedback from Mine Ltd (#{mine.id}): Great onboarding",
    ]
    own = await Chat(Router(services_for(store, customer_access="owner")), manager).say("digest")
    assert {f.label: f.value for f in own.fields}["Feedback"] == "2 · mean sentiment +0.20"
    assert [i.text for i in own.items if i.text.startswith("Feedback from ")] == lines[1:]
    assert "Theirs" not in all_text(own)


async def test_a_digest_sent_now_leaves_the_scheduled_period_due(
    router: Router, store: Store, manager: Actor, clock: FakeClock
) -> None:
    await Chat(router, manager).say("subscribe digest weekly 08:00")
    clock.advance(days=7)  # next Monday 09:00: the week to 08:00 is due
    settings = JobSettings(staff_platforms=("console",))
    assert await queue_digests_now(store, settings) == (1, 1)
    assert await queue_due_digests(store, settings) == 1
    async with store.read() as tx:
        rows = await tx.outbox.listing(limit=10)
    assert [r.idempotency_key for r in rows] == [
        "digest:1:now:2026-11-30T09:00:00+00:00",
        "digest:1:2026-W49",
    ]
    now, scheduled = (reply_from_dict(r.payload) for r in rows)
    assert now.title == scheduled.title == "Weekly digest"
    assert now.text.startswith("23 Nov 09:00 – 30 Nov 09:00 (UTC).")
    assert scheduled.text.startswith("23 Nov 08:00 – 30 Nov 08:00 (UTC).")
