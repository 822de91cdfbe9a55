"""Free text through the router: what it understands, and that a misreading is asked, never written."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_store.store import Store
from handlers.messages import Actor, Reply
from handlers.router import Router
from tests.conftest import Chat, all_text


async def _book(chat: Chat) -> None:
    for line in ("add Acme Corp", "add Globex Corporation", "add Initech status=lead"):
        assert not (await chat.say(line)).is_error


async def _counts(store: Store) -> tuple[int, int, int]:
    """Interactions, open reminders of rep #1 and customers: what a misreading must not add."""
    async with store.read() as tx:
        logged = len(await tx.interactions.all_in_range())
        reminders = len(await tx.reminders.open_for_rep(1))
        customers = len(await tx.customers.get_many(list(range(1, 50))))
    return logged, reminders, customers


def _asked(reply: Reply) -> bool:
    return reply.title == "Did you mean…" and bool(reply.buttons) and not reply.is_error


# -- questions, reports of what happened, field changes -------------------------------------


async def test_questions_show_the_customer(chat: Chat) -> None:
    await _book(chat)
    for text in (
        "how are things with Acme?",
        "what email do we have for Acme",
        "who is the account owner for Acme",
        "what’s Acme’s email?",  # a phone's curly quotes
    ):
        reply = await chat.say(text)
        assert reply.title == "Acme Corp (#1)", (text, all_text(reply))


async def test_reports_of_what_happened_are_logged_on_the_customer(chat: Chat, store: Store) -> None:
    await _book(chat)
    reply = await chat.say("Acme mentioned that the budget is frozen")
    assert reply.text.startswith("Logged a note with Acme Corp (#1)."), all_text(reply)
    reply = await chat.say("met with Globex's CFO today")
    assert reply.text.startswith("Logged a meeting with Globex Corporation (#2)."), all_text(reply)
    async with store.read() as tx:
        (acme,) = await tx.interactions.for_customer(1)
        (globex,) = await tx.interactions.for_customer(2)
    assert (acme.kind, acme.text) == ("note", "the budget is frozen")
    assert globex.kind == "meeting" and "CFO" in globex.text


async def test_times_anywhere_make_reminders_with_the_meaning_as_text(chat: Chat, store: Store) -> None:
    await _book(chat)
    reply = await chat.say("follow up with Acme after the weekend regarding pricing")
    assert "about Acme Corp (#1)" in reply.text, all_text(reply)
    reply = await chat.say("ping me tomorrow morning about Globex")
    assert "about Globex Corporation (#2)" in reply.text, all_text(reply)
    async with store.read() as tx:
        by_customer = {r.customer_id: r for r in await tx.reminders.open_for_rep(1)}
    pricing, ping = by_customer[1], by_customer[2]
    # Monday 23 Nov 2026: after the weekend is Monday the 30th, in the morning.
    assert pricing.due_at.astimezone(UTC) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert "regarding pricing" in pricing.text and "weekend" not in pricing.text
    # The words left after the time are the customer only: the reminder says what to do.
    assert ping.text == "follow up with Globex"


async def test_field_changes_in_plain_words(chat: Chat, store: Store, manager: Actor) -> None:
    await _book(chat)
    assert not (await chat.say("Initech is a customer now")).is_error
    assert not (await chat.say("Acme's new number is +1 555 0199")).is_error
    reply = await chat.say("hand Globex over to Dana")
    assert not reply.is_error, all_text(reply)
    async with store.read() as tx:
        initech, acme, globex = [await tx.customers.get(i) for i in (3, 1, 2)]
    assert initech is not None and initech.status == "active"
    assert acme is not None and acme.phone is not None and acme.phone.endswith("5550199")
    assert globex is not None and globex.owner_rep_id == manager.rep_id


# -- tickets ------------------------------------------------------------------------------


async def test_a_ticket_in_plain_words_and_staff_ticket_actions(chat: Chat, store: Store) -> None:
    await _book(chat)
    reply = await chat.say("Acme reports the app crashes on login, please log a ticket")
    assert reply.text.startswith("Opened ticket #1 for Acme Corp (#1): the app crashes on login"), all_text(
        reply
    )
    assert "assigned to Sam" in (await chat.say("assign ticket 1 to me")).text
    assert "Replied on ticket #1" in (await chat.say("reply to 1: we are on it")).text
    assert "Resolved ticket #1" in (await chat.say("close 1")).text
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.status == "resolved" and ticket.customer_id == 1


# -- insight commands ---------------------------------------------------------------------


async def test_recommendations_forecasts_and_churn_in_plain_words(chat: Chat) -> None:
    await _book(chat)
    offer = await chat.say("what should I offer Acme?")
    # The sample-free test book has sold nothing: the recommend command answers so.
    assert "nothing to recommend" in offer.text and not offer.is_error, all_text(offer)
    forecast = await chat.say("how much will Globex order next quarter?")
    assert "Globex Corporation (#2)" in all_text(forecast), all_text(forecast)
    assert not (await chat.say("who is likely to churn this quarter?")).title.startswith("Did you mean")


# -- never write on a misreading ----------------------------------------------------------


async def test_a_sentence_after_add_is_asked_and_adds_nobody(chat: Chat, store: Store) -> None:
    before = await _counts(store)
    reply = await chat.say("add a new lead: Jane Doe from Contoso, jane@contoso.example")
    assert _asked(reply) and await _counts(store) == before
    assert any(b.label.startswith("add Jane Doe company=Contoso") for b in reply.buttons)


async def test_a_new_customer_from_free_text_is_always_asked(chat: Chat, store: Store) -> None:
    before = await _counts(store)
    reply = await chat.say("new contact Jane Doe at Contoso")
    assert _asked(reply) and await _counts(store) == before
    # One press does it: the button carries the whole reading.
    done = await chat.press(reply.buttons[0].action)
    assert "Jane Doe" in all_text(done) and (await _counts(store))[2] == before[2] + 1


async def test_a_relation_in_plain_words_is_asked_first(chat: Chat) -> None:
    await _book(chat)
    await chat.say("add Jane Roe")
    reply = await chat.say("Jane Roe works at Acme Corp")
    assert _asked(reply), all_text(reply)
    assert "Acme" not in all_text(await chat.say("relations jane roe"))
    done = await chat.press(reply.buttons[0].action)
    assert not done.is_error, all_text(done)
    assert "Acme Corp" in all_text(await chat.say("relations jane roe"))


async def test_an_ambiguous_customer_is_asked_with_one_button_each(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    await chat.say("add Acme Logistics")
    before = await _counts(store)
    reply = await chat.say("Acme mentioned that the budget is frozen")
    assert _asked(reply) and await _counts(store) == before, all_text(reply)
    labels = [b.label for b in reply.buttons]
    assert any("Acme Corp (#1)" in label for label in labels) and any(
        "Acme Logistics (#2)" in label for label in labels
    )
    second = next(b for b in reply.buttons if "Acme Logistics" in b.label)
    assert (await chat.press(second.action)).text.startswith("Logged a note with Acme Logistics (#2).")
    async with store.read() as tx:
        assert await tx.interactions.for_customer(1) == []
        (note,) = await tx.interactions.for_customer(2)
    assert note.text == "the budget is frozen"


async def test_a_customer_that_only_looks_like_the_name_is_asked_not_written(
    chat: Chat, store: Store
) -> None:
    await chat.say("add Globex Corporation")
    before = await _counts(store)
    reply = await chat.say("Globax Corp mentioned that the budget is frozen")
    assert await _counts(store) == before
    assert _asked(reply) or reply.is_error, all_text(reply)


async def test_a_reminder_whose_words_name_a_customer_is_asked_not_set_without_them(
    chat: Chat, store: Store
) -> None:
    await _book(chat)
    before = await _counts(store)
    reply = await chat.say("i need to follow up w/ globex on monday")
    assert _asked(reply) and await _counts(store) == before, all_text(reply)
    about = next(b for b in reply.buttons if "Globex Corporation" in b.label)
    assert not (await chat.press(about.action)).is_error
    async with store.read() as tx:
        (reminder,) = await tx.reminders.open_for_rep(1)
    assert reminder.customer_id == 2 and "globex" in reminder.text.lower()


async def test_two_customers_in_one_sentence_do_one_and_offer_the_other(chat: Chat, store: Store) -> None:
    await _book(chat)
    reply = await chat.say("log a call with Acme and remind me to call Globex friday")
    async with store.read() as tx:
        acme = await tx.interactions.for_customer(1)
        globex = await tx.interactions.for_customer(2)
        reminders = await tx.reminders.open_for_rep(1)
    # Never both actions on one customer: the call is Acme's alone, the reminder waits for a press.
    assert globex == [] and reminders == []
    assert len(acme) == 1 and "Globex" not in acme[0].text
    offered = [b for b in reply.buttons if "Globex" in b.label]
    assert offered and offered[0].label.startswith("remind Globex"), all_text(reply)
    await chat.press(offered[0].action)
    async with store.read() as tx:
        (reminder,) = await tx.reminders.open_for_rep(1)
    assert reminder.customer_id == 2


async def test_chit_chat_writes_nothing(chat: Chat, store: Store, router: Router) -> None:
    await _book(chat)
    before = await _counts(store)
    for text in ("thanks a lot!", "good morning", "haha nice one", "what's the weather like in Paris?"):
        reply = await chat.say(text)
        assert not reply.text.startswith(("Logged", "I'll remind", "Updated", "Opened")), text
    assert await _counts(store) == before
