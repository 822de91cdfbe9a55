"""remind, reminders, done, snooze — times read and shown in the rep's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_store.store import Store
from handlers.messages import Actor
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, buttons


async def test_remind_with_customer_tomorrow(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    reply = await chat.say("remind acme tomorrow 10:00: send quote")
    assert not reply.is_error, reply.text
    assert "tomorrow 10:00 about Acme Corp (#1): send quote (reminder #1)" in reply.text
    async with store.read() as tx:
        r = await tx.reminders.get(1)
    assert r is not None and r.customer_id == 1
    assert r.due_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


async def test_remind_without_customer_and_relative_time(chat: Chat, store: Store) -> None:
    reply = await chat.say("remind in 2 hours: renew my certificate")
    assert "today 11:00" in reply.text
    async with store.read() as tx:
        r = await tx.reminders.get(1)
    assert r is not None and r.customer_id is None


async def test_remind_uses_rep_time_zone(router: Router, store: Store) -> None:
    berlin = await staff_actor(
        store, platform="console", user_id="b", display_name="B", role="rep", timezone="Europe/Berlin"
    )
    chat = Chat(router, berlin)
    await chat.say("add Acme Corp")
    reply = await chat.say("remind acme friday 14:30: call back")
    assert "Fri 27 Nov 14:30" in reply.text
    async with store.read() as tx:
        r = await tx.reminders.get(1)
    assert r is not None and r.due_at == datetime(2026, 11, 27, 13, 30, tzinfo=UTC)


async def test_remind_refusals(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    for text, needle in [
        ("remind acme tomorrow send quote", "Usage: remind"),
        ("remind acme: send quote", "can't find a time"),
        ("remind acme 2020-01-01 10:00: old", "in the past"),
        ("remind nobodyknown tomorrow 10:00: x", "No customer matches"),
        ("remind tomorrow 10:00:   ", "Usage: remind"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        assert await tx.reminders.get(1) is None


async def test_reminders_lists_own_soonest_first_with_buttons(
    chat: Chat, router: Router, other_rep: Actor, clock: FakeClock
) -> None:
    await chat.say("remind tomorrow 09:00: second")
    await chat.say("remind in 1 hour: first")
    await Chat(router, other_rep).say("remind in 10 minutes: not mine")
    reply = await chat.say("reminders")
    assert [i.text for i in reply.items] == ["#2 first", "#1 second"]
    clock.advance(hours=2)
    reply = await chat.say("reminders")
    assert "overdue" in reply.items[0].detail
    assert buttons(reply)[:2] == ["crm:done:2", "crm:snooze-1h:2"]


async def test_done_and_snooze_buttons_and_commands(chat: Chat, store: Store, clock: FakeClock) -> None:
    await chat.say("remind in 1 hour: call bank")
    snoozed = await chat.press("crm:snooze-1h:1")
    assert "today 11:00" in snoozed.text  # an hour after its own time, 10:00
    reply = await chat.say("snooze 1 tomorrow 08:00")
    assert "tomorrow 08:00" in reply.text
    assert (await chat.press("crm:done:1")).text.startswith("Done: reminder #1")
    assert "already done" in (await chat.say("done 1")).text
    assert "No open reminders" in (await chat.say("reminders")).text


async def test_done_snooze_refusals(chat: Chat, router: Router, other_rep: Actor, store: Store) -> None:
    await chat.say("remind in 1 hour: mine")
    other = Chat(router, other_rep)
    for text, needle in [
        ("done 1", "no reminder #1"),
        ("snooze 1 tomorrow", "no reminder #1"),
        ("done abc", "must be a number"),
    ]:
        reply = await other.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    for text, needle in [("snooze 1", "Until when"), ("snooze 1 someday maybe", "can't read")]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        r = await tx.reminders.get(1)
    assert r is not None and r.status == "pending"


async def _due_at(store: Store, reminder_id: int) -> datetime:
    async with store.read() as tx:
        r = await tx.reminders.get(reminder_id)
    assert r is not None
    return r.due_at


async def test_snooze_buttons_move_a_reminder_not_yet_due_past_its_own_time(
    chat: Chat, store: Store, clock: FakeClock
) -> None:
    """Now is Monday 09:00 UTC. A reminder due at 12:00 snoozed for an hour is due at 13:00
    (not 10:00, which would bring it forward); one due Wednesday 10:00 snoozed "tomorrow" goes
    to Thursday 09:00 (not Tuesday)."""
    await chat.say("remind today 12:00: call bank")
    reply = await chat.press("crm:snooze-1h:1")
    assert reply.text == "Snoozed reminder #1 until today 13:00."
    assert await _due_at(store, 1) == datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    await chat.say("remind wednesday 10:00: send the contract")
    assert "Thu 26 Nov 09:00" in (await chat.press("crm:snooze-tomorrow:2")).text
    assert await _due_at(store, 2) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def test_snooze_buttons_on_a_due_reminder_count_from_now(
    chat: Chat, store: Store, clock: FakeClock
) -> None:
    await chat.say("remind today 12:00: call bank")
    await chat.say("remind today 12:00: send the contract")
    clock.advance(hours=3, minutes=30)  # 12:30: both are overdue
    assert (await chat.press("crm:snooze-1h:1")).text == "Snoozed reminder #1 until today 13:30."
    assert await _due_at(store, 1) == datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert "tomorrow 09:00" in (await chat.press("crm:snooze-tomorrow:2")).text
    assert await _due_at(store, 2) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_snooze_tomorrow_is_the_next_morning_in_the_reps_zone(router: Router, store: Store) -> None:
    """Monday 09:00 UTC is 10:00 in Berlin. A reminder due Tuesday 00:30 Berlin (still Monday in
    UTC) moves to Wednesday 09:00 Berlin: the morning after its own day, in the rep's zone."""
    berlin = await staff_actor(
        store, platform="console", user_id="b", display_name="B", role="rep", timezone="Europe/Berlin"
    )
    chat = Chat(router, berlin)
    await chat.say("remind tomorrow 00:30: prepare the demo")
    assert await _due_at(store, 1) == datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert "Wed 25 Nov 09:00" in (await chat.press("crm:snooze-tomorrow:1")).text
    assert await _due_at(store, 1) == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
