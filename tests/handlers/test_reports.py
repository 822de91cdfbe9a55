"""report satisfaction|loyalty|activity|tickets [days]: figures, and refusals."""

from __future__ import annotations

from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat


async def test_each_report_and_bad_arguments(router: Router, manager: Actor) -> None:
    boss = Chat(router, manager)
    await boss.say("add Acme Corp")
    await boss.say("order acme 120")
    activity = await boss.say("report activity 7")
    assert activity.title == "Activity report, last 7 days"
    assert {f.label: f.value for f in activity.fields}["Revenue"] == "$120.00"
    assert (await boss.say("report tickets")).title == "Tickets report, last 30 days"
    assert "CSAT" in {f.label for f in (await boss.say("report satisfaction 1")).fields}
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
