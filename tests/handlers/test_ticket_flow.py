"""The guided /ticket: steps, attachments, confirmation, /cancel, and a draft kept in the store."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Table, func, select

from crm_store.store import Store
from crm_store.tables import conversations, tickets
from handlers.context import Services
from handlers.lookup import CustomerLookup
from handlers.messages import Actor, Attachment, Message, Reply
from handlers.router import Router
from handlers.ticket_flow import STALE
from tests.conftest import Chat, FakeClock, all_text, buttons

PHOTO = Attachment(file_id="AgAD-photo", name="photo.jpg", size=90_000, kind="photo")
PDF = Attachment(file_id="BQAD-doc", name="invoice.pdf", size=12_000, kind="document")


async def _count(store: Store, table: Table) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _send(chat: Chat, *attachments: Attachment, text: str = "") -> Reply:
    chat.last = await chat.router.handle(Message(actor=chat.actor, text=text, attachments=attachments))
    return chat.last


async def test_guided_flow_asks_subject_then_description_takes_files_and_opens_on_confirm(
    router: Router, customer: Actor, store: Store, services: Services
) -> None:
    services.settings = replace(services.settings, support_platform="slack", support_channel="C1")
    chat = Chat(router, customer)
    assert "What is it about?" in (await chat.say("/ticket")).text
    assert "Subject: Screen broken" in (await chat.say("Screen broken")).text
    summary = await chat.say("It flickers, then goes black")
    assert "Attachments: none" in all_text(summary)
    open_button, cancel_button = buttons(summary)
    assert open_button.startswith("crm:ticket-open:") and cancel_button.startswith("crm:ticket-cancel:")
    assert "Attachments: 2 (photo.jpg, invoice.pdf)" in all_text(await _send(chat, PHOTO, PDF))
    assert await _count(store, tickets) == 0

    opened = await chat.press(open_button)
    assert "ticket #1 is open: Screen broken" in opened.text and opened.replace_original
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
        first = (await tx.tickets.messages(1))[0]
        queued = await tx.outbox.listing()
    assert ticket is not None and ticket.subject == "Screen broken"
    assert first.text == "It flickers, then goes black"
    assert first.attachments == (PHOTO.as_dict(), PDF.as_dict())
    assert [row.target for row in queued] == ["C1"] and "Screen broken" in queued[0].payload["title"]
    assert await _count(store, conversations) == 0

    again = await chat.press(open_button)  # a double tap, or the same press on another replica
    assert again.is_error and STALE in again.text
    assert await _count(store, tickets) == 1


async def test_ticket_with_a_subject_skips_the_first_step_and_a_caption_is_the_description(
    router: Router, customer: Actor, store: Store
) -> None:
    chat = Chat(router, customer)
    assert "Subject: Refund missing" in (await chat.say("/ticket Refund missing")).text
    summary = await _send(chat, PHOTO, text="Here is the receipt")
    assert "Description: Here is the receipt" in all_text(summary)
    assert "Attachments: 1 (photo.jpg)" in all_text(summary)
    await chat.say("And the order was 1182")  # a later message extends the description
    await chat.press(buttons(chat.last or summary)[0])
    async with store.read() as tx:
        first = (await tx.tickets.messages(1))[0]
    assert first.text == "Here is the receipt\nAnd the order was 1182" and len(first.attachments) == 1


async def test_cancel_leaves_at_every_step_and_old_buttons_do_nothing(
    router: Router, customer: Actor, store: Store
) -> None:
    chat = Chat(router, customer)
    assert "nothing to cancel" in (await chat.say("/cancel")).text
    for steps in ([], ["Subject"], ["Subject", "Details"]):
        await chat.say("/ticket")
        for text in steps:
            await chat.say(text)
        assert "Cancelled" in (await chat.say("/cancel")).text
    await chat.say("/ticket Old draft")
    old = buttons(await chat.say("details"))
    await chat.say("/ticket New draft")  # a new /ticket replaces the draft
    for stale in old:
        assert STALE in (await chat.press(stale)).text
    current = buttons(await chat.say("new details"))
    cancelled = await chat.press(current[1])
    assert "Cancelled" in cancelled.text and cancelled.replace_original
    assert await _count(store, tickets) == 0 and await _count(store, conversations) == 0


async def test_plain_text_goes_to_the_open_ticket_unless_a_draft_is_in_progress(
    router: Router, customer: Actor, store: Store
) -> None:
    chat = Chat(router, customer)
    assert "ticket #1 is open" in (await chat.say("/ticket Broken\nIt does not start")).text
    await chat.say("/ticket")
    # Inside a draft, words are the answer, not a command ("help") or a note on ticket #1.
    assert "Subject: Help, it broke again" in (await chat.say("Help, it broke again")).text
    assert "Your tickets" in (await chat.say("/status")).title  # commands still run
    assert "Description: status please" in all_text(await chat.say("status please"))
    async with store.read() as tx:
        assert len(await tx.tickets.messages(1)) == 1
    await chat.say("/cancel")
    assert (await chat.say("one more thing")).text == "Added to ticket #1."


async def test_the_draft_lives_in_the_store_so_another_replica_continues_it_until_it_expires(
    store: Store, customer: Actor, clock: FakeClock
) -> None:
    def replica() -> Chat:
        return Chat(Router(Services(store=store, lookup=CustomerLookup(store, refresh_seconds=0))), customer)

    await replica().say("/ticket")
    assert "Subject: Printer" in (await replica().say("Printer")).text
    summary = await replica().say("Out of toner")
    assert "ticket #1 is open" in (await replica().press(buttons(summary)[0])).text

    await replica().say("/ticket Left alone")
    clock.advance(days=1, seconds=1)
    late = await replica().say("anyone there?")
    assert "no open ticket" not in late.text and late.text == "Added to ticket #1."


async def test_refusals_keep_the_draft_where_it_was(router: Router, customer: Actor, store: Store) -> None:
    chat = Chat(router, customer)
    await chat.say("/ticket")
    too_long = await chat.say("s" * 250)
    assert too_long.is_error and "under 200" in too_long.text
    assert "Subject: Fine" in (await chat.say("Fine")).text
    await chat.say("Details")
    many = await _send(chat, *([PHOTO] * 11))
    assert many.is_error and "at most 10" in many.text
    async with store.read() as tx:
        draft = await tx.conversations.get(customer.key)
    assert draft is not None and draft.step == "confirm" and draft.data["attachments"] == []


async def test_the_offer_for_text_with_no_ticket_open_collects_what_follows_until_answered(
    router: Router, customer: Actor, store: Store
) -> None:
    chat = Chat(router, customer)
    offer = await _send(chat, PHOTO, text="The screen cracked")
    assert "no open ticket" in offer.text and "Attachments: 1 (photo.jpg)" in all_text(offer)
    more = await _send(chat, PDF, text="Order 1182")
    assert "Description: The screen cracked Order 1182" in all_text(more)
    assert "Attachments: 2 (photo.jpg, invoice.pdf)" in all_text(more)
    opened = await chat.press(buttons(offer)[0])  # the first offer's button opens it all
    assert "ticket #1 is open: The screen cracked" in opened.text and opened.replace_original
    async with store.read() as tx:
        (first,) = await tx.tickets.messages(1)
    assert first.text == "The screen cracked\nOrder 1182"
    assert [a["file_id"] for a in first.attachments] == [PHOTO.file_id, PDF.file_id]
    assert STALE in (await chat.press(buttons(offer)[0])).text  # nothing opens twice


async def test_an_unanswered_offer_gives_way_to_a_ticket_a_rep_opens(
    router: Router, customer: Actor, rep: Actor, store: Store
) -> None:
    chat = Chat(router, customer)
    offer = await chat.say("hello, anyone?")
    cancelled = await chat.press(buttons(offer)[1])
    assert "Cancelled" in cancelled.text and await _count(store, conversations) == 0
    offer = await chat.say("hello again")
    assert "Opened ticket #1" in (await Chat(router, rep).say("open-ticket #1: Onboarding call")).text
    assert (await chat.say("Thursday works for me")).text == "Added to ticket #1."
    async with store.read() as tx:
        assert [m.text for m in await tx.tickets.messages(1)][-1] == "Thursday works for me"
    assert await _count(store, conversations) == 0
    assert STALE in (await chat.press(buttons(offer)[0])).text
    assert await _count(store, tickets) == 1
