"""Customer commands: /start, /help, /ticket, /status, /feedback, plain text — own data only."""

from __future__ import annotations

from crm_store.store import Store
from handlers.messages import Actor, Attachment, Message
from handlers.people import customer_actor
from handlers.router import Router
from tests.conftest import Chat, all_text, buttons


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
    for attempt in ("ticket 1", "reply 1 hi", "resolve 1", "tickets all"):
        reply = await chat.say(attempt)
        assert "Oscar" not in reply.text


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
