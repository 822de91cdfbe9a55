"""CSAT and the pushes around a ticket: outbox rows to the customer's chat and the support thread."""

from __future__ import annotations

from dataclasses import replace

from crm_store.store import Store
from handlers.context import Services
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, buttons


async def _rows(store: Store) -> list[tuple[str, str, str | None, str]]:
    async with store.read() as tx:
        return [(r.platform, r.target, r.thread_key, r.payload["text"]) for r in await tx.outbox.listing()]


async def test_ticket_pushes_go_to_the_customers_chat_and_the_support_thread(
    router: Router, services: Services, customer: Actor, rep: Actor, store: Store
) -> None:
    services.settings = replace(services.settings, support_platform="slack", support_channel="C1")
    await Chat(router, customer).say("/ticket Printer on fire\nSmoke everywhere")
    await Chat(router, customer).say("still burning")
    staff = Chat(router, rep)
    await staff.say("reply 1 Unplug it")
    await staff.say("resolve 1")
    rows = await _rows(store)
    assert [(p, t, k) for p, t, k, _ in rows] == [
        ("slack", "C1", "ticket:1"),
        ("slack", "C1", "ticket:1"),
        ("telegram", "1001", None),
        ("telegram", "1001", None),
        ("slack", "C1", "ticket:1"),
    ]
    assert rows[2][3] == "Unplug it" and "How did we do?" in rows[3][3]


async def test_csat_is_stored_once_for_the_own_resolved_ticket_only(
    router: Router, customer: Actor, rep: Actor, store: Store
) -> None:
    me = Chat(router, customer)
    await me.say("/ticket Slow delivery\nTwo weeks late")
    assert (await me.press("crm:csat:1-5")).text.startswith("Ticket #1 is open again")  # not resolved yet
    assert "How did we do?" not in (await Chat(router, rep).say("resolve 1")).text
    async with store.read() as tx:
        csat = next(r for r in await tx.outbox.listing() if "How did we do?" in r.payload["text"])
    assert [b["action"] for b in csat.payload["buttons"]] == [f"crm:csat:1-{n}" for n in range(1, 6)]

    thanks = await me.press("crm:csat:1-4")
    assert thanks.replace_original and "4/5" in thanks.text and not buttons(thanks)
    again = await me.press("crm:csat:1-1")
    assert "already rated" in again.text and not again.replace_original
    assert (await me.press("crm:csat:1-9")).is_error
    assert (await me.press("crm:csat:2-5")).is_error  # no such ticket of mine
    assert (await Chat(router, rep).press("crm:csat:1-1")).is_error  # staff cannot rate
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
        rows = await tx.audit.recent(entity="feedback")
    assert ticket is not None and ticket.csat_rating == 4 and len(rows) == 1
