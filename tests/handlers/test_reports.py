"""report NAME [days]: activity and tickets figures, bad input for every kind, and who may ask."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_store.store import Store
from crm_store.tables import audit_log
from handlers.messages import Actor, Reply
from handlers.report_kinds import names
from handlers.router import Router
from tests.conftest import Chat, FakeClock


def _fields(reply: Reply) -> dict[str, str]:
    return {f.label: f.value for f in reply.fields}


async def test_each_report_and_bad_arguments(
    router: Router, manager: Actor, customer: Actor, store: Store, clock: FakeClock
) -> None:
    boss, carla = Chat(router, manager), Chat(router, customer)  # Carla is customer #1
    await carla.say("/ticket Old\nFrom ten days ago")  # #1: in the 30-day window, not the 7-day one
    clock.advance(days=10)
    await boss.say("add Acme Corp")
    await boss.say("order acme 120")
    for subject in ("Broken", "Slow", "Noisy"):  # #2, #3, #4
        await carla.say(f"/ticket {subject}\nDetails of {subject.lower()}")
    clock.advance(minutes=20)
    await boss.say("reply 2 On it")  # first response after 20 minutes
    clock.advance(minutes=40)
    await boss.say("reply 3 Looking into it")  # after 60 minutes
    await boss.say("resolve 2")
    await boss.say("resolve 3")
    assert "Thank you" in (await carla.press("crm:csat:2-5")).text
    assert "Thank you" in (await carla.press("crm:csat:3-2")).text
    async with store.write("test") as tx:
        for score in (-0.6, 0.4, 0.8):
            label = "negative" if score < 0 else "positive"
            await tx.interactions.add(
                customer_id=2,
                rep_id=manager.rep_id,
                channel="test",
                kind="note",
                text="tone",
                sentiment_label=label,
                sentiment_score=score,
            )

    activity = await boss.say("report activity 7")
    assert activity.title == "Activity report, last 7 days"
    assert _fields(activity) == {"New customers": "1", "Orders": "1", "Revenue": "$120.00"}
    assert [i.text for i in activity.items] == ["Dana: 3"]
    tickets = await boss.say("report tickets 7")
    assert tickets.title == "Tickets report, last 7 days"
    assert _fields(tickets) == {
        "Opened": "3",
        "Resolved": "2",
        "Breached SLA": "0",
        "Median first response": "40 min",  # of 20 and 60
    }
    assert _fields(await boss.say("report tickets"))["Opened"] == "4"  # 30 days: the old one too
    satisfaction = await boss.say("report satisfaction 1")
    assert satisfaction.title == "Satisfaction report, last 1 day"
    assert _fields(satisfaction) == {
        "CSAT": "3.50/5",  # (5 + 2) / 2
        "Ratings": "2",
        "Mean sentiment": "+0.20",  # (-0.6 + 0.4 + 0.8) / 3
        "Negative messages": "1",
    }
    assert (await boss.say("report loyalty")).fields[0].value == "0"
    for text, needle in [
        ("report", "Usage: report"),
        ("report money", "Usage"),
        ("report tickets 0", "1 to 366"),
    ]:
        reply = await boss.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)


async def test_days_written_in_digits_that_are_no_number_are_refused(router: Router, manager: Actor) -> None:
    boss = Chat(router, manager)
    # "²" passes str.isdigit() but int() refuses it; a 20-digit count is out of range.
    for days in ("²", "①", "99999999999999999999"):
        reply = await boss.say(f"report tickets {days}")
        assert reply.is_error and "Days must be 1 to 366." in reply.text, (days, reply.text)
    assert (await boss.say("report tickets ٧")).title == "Tickets report, last 7 days"


@pytest.mark.parametrize("kind", ["satisfaction", "loyalty", "needs", "correlation", "activity", "tickets"])
async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
    router: Router, manager: Actor, rep: Actor, store: Store, kind: str
) -> None:
    boss = Chat(router, manager)
    async with store.read() as tx:
        before = await tx.conn.execute(select(func.count()).select_from(audit_log))
        audit_rows = before.scalar_one()
    for text, needle in [
        (f"report {kind} 0", "Days must be 1 to 366."),
        (f"report {kind} 367", "Days must be 1 to 366."),
        (f"report {kind} -5", "Days must be 1 to 366."),
        (f"report {kind}x", f"There is no '{kind}x' report; the reports are {', '.join(names())}."),
    ]:
        reply = await boss.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
        assert "Usage: report " in reply.text
    refused = await Chat(router, rep).say(f"report {kind}")
    assert refused.is_error and "`report` is for managers" in refused.text
    async with store.read() as tx:
        after = await tx.conn.execute(
            select(func.count()).select_from(audit_log).where(audit_log.c.action != "denied")
        )
        assert after.scalar_one() == audit_rows
