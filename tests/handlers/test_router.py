"""The router: help, unknown commands, oversized text, forged buttons, and fuzzing."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.messages import Actor, Message
from handlers.router import STAFF_COMMANDS, Router
from tests.conftest import Chat


async def test_help_lists_every_staff_command_with_example(chat: Chat) -> None:
    reply = await chat.say("help")
    listed = "\n".join(i.text for i in reply.items)
    for command in STAFF_COMMANDS.commands:
        if command.audience == "staff":
            assert command.usage in listed
    assert "role @user" not in listed  # managers-only, hidden from reps
    detail = await chat.say("help remind")
    assert "Usage: remind" in detail.text and "Example: remind acme" in detail.text
    assert (await chat.say("help nosuch")).is_error


async def test_manager_help_includes_manager_commands(router: Router, manager: Actor) -> None:
    assert "role @user" in "\n".join(i.text for i in (await Chat(router, manager).say("help")).items)


async def test_unknown_command_suggests_nearest(chat: Chat) -> None:
    reply = await chat.say("remnd acme tomorrow: x")
    assert reply.is_error and "Did you mean `remind`?" in reply.text


async def test_missing_arguments_show_usage(chat: Chat) -> None:
    for word in (
        "find",
        "show",
        "add",
        "update",
        "log",
        "order",
        "remind",
        "done",
        "snooze",
        "ticket",
        "assign",
        "reply",
        "resolve",
        "reopen",
        "timeline",
    ):
        reply = await chat.say(word)
        assert reply.is_error and "Usage:" in reply.text, word


async def test_oversized_text_refused(chat: Chat) -> None:
    reply = await chat.say("log acme note: " + "a" * 5000)
    assert reply.is_error and "too long" in reply.text


async def test_forged_buttons_refused(chat: Chat) -> None:
    for action in ("crm:drop-table:1", "evil:show:1", "crm:show:1;DROP", "crm:run:nope", "x" * 200):
        reply = await chat.press(action)
        assert reply.is_error, action


async def test_button_prompts_for_text_commands(chat: Chat) -> None:
    await chat.say("add Acme Corp")
    assert "log #1 call:" in (await chat.press("crm:log:1")).text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
async def test_router_never_raises_and_always_answers(
    router: Router, rep: Actor, customer: Actor, text: str
) -> None:
    for actor in (rep, customer):
        reply = await router.handle(Message(actor=actor, text=text))
        assert reply.text.strip() or reply.title.strip()


async def test_free_text_write_runs_when_confident(chat: Chat, store) -> None:
    await chat.say("add Acme Corp")
    reply = await chat.say("remind me to call Acme tomorrow at 10")
    assert "I'll remind you tomorrow 10:00 about Acme Corp (#1): call Acme" in reply.text
    reply = await chat.say("log a call with Acme: they want a discount")
    assert reply.text.startswith("Logged a call with Acme Corp (#1).")
    async with store.read() as tx:
        (interaction,) = await tx.interactions.for_customer(1)
    assert interaction.text == "they want a discount"


async def test_free_text_reads(chat: Chat, router: Router, customer: Actor) -> None:
    await chat.say("add Globex Corporation")
    await Chat(router, customer).say("/ticket Broken\nIt does not start")
    assert (await chat.say("what's open for globex?")).title == "Tickets of Globex Corporation"
    assert (await chat.say("please show globex corp")).title.startswith("Globex Corporation (#")


async def test_unsure_free_text_asks_back_with_buttons_and_changes_nothing(chat: Chat, store) -> None:
    await chat.say("add Acme Corp")
    reply = await chat.say("acme renewal maybe")
    assert reply.title == "Did you mean…" and not reply.is_error
    assert [b.label for b in reply.buttons] == ["log acme note: renewal maybe", "timeline acme renewal maybe"]
    assert all(b.action.startswith("crm:run:") for b in reply.buttons)
    async with store.read() as tx:
        assert await tx.interactions.all_in_range() == []
        assert await tx.reminders.open_for_rep(1) == []
    # Only a press acts, and it runs the reading it showed.
    assert (await chat.press(reply.buttons[0].action)).text.startswith("Logged a note with Acme Corp (#1).")
    async with store.read() as tx:
        assert [i.text for i in await tx.interactions.all_in_range()] == ["renewal maybe"]


async def test_free_text_for_the_at_risk_list_runs_it(chat: Chat) -> None:
    # Every intent nlp/intents knows is a command now (at-risk arrived with the scheduler).
    reply = await chat.say("who's at risk?")
    assert "No loyalty scores yet" in reply.text
