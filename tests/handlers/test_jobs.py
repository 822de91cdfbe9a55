"""Scheduler decisions on a fake clock: due reminders (past, now, later, late, DST), their
buttons, loyalty alerts with reasons, SLA warnings and breaches, digests once per period."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from crm_store.store import Store
from crm_store.tables import tickets
from handlers import actions
from handlers.context import HandlerSettings
from handlers.digests import build_digest, local_instant
from handlers.jobs import (
    JobSettings,
    check_sla,
    queue_due_digests,
    queue_due_reminders,
    run_loyalty,
)
from handlers.lateness import as_delivered, deadline_of
from handlers.messages import Actor, reply_from_dict
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import T0, Chat, FakeClock, all_text, buttons

CONSOLE = JobSettings(staff_platforms=("console",))


async def _outbox(store: Store) -> list[tuple[str, str, dict[str, object]]]:
    async with store.read() as tx:
        rows = await tx.outbox.listing(states=("pending", "sending", "sent", "failed"), limit=10_000)
    return [(r.idempotency_key, r.target, r.payload) for r in rows]


async def test_reminders_due_in_the_past_now_and_later(chat: Chat, store: Store, clock: FakeClock) -> None:
    await chat.say("add Acme Corp")
    await chat.say("remind acme in 1 hour: send quote")
    await chat.say("remind in 2 hours: renew certificate")  # no customer: fine
    await chat.say("remind in 3 days: later")
    assert await queue_due_reminders(store, CONSOLE) == 0  # nothing due yet
    clock.advance(hours=1)  # the first is due now
    assert await queue_due_reminders(store, CONSOLE) == 1
    assert await queue_due_reminders(store, CONSOLE) == 0  # claimed: never twice
    sent_at = clock.now  # the first goes out at once
    clock.advance(hours=5)  # the second is 4 h overdue, as after downtime: sent, marked late
    assert await queue_due_reminders(store, CONSOLE) == 1
    rows = await _outbox(store)
    assert [key for key, _, _ in rows] == [
        "reminder:1:2026-11-23T10:00:00+00:00",
        "reminder:2:2026-11-23T11:00:00+00:00",
    ]
    # "(late)" is judged as each push goes out (handlers.lateness, applied by the dispatcher).
    on_time, late = (
        as_delivered(reply_from_dict(payload), deadline_of(payload), now=at)
        for (_, _, payload), at in zip(rows, (sent_at, clock.now), strict=True)
    )
    assert on_time.title == "Reminder #1" and "About Acme Corp (#1)" in on_time.context
    assert late.title == "Reminder #2 (late)" and "About" not in late.context
    assert [b.label for b in on_time.buttons] == ["Done", "Snooze 1h", "Snooze tomorrow", "Open customer"]
    assert [b.label for b in late.buttons] == ["Done", "Snooze 1h", "Snooze tomorrow"]
    async with store.read() as tx:
        assert [r.status for r in await tx.reminders.open_for_rep(1)] == ["sent", "sent", "pending"]


async def test_reminder_buttons_work(chat: Chat, store: Store, clock: FakeClock) -> None:
    await chat.say("add Acme Corp")
    await chat.say("remind acme in 1 hour: send quote")
    clock.advance(hours=1)
    await queue_due_reminders(store, CONSOLE)
    push = reply_from_dict((await _outbox(store))[0][2])
    done, hour, tomorrow, show = buttons(push)
    assert "Acme Corp" in (await chat.press(show)).title
    assert "Snoozed reminder #1 until today 11:00" in (await chat.press(hour)).text
    clock.advance(hours=1)
    assert await queue_due_reminders(store, CONSOLE) == 1  # snoozed: a new due time, a new push
    assert "until tomorrow 09:00" in (await chat.press(tomorrow)).text
    assert "Done: reminder #1" in (await chat.press(done)).text
    clock.advance(days=1)
    assert await queue_due_reminders(store, CONSOLE) == 0  # done reminders stay quiet


async def test_reminders_wait_for_a_platform_that_reaches_the_rep(chat: Chat, store: Store) -> None:
    await chat.say("remind in 1 minute: x")
    clock_settings = JobSettings(staff_platforms=("slack",))  # the console rep has no Slack account
    async with store.read() as tx:
        assert await tx.reminders.due(platforms=("slack",)) == []
    assert await queue_due_reminders(store, clock_settings) == 0


async def test_daily_berlin_reminder_once_per_day_across_both_dst_changes(
    router: Router, store: Store, clock: FakeClock
) -> None:
    """02:30 Europe/Berlin does not exist on 29 March and happens twice on 25 October 2026."""
    berlin = ZoneInfo("Europe/Berlin")
    rep = await staff_actor(
        store, platform="console", user_id="b", display_name="B", role="rep", timezone="Europe/Berlin"
    )
    assert rep.rep_id is not None
    for first in (date(2026, 3, 26), date(2026, 10, 22)):
        clock.now = local_instant(first, "00:00", berlin)
        days = [first + timedelta(days=n) for n in range(7)]
        async with store.write("test") as tx:
            for day in days:  # a daily reminder: one row per day, each due at local 02:30
                await tx.reminders.add(
                    rep_id=rep.rep_id,
                    customer_id=None,
                    text="stand-up",
                    due_at=local_instant(day, "02:30", berlin),
                )
        sent: Counter[date] = Counter()
        for _ in range(7 * 24 * 6):  # every 10 minutes for a week
            before = {key for key, _, _ in await _outbox(store)}
            await queue_due_reminders(store, CONSOLE)
            for key, _, _ in await _outbox(store):
                if key not in before:
                    sent[clock.now.astimezone(berlin).date()] += 1
            clock.advance(minutes=10)
        assert sorted(sent) == days and set(sent.values()) == {1}, sent


async def _book(store: Store, owner: Actor) -> None:
    """Three customers whose loyalty order is known: Steady > Middling > Fading."""
    assert owner.rep_id is not None
    async with store.write("test") as tx:
        steady = await tx.customers.add(name="Steady Co", owner_rep_id=owner.rep_id)
        middling = await tx.customers.add(name="Middling Co", owner_rep_id=owner.rep_id)
        fading = await tx.customers.add(name="Fading Co", owner_rep_id=owner.rep_id)
        for n in range(12):
            await tx.orders.add(
                customer_id=steady.id,
                rep_id=None,
                amount_cents=50_000,
                ordered_at=tx.now - timedelta(days=5 + n),
            )
        for n in range(4):
            await tx.orders.add(
                customer_id=middling.id,
                rep_id=None,
                amount_cents=20_000,
                ordered_at=tx.now - timedelta(days=30 + n),
            )
        for n in range(3):
            await tx.orders.add(
                customer_id=fading.id,
                rep_id=None,
                amount_cents=10_000,
                ordered_at=tx.now - timedelta(days=94 + n),
            )
        await tx.feedback.add(
            customer_id=steady.id, text="great", rating=5, sentiment_label="positive", sentiment_score=0.9
        )


async def test_loyalty_ranks_a_constructed_book(store: Store, rep: Actor) -> None:
    await _book(store, rep)
    run = await run_loyalty(store, CONSOLE)
    assert run.scored == 3
    async with store.read() as tx:
        ranked = await tx.loyalty.at_risk(limit=3, min_risk=0.0)
    assert [s.customer_name for s in ranked] == ["Fading Co", "Middling Co", "Steady Co"]
    assert ranked[0].recency_days == 94 and ranked[2].csat == 5.0
    assert all(0 <= s.score <= 100 and 0 < s.churn_risk < 1 for s in ranked)


async def test_orders_stop_and_feedback_turns_negative_gives_exactly_one_alert_with_reasons(
    store: Store, rep: Actor, clock: FakeClock
) -> None:
    assert rep.rep_id is not None
    async with store.write("test") as tx:
        for n in range(5):
            other = await tx.customers.add(name=f"Other {n}", owner_rep_id=rep.rep_id)
            for m in range(n + 1):
                await tx.orders.add(
                    customer_id=other.id,
                    rep_id=None,
                    amount_cents=10_000,
                    ordered_at=tx.now - timedelta(days=m),
                )
        slipping = await tx.customers.add(name="Slipping Ltd", owner_rep_id=rep.rep_id)
        for m in range(10):
            await tx.orders.add(
                customer_id=slipping.id,
                rep_id=None,
                amount_cents=90_000,
                ordered_at=tx.now - timedelta(days=m),
            )
    first = await run_loyalty(store, CONSOLE)
    assert first.alerts == 0  # a good customer
    clock.advance(days=94)  # its orders stop while the rest of the book keeps ordering...
    async with store.write("test") as tx:
        for n in range(5):
            for m in range(0, 94, 10):
                await tx.orders.add(
                    customer_id=n + 1, rep_id=None, amount_cents=10_000, ordered_at=tx.now - timedelta(days=m)
                )
        await tx.feedback.add(
            customer_id=slipping.id,
            text="we are looking at other vendors",
            rating=1,
            sentiment_label="negative",
            sentiment_score=-0.9,
        )
        for text in ("slow answers again", "this is getting worse"):
            await tx.interactions.add(
                customer_id=slipping.id,
                rep_id=rep.rep_id,
                channel="console",
                kind="call",
                text=text,
                sentiment_label="negative",
                sentiment_score=-0.8,
            )
    second = await run_loyalty(store, CONSOLE)
    again = await run_loyalty(store, CONSOLE)  # the same night again: no second alert
    alerts = [(key, reply_from_dict(p)) for key, _, p in await _outbox(store) if key.startswith("loyalty:")]
    mine = [(k, r) for k, r in alerts if k.startswith(f"loyalty:{slipping.id}:")]
    assert len(mine) == 1 and second.alerts >= 1 and again.new_alerts == 0 and again.alerts == second.alerts
    text = all_text(mine[0][1])
    assert "no order in 94 days" in text and "3 negative interactions" in text and "score fell" in text
    assert "CSAT 1.0/5" in text
    assert actions.encode("show", slipping.id) in buttons(mine[0][1])

    # The manager digest of that day carries the alert as a line, with the same reasons...
    digest = await build_digest(
        store,
        since=clock.now - timedelta(days=1),
        until=clock.now + timedelta(minutes=1),
        tz="UTC",
        cadence="daily",
    )
    lines = [i for i in digest.items if i.text.startswith("Loyalty alert")]
    assert [i.text.split(" (#")[0] for i in lines if "Slipping Ltd" in i.text] == [
        f"Loyalty alert {clock.now.date().isoformat()}: Slipping Ltd"
    ]
    assert len(lines) == second.alerts
    slipping_line = next(i for i in lines if "Slipping Ltd" in i.text)
    assert "no order in 94 days" in slipping_line.detail and "score fell" in slipping_line.detail
    assert {f.label: f.value for f in digest.fields}["Loyalty alerts"] == str(second.alerts)
    # ...and the next day's digest does not repeat it.
    later = await build_digest(
        store,
        since=clock.now + timedelta(minutes=1),
        until=clock.now + timedelta(days=1),
        tz="UTC",
        cadence="daily",
    )
    assert not [i for i in later.items if i.text.startswith("Loyalty alert")]


async def test_sla_warns_then_marks_a_breach_once(store: Store, rep: Actor, clock: FakeClock) -> None:
    assert rep.rep_id is not None
    async with store.write("test") as tx:
        customer = await tx.customers.add(name="Acme")
        assigned = await tx.tickets.open(
            customer_id=customer.id, subject="Down", source="telegram", priority="urgent"
        )
        await tx.tickets.assign(assigned.id, rep.rep_id)
        loose = await tx.tickets.open(
            customer_id=customer.id, subject="Slow", source="telegram", priority="urgent"
        )
    settings = JobSettings(
        staff_platforms=("console",),
        handlers=HandlerSettings(support_platform="slack", support_channel="CSUPPORT"),
    )
    clock.advance(minutes=10)
    assert await check_sla(store, settings) == 0
    clock.advance(minutes=15)  # 25 of urgent's 30 minutes: warnings
    assert await check_sla(store, settings) == 2
    assert await check_sla(store, settings) == 0
    clock.advance(minutes=10)  # 35 minutes, nobody answered: breaches
    assert await check_sla(store, settings) == 2
    clock.advance(minutes=10)
    assert await check_sla(store, settings) == 0
    rows = await _outbox(store)
    targets = {key: target for key, target, _ in rows}
    assert targets[f"sla:{assigned.id}:first_response:warning"] == "sam"  # the assignee's DM
    assert targets[f"sla:{loose.id}:first_response:warning:slack"] == "CSUPPORT"  # else the channel
    assert "breached its first response SLA" in reply_from_dict(rows[-1][2]).title
    async with store.read() as tx:
        figures = await tx.reports.period(clock.now - timedelta(days=1), clock.now)
        marks = (
            await tx.conn.execute(
                sa.select(
                    tickets.c.id,
                    tickets.c.sla_first_warned_at,
                    tickets.c.breached_at,
                    tickets.c.breach_kind,
                    tickets.c.sla_resolve_warned_at,
                ).order_by(tickets.c.id)
            )
        ).all()
    assert figures.tickets_breached == 2
    warned_at, breached_at = T0 + timedelta(minutes=25), T0 + timedelta(minutes=35)
    assert [tuple(m) for m in marks] == [
        (assigned.id, warned_at, breached_at, "first_response", None),
        (loose.id, warned_at, breached_at, "first_response", None),
    ]


async def test_a_missed_digest_is_sent_once_not_once_per_missed_period(
    router: Router, store: Store, manager: Actor, clock: FakeClock
) -> None:
    chat = Chat(router, manager)
    reply = await chat.say("subscribe digest daily 08:00")
    assert "daily at 08:00 UTC" in reply.text, reply.text
    assert await queue_due_digests(store, CONSOLE) == 0  # today's 08:00 passed before subscribing
    clock.advance(days=3, hours=2)  # down for three days
    assert await queue_due_digests(store, CONSOLE) == 1
    assert await queue_due_digests(store, CONSOLE) == 0
    clock.advance(days=1)
    assert await queue_due_digests(store, CONSOLE) == 1
    keys = [key for key, _, _ in await _outbox(store)]
    assert keys == ["digest:1:2026-11-26", "digest:1:2026-11-27"]
    digest = reply_from_dict((await _outbox(store))[0][2])
    assert digest.image is not None and digest.image[:8] == b"\x89PNG\r\n\x1a\n"


def test_local_instant_resolves_gaps_and_folds_once() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert local_instant(date(2026, 3, 29), "02:30", berlin) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert local_instant(date(2026, 10, 25), "02:30", berlin) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
