"""The router: help, unknown commands, oversized text, buttons and who may press them, quotes,
free text, and fuzzing."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from crm_store.store import Store
from crm_store.tables import conversations, feedback, interactions, outbox, pending_actions, ticket_messages
from handlers.context import Services
from handlers.messages import Actor, Message
from handlers.router import NOT_FOR_YOU, NOT_MINE, STAFF_COMMANDS, Router
from tests.conftest import Chat, buttons


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
    assert reply.title == "Did you mean…" and not reply.is_error and reply.buttons
    assert all(b.action.startswith("crm:run:") for b in reply.buttons)
    async with store.read() as tx:
        assert await tx.interactions.all_in_range() == []
        assert await tx.reminders.open_for_rep(1) == []
    # Only a press acts, and it runs the reading it showed.
    reply = await chat.say("log a call with acme renewal maybe")
    pressed = next(b for b in reply.buttons if b.label.startswith("log "))
    assert (await chat.press(pressed.action)).text.startswith("Logged a call with Acme Corp (#1).")


async def test_free_text_for_the_at_risk_list_runs_it(chat: Chat) -> None:
    # Every intent nlp/intents knows is a command now (at-risk arrived with the scheduler).
    reply = await chat.say("who's at risk?")
    assert "No loyalty scores yet" in reply.text


async def _stored(store: Store) -> dict[str, int]:
    """Rows of everything a press could have written."""
    counts = {}
    async with store.read() as tx:
        for table in (ticket_messages, outbox, conversations, pending_actions, feedback, interactions):
            query = select(func.count()).select_from(table)
            counts[table.name] = int((await tx.conn.execute(query)).scalar_one())
    return counts


async def test_a_customer_pressing_a_team_button_gets_a_notice_and_nothing_is_stored(
    router: Router, services: Services, customer: Actor, rep: Actor, store: Store
) -> None:
    services.settings = replace(services.settings, support_platform="slack", support_channel="C1")
    carla = Chat(router, customer)
    await carla.say("/ticket Printer broken\nIt jams")  # an open ticket the presses could land on
    await Chat(router, rep).say("remind tomorrow 10:00: call the printer people")
    before = await _stored(store)
    forged = (
        "crm:show:1",
        "crm:resolve:1",
        "crm:assign-me:1",
        "crm:ticket:2",
        "crm:log:1",
        "crm:reply:1",
        "crm:done:1",
        "crm:snooze-1h:1",
        "crm:erase:sometoken",
        "crm:drop-table:1",
    )
    for action in forged:
        reply = await carla.press(action)
        assert (reply.text, reply.toast, reply.is_error) == (NOT_FOR_YOU, True, True), action
        assert not reply.buttons and not reply.replace_original
    assert await _stored(store) == before
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
        (reminder,) = await tx.reminders.open_for_rep(rep.rep_id or 0)
    assert ticket is not None and ticket.status == "open" and ticket.assignee_rep_id is None
    assert reminder.status == "pending"
    # Their own buttons still work.
    assert (await carla.press("crm:help:ticket")).title == "How I can help"


async def test_the_team_pressing_customer_buttons_or_unknown_verbs_gets_the_same_notice(
    chat: Chat, router: Router, customer: Actor, store: Store
) -> None:
    carla = Chat(router, customer)
    await carla.say("/ticket Broken\nIt does not start")
    await chat.say("resolve 1")
    await carla.say("/ticket")
    summary = await carla.say("Still broken\nNow it smokes")
    before = await _stored(store)
    for action in ("crm:csat:1-5", *buttons(summary), "crm:frobnicate:1"):
        reply = await chat.press(action)
        assert (reply.text, reply.toast) == (NOT_FOR_YOU, True), action
    assert await _stored(store) == before
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.csat_rating is None
    undecodable = await chat.press("evil:show:1")
    assert (undecodable.text, undecodable.toast) == (NOT_MINE, True)


async def test_a_role_refusal_of_a_button_is_a_denial_like_a_commands(
    router: Router, manager: Actor, store: Store
) -> None:
    reply = await Chat(router, manager).press("crm:erase:sometoken")
    assert reply.is_error and not reply.toast and "`erase` is for admins" in reply.text
    async with store.read() as tx:
        (denied,) = [a for a in await tx.audit.recent(limit=10) if a.action == "denied"]
    assert denied.actor == "console:dana"


async def test_the_help_button_explains_a_command_or_gives_customers_their_help(
    chat: Chat, router: Router, customer: Actor
) -> None:
    detail = await chat.press("crm:help:remind")
    assert detail.title == "remind" and "Usage: remind" in detail.text
    assert (await Chat(router, customer).press("crm:help:remind")).title == "How I can help"


async def test_a_typographic_apostrophe_is_read_as_a_plain_one(
    chat: Chat, router: Router, customer: Actor
) -> None:
    await chat.say("add Globex Corporation")
    await Chat(router, customer).say("/ticket Broken\nIt does not start")
    for text in ("what’s open for globex?", "what‘s open for globex?", "whatʼs open for globex?"):
        assert (await chat.say(text)).title == "Tickets of Globex Corporation", text


async def test_stored_text_keeps_the_quotes_as_typed(
    chat: Chat, router: Router, customer: Actor, store: Store
) -> None:
    await chat.say("add Acme Corp")  # customer #2: Carla is #1
    read = await chat.say("log a call with Acme: they’re “thrilled” about the renewal")
    assert read.text.startswith("Logged a call with Acme Corp (#2)."), read.text
    await chat.say("log acme note: it’s «done»")
    carla = Chat(router, customer)
    await carla.say("/ticket Broken\nIt’s broken, and the „manual“ doesn’t help")
    await carla.say("It’s still broken")
    async with store.read() as tx:
        notes = sorted(i.text for i in await tx.interactions.for_customer(2))
        messages = [m.text for m in await tx.tickets.messages(1)]
    assert notes == ["it’s «done»", "they’re “thrilled” about the renewal"]
    assert sorted(messages) == ["It’s broken, and the „manual“ doesn’t help", "It’s still broken"]


async def test_on_run_hears_each_command_that_ran_and_the_error_it_answered(
    services: Services, rep: Actor
) -> None:
    heard: list[tuple[str, str, str | None]] = []
    router = Router(
        services, on_run=lambda ctx, error: heard.append((ctx.command, ctx.args, error and str(error)))
    )
    chat = Chat(router, rep)
    await chat.say("reminders")
    missing = await chat.say("done 999")
    assert heard == [("reminders", "", None), ("done", "999", missing.text)]
    assert missing.is_error
