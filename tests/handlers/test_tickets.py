"""Team ticket commands: tickets, ticket, assign, reply, resolve, reopen, open-ticket."""

from __future__ import annotations

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, all_text


async def open_customer_ticket(router: Router, customer: Actor, subject: str = "Printer on fire") -> None:
    reply = await Chat(router, customer).say(f"/ticket {subject}\nPlease help")
    assert "is open" in reply.text, reply.text


async def test_tickets_lists_open_and_filters(chat: Chat, router: Router, customer: Actor) -> None:
    await open_customer_ticket(router, customer)
    reply = await chat.say("tickets")
    assert reply.items[0].text == "#1 Printer on fire — Carla Customer"
    assert "unassigned" in reply.items[0].detail
    assert (await chat.say("tickets mine")).text == "No tickets here."
    await chat.say("assign 1")
    assert len((await chat.say("tickets mine")).items) == 1
    assert len((await chat.say("tickets carla customer")).items) == 1
    await chat.say("resolve 1")
    assert (await chat.say("tickets open")).text == "No tickets here."
    assert len((await chat.say("tickets all")).items) == 1


async def test_ticket_detail_reply_and_first_response(
    chat: Chat, router: Router, customer: Actor, store: Store
) -> None:
    await open_customer_ticket(router, customer)
    reply = await chat.say("reply 1 We are sending a technician.")
    assert reply.text == "Replied on ticket #1 to Carla Customer."
    detail = await chat.say("ticket 1")
    text = all_text(detail)
    assert "Status: pending" in text and "Assignee: Sam" in text
    assert "Sam: We are sending a technician." in text
    async with store.read() as tx:
        t = await tx.tickets.get(1)
    assert t is not None and t.first_response_at is not None


async def test_assign_to_colleague_and_resolve_reopen(
    chat: Chat, router: Router, customer: Actor, other_rep: Actor, store: Store
) -> None:
    await open_customer_ticket(router, customer)
    assert "assigned to Priya" in (await chat.say("assign 1 Priya")).text
    assert "already assigned" in (await chat.say("assign 1 @priya")).text
    assert "Resolved ticket #1" in (await chat.say("resolve 1 replaced the unit")).text
    assert "already resolved" in (await chat.say("resolve 1")).text
    assert (await chat.say("reply 1 hello")).is_error
    assert "Reopened" in (await chat.press("crm:reopen:1")).text
    async with store.read() as tx:
        t = await tx.tickets.get(1)
        audit = [a.action for a in await tx.audit.recent(entity="ticket", entity_id=1)]
    assert t is not None and t.status == "open" and t.resolved_at is None
    assert {"assign", "resolve", "reopen"} <= set(audit)


async def test_ticket_refusals(chat: Chat, router: Router, customer: Actor, store: Store) -> None:
    await open_customer_ticket(router, customer)
    for text, needle in [
        ("ticket 99", "no ticket #99"),
        ("ticket x", "must be a number"),
        ("assign 1 nobody-here", "No team member matches"),
        ("reply 1", "What should the reply say"),
        ("reply 1 " + "y" * 4001, "too long"),
        ("reopen 1", "is not resolved"),
        ("open-ticket carla", "Usage: open-ticket"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error or needle in reply.text, (text, reply.text)
        assert needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        t = await tx.tickets.get(1)
    assert t is not None and t.assignee_rep_id is None and t.status == "open"


async def test_rep_opens_ticket_for_customer(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    reply = await chat.say("open-ticket acme: invoice shows the wrong VAT")
    assert "Opened ticket #1 for Acme Corp" in reply.text
    async with store.read() as tx:
        t = await tx.tickets.get(1)
    assert t is not None and t.assignee_rep_id is not None and t.source == "console"
