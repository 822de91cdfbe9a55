"""Customer commands: /start, /help, /ticket, /status, /feedback, plain text — own data only."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa

from crm_store import tables
from crm_store.outbox import OutboxRepo, OutboxRow
from crm_store.store import Store
from handlers import actions
from handlers.messages import Actor, Attachment, Message, reply_from_dict
from handlers.people import customer_actor
from handlers.router import Router
from nlp.sentiment import Sentiment
from tests.conftest import Chat, FakeClock, all_text, buttons, services_for

NO_OPEN_TICKET = "You have no open ticket. Shall I open one with this message?"


async def _tickets_and_pushes(store: Store) -> list[list[tuple[object, ...]]]:
    """Every ticket, ticket message and queued push, as rows."""
    async with store.read() as tx:
        return [
            [tuple(r) for r in (await tx.conn.execute(sa.select(t))).all()]
            for t in (tables.tickets, tables.ticket_messages, tables.outbox)
        ]


async def test_start_greets_by_name_and_help(router: Router, customer: Actor) -> None:
    chat = Chat(router, customer)
    reply = await chat.say("/start")
    assert reply.title == "Hello, Carla Customer!" and "/ticket" in reply.text
    assert "/status" in (await chat.say("/help")).text
    assert (await chat.say("/start some-token")).is_error


async def test_unknown_person_becomes_lead(store: Store) -> None:
    actor = await customer_actor(store, platform="telegram", user_id="77", display_name="New Person")
    async with store.read() as tx:
        c = await tx.customers.get(actor.customer_id or 0)
    assert c is not None and c.status == "lead" and c.source == "telegram"
    again = await customer_actor(store, platform="telegram", user_id="77", display_name="New Person")
    assert again.customer_id == actor.customer_id


async def test_ticket_status_and_plain_text_continue(router: Router, customer: Actor, store: Store) -> None:
    chat = Chat(router, customer)
    await chat.say("/ticket Refund missing")
    await chat.say("I paid twice")
    assert "ticket #1 is open" in (await chat.press(buttons(chat.last)[0] if chat.last else "")).text
    assert (await chat.say("It was order 1182")).text == "Added to ticket #1."
    attachment = Attachment(file_id="AgAD-1", name="receipt.jpg", size=2048, kind="photo")
    await router.handle(Message(actor=customer, text="photo of the receipt", attachments=(attachment,)))
    status = await chat.say("/status")
    assert status.items[0].text == "#1 Refund missing" and "open" in status.items[0].detail
    detail = await chat.say("/status 1")
    assert [i.text for i in detail.items][:2] == ["You: I paid twice", "You: It was order 1182"]
    async with store.read() as tx:
        messages = await tx.tickets.messages(1)
    assert messages[-1].attachments == (
        {"file_id": "AgAD-1", "name": "receipt.jpg", "size": 2048, "kind": "photo"},
    )


async def test_plain_text_without_ticket_offers_one(router: Router, customer: Actor, store: Store) -> None:
    chat = Chat(router, customer)
    reply = await chat.say("my screen is black")
    assert "no open ticket" in reply.text
    opened = await chat.press(buttons(reply)[0])
    assert "ticket #1 is open: my screen is black" in opened.text


async def test_customer_cannot_see_another_customers_ticket(
    router: Router, customer: Actor, store: Store
) -> None:
    other = await customer_actor(store, platform="telegram", user_id="2002", display_name="Oscar Other")
    await Chat(router, other).say("/ticket Oscar's secret problem\nDetails")
    chat = Chat(router, customer)
    reply = await chat.say("/status 1")
    assert reply.is_error and "no ticket #1" in reply.text and "Oscar" not in reply.text
    assert "no tickets" in (await chat.say("/status")).text.lower()
    before = await _tickets_and_pushes(store)
    # Staff words are no commands for a customer: "ticket 1" starts her own draft with subject
    # "1", "tickets all" reads as /status, and the rest is plain text with no ticket of hers.
    reply = await chat.say("ticket 1")
    assert reply.text.startswith("Subject: 1\nNow tell us what happened") and not reply.is_error
    assert (await chat.say("/cancel")).text == "Cancelled — no ticket was opened. /ticket starts again."
    assert (await chat.say("reply 1 hi")).text == NO_OPEN_TICKET
    # The offer is her own draft now: what she writes next joins it, never Oscar's ticket.
    assert (await chat.say("resolve 1")).text == (
        "Send photos or documents now to attach them, then open the ticket."
    )
    assert (await chat.say("/cancel")).text == "Cancelled — no ticket was opened. /ticket starts again."
    reply = await chat.say("tickets all")
    assert reply.is_error and reply.text.startswith("The ticket id must be a number like 12 or #12")
    # Oscar's ticket, its messages and the support channel's queue are untouched.
    assert await _tickets_and_pushes(store) == before


async def test_customer_refusals(router: Router, customer: Actor, store: Store) -> None:
    chat = Chat(router, customer)
    for text, needle in [
        ("/ticket " + "s" * 250, "under 200"),
        ("/feedback", "Usage: /feedback"),
        ("/status abc", "must be a number"),
        ("/frobnicate", "I don't know /frobnicate"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        assert await tx.tickets.find(status="all") == []


async def test_feedback_is_stored(router: Router, customer: Actor, store: Store) -> None:
    reply = await Chat(router, customer).say("/feedback Quick and friendly, thanks!")
    assert "Thank you" in reply.text
    async with store.read() as tx:
        audit = await tx.audit.recent(entity="feedback")
    assert audit and audit[0].actor == "telegram:1001"


async def test_sentiment_labels_and_raises_priority(
    services, router: Router, customer: Actor, store: Store, classifier
) -> None:
    services.sentiment = classifier
    chat = Chat(router, customer)
    await chat.say("/ticket Broken again\nTerrible service, the device broke again and nobody answers!")
    await chat.say("/ticket Question\nwhat time do you open on saturday?")
    async with store.read() as tx:
        angry, calm = await tx.tickets.get(1), await tx.tickets.get(2)
        messages = await tx.tickets.messages(1)
    assert angry is not None and angry.priority == "high"
    assert calm is not None and calm.priority == "normal"
    assert messages[0].sentiment_label == "negative"
    await chat.say("/feedback Quick and friendly, thanks!")
    async with store.read() as tx:
        assert await tx.labels.unlabelled("feedback") == []


class FakeLabeller:
    """Labels "slow" as negative and anything else as positive, with fixed scores."""

    def classify(self, text: str) -> Sentiment:
        if "slow" in text:
            return Sentiment("negative", -0.7, 0.85)
        return Sentiment("positive", 0.6, 0.8)

    def classify_many(self, texts: Sequence[str]) -> list[Sentiment]:
        return [self.classify(t) for t in texts]


def _support_router(store: Store, **settings: str) -> Router:
    services = services_for(store, **settings)
    services.sentiment = FakeLabeller()
    return Router(services)


async def _outbox_rows(store: Store) -> list[OutboxRow]:
    async with store.read() as tx:
        return await tx.outbox.listing(states=("pending", "sending", "sent", "failed"), limit=100)


async def test_feedback_is_posted_to_the_support_channel_with_its_sentiment(
    store: Store, customer: Actor
) -> None:
    router = _support_router(store, support_platform="slack", support_channel="CSUPPORT")
    reply = await Chat(router, customer).say("/feedback The new app is slow and confusing")
    assert reply.text == "Thank you for your feedback — it goes straight to the team."
    async with store.read() as tx:
        (stored,) = await tx.feedback.for_customer(customer.customer_id or 0)
    (row,) = await _outbox_rows(store)
    assert (row.platform, row.target, row.idempotency_key) == (
        "slack",
        "CSUPPORT",
        f"feedback:{customer.customer_id}:{stored.id}:slack",
    )
    post = reply_from_dict(row.payload)
    assert post.title == f"Feedback from Carla Customer (#{customer.customer_id})"
    assert post.text == "The new app is slow and confusing"
    assert [(f.label, f.value) for f in post.fields] == [("Sentiment", "negative (-0.70)")]
    assert buttons(post) == [
        actions.encode("show", customer.customer_id),
        actions.encode("timeline", customer.customer_id),
    ]


async def test_feedback_and_its_post_are_stored_together_or_not_at_all(
    store: Store, customer: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = _support_router(store, support_platform="slack", support_channel="CSUPPORT")

    async def broken(self: OutboxRepo, **_: object) -> bool:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(OutboxRepo, "enqueue", broken)
    reply = await Chat(router, customer).say("/feedback Love the new app")
    assert reply.is_error and "nothing was changed" in reply.text
    async with store.read() as tx:
        assert await tx.feedback.for_customer(customer.customer_id or 0) == []


async def test_without_a_support_channel_feedback_is_kept_and_nothing_is_queued(
    store: Store, customer: Actor
) -> None:
    router = _support_router(store)
    await Chat(router, customer).say("/feedback Love the new app")
    async with store.read() as tx:
        assert [f.text for f in await tx.feedback.for_customer(customer.customer_id or 0)] == [
            "Love the new app"
        ]
    assert await _outbox_rows(store) == []


async def test_feedback_and_ratings_are_on_the_customers_timeline(
    store: Store, customer: Actor, rep: Actor, clock: FakeClock
) -> None:
    router = _support_router(store)
    carla = Chat(router, customer)
    await carla.say("/ticket Broken\nThe screen is cracked")
    clock.advance(minutes=5)
    await Chat(router, rep).say("resolve 1 replaced")
    clock.advance(minutes=5)
    await carla.press(actions.encode("csat", "1-4"))
    clock.advance(minutes=5)
    await carla.say("/feedback Support is slow to answer")
    timeline = await Chat(router, rep).say(f"timeline #{customer.customer_id}")
    texts = [(i.text, i.detail) for i in timeline.items]
    assert texts[0][0] == "Feedback: Support is slow to answer" and texts[0][1].endswith(" · negative")
    assert texts[1][0] == "Rated ticket #1: 4/5"
    assert [t for t, _ in texts[2:]] == ["Ticket #1 resolved", "Ticket #1 opened: Broken"]


async def test_erasing_a_customer_drops_their_queued_feedback_post(
    store: Store, customer: Actor, admin: Actor
) -> None:
    router = _support_router(store, support_platform="slack", support_channel="CSUPPORT")
    await Chat(router, customer).say("/feedback Please call me back on +1 555 0100")
    assert len(await _outbox_rows(store)) == 1
    async with store.write("test") as tx:
        await tx.privacy.erase_customer(customer.customer_id or 0)
    assert await _outbox_rows(store) == []


PHOTO = Attachment(file_id="AgAD-cracked", name="photo.jpg", size=90_000, kind="photo")


async def test_a_photo_sent_with_no_ticket_open_is_on_the_ticket_the_offer_opens(
    router: Router, customer: Actor, store: Store
) -> None:
    offer = await router.handle(Message(actor=customer, text="The screen cracked", attachments=(PHOTO,)))
    assert "no open ticket" in offer.text
    opened = await Chat(router, customer).press(buttons(offer)[0])
    assert "ticket #1 is open: The screen cracked" in opened.text
    async with store.read() as tx:
        (first,) = await tx.tickets.messages(1)
    assert first.text == "The screen cracked" and first.attachments == (PHOTO.as_dict(),)


async def test_a_photo_without_words_and_no_ticket_open_is_kept_through_the_flow(
    router: Router, customer: Actor, store: Store
) -> None:
    asked = await router.handle(Message(actor=customer, attachments=(PHOTO,)))
    assert "What is it about?" in asked.text
    chat = Chat(router, customer)
    await chat.say("Cracked screen")
    summary = await chat.say("It fell off the desk")
    assert "Attachments: 1 (photo.jpg)" in all_text(summary)
    assert "ticket #1 is open" in (await chat.press(buttons(summary)[0])).text
    async with store.read() as tx:
        (first,) = await tx.tickets.messages(1)
    assert first.attachments == (PHOTO.as_dict(),)


async def test_plain_text_goes_to_the_senders_own_open_ticket_only(
    router: Router, customer: Actor, store: Store
) -> None:
    other = await customer_actor(store, platform="telegram", user_id="2002", display_name="Oscar Other")
    oscar, carla = Chat(router, other), Chat(router, customer)
    # Carla has no ticket yet while Oscar has one: her text must not land on his.
    await oscar.say("/ticket Oscar's problem\nFirst details")
    assert (await carla.say("my screen is black")).text == NO_OPEN_TICKET
    await carla.say("/ticket Carla's problem\nHer details")
    await oscar.say("/ticket Oscar's second problem\nMore details")  # now the newest open ticket
    assert (await carla.say("still black")).text == "Added to ticket #2."
    assert (await oscar.say("any news?")).text == "Added to ticket #3."
    async with store.read() as tx:
        texts = {t: [m.text for m in await tx.tickets.messages(t)] for t in (1, 2, 3)}
    assert texts == {
        1: ["First details"],
        2: ["Her details", "still black"],
        3: ["More details", "any news?"],
    }
