"""export-contact and erase: admins only, erase only after its one-time button, and after it
nothing reaches the erased customer's chat."""

from __future__ import annotations

from dataclasses import replace

from crm_store.store import Store
from handlers import actions
from handlers.context import Services
from handlers.jobs import JobSettings, queue_due_reminders
from handlers.messages import Actor, Message
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, all_text, buttons

CHAT_ID = "7700123451"


async def _carla(router: Router, rep: Actor, store: Store) -> Actor:
    """Carla: a record with a linked Telegram account, a ticket, a note and a reminder."""
    sam = Chat(router, rep)
    await sam.say("add Carla Diaz email=carla@example.org phone=+1 555 0142")
    async with store.write("test") as tx:
        await tx.people.link_customer(platform="telegram", external_id=CHAT_ID, customer_id=1)
    carla = await customer_actor(store, platform="telegram", user_id=CHAT_ID, display_name="Carla")
    assert carla.customer_id == 1
    await Chat(router, carla).say("/ticket Broken\nThe screen cracked")
    await sam.say("log carla call: she prefers mornings")
    await sam.say("order carla 1200 annual licence")
    await sam.say("remind carla in 1 hour: call Carla back")
    return carla


async def _customer_exists(store: Store) -> bool:
    async with store.read() as tx:
        return await tx.customers.get(1) is not None and bool(await tx.people.identities_of_customer(1))


def _erase_button(reply_buttons: list[str]) -> str:
    found = [b for b in reply_buttons if b.startswith("crm:erase:")]
    assert len(found) == 1, reply_buttons
    return found[0]


async def test_admin_exports_a_contact(router: Router, rep: Actor, admin: Actor, store: Store) -> None:
    await _carla(router, rep, store)
    reply = await Chat(router, admin).say("export-contact carla")
    assert not reply.is_error and reply.title == "Data export: Carla Diaz (#1)"
    text = all_text(reply)
    assert "Interactions: 1" in text and "Tickets: 1" in text and "Chat links: 1" in text
    assert "crm-bot privacy export 1 --out contact-1.json" in reply.text
    async with store.read() as tx:
        audit = await tx.audit.recent(entity="customer", entity_id=1)
    assert audit[0].action == "export" and audit[0].actor == "console:ada"


async def test_reps_managers_and_customers_are_refused(
    router: Router, rep: Actor, manager: Actor, admin: Actor, store: Store
) -> None:
    carla = await _carla(router, rep, store)
    for who in (rep, manager):
        for text in ("erase carla", "export-contact carla", "erase #1"):
            reply = await Chat(router, who).say(text)
            assert reply.is_error and "is for admins; ask an admin" in reply.text, (who.role, text)
    async with store.read() as tx:
        denied = [a for a in await tx.audit.recent(limit=100) if a.action == "denied"]
    assert {a.actor for a in denied} == {"console:sam", "console:dana"}
    # A customer has no such commands: the slash forms are unknown, the bare words go to their
    # ticket like any other text, and nothing is erased or exported.
    for text in ("/erase #1", "/export-contact #1"):
        reply = await Chat(router, carla).say(text)
        assert reply.is_error and reply.text.startswith(f"I don't know {text.split()[0]}."), reply.text
    assert (await Chat(router, carla).say("erase #1")).text == "Added to ticket #1."
    async with store.read() as tx:
        assert [m.text for m in await tx.tickets.messages(1)] == ["The screen cracked", "erase #1"]
        assert [a.action for a in await tx.audit.recent(entity="customer", entity_id=1)] == ["link", "create"]
    # Nor does anyone but an admin get anywhere with the button.
    token = _erase_button(buttons(await Chat(router, admin).say("erase #1")))
    assert "not for you" in (await Chat(router, carla).press(token)).text
    for who in (rep, manager):
        reply = await Chat(router, who).press(token)
        assert reply.is_error and "is for admins" in reply.text
    assert await _customer_exists(store)


async def test_erase_asks_first_and_its_button_works_once_for_that_admin(
    router: Router, rep: Actor, admin: Actor, store: Store, services: Services
) -> None:
    await _carla(router, rep, store)
    ada = Chat(router, admin)
    question = await ada.say("erase carla")
    assert question.title == "Erase Carla Diaz (#1)?" and "cannot be undone" in question.text
    assert "Interactions: 1" in all_text(question)
    press = _erase_button(buttons(question))
    assert len(press.encode()) <= actions.MAX_BYTES
    assert await _customer_exists(store)  # nothing changes before the press

    # Typing the pending command, or replaying the token through crm:run, erases nothing.
    assert (await ada.say("privacy:erase 1")).is_error
    replay = _erase_button(buttons(await ada.say("erase #1")))
    assert (await ada.press(replay.replace("crm:erase:", "crm:run:"))).is_error
    assert (await ada.press(replay)).is_error  # that token was used up by the replay
    # Another admin can't press Ada's button.
    root = await staff_actor(store, platform="console", user_id="root", display_name="Root", role="admin")
    assert "expired or was already used" in (await Chat(router, root).press(press)).text
    assert await _customer_exists(store)

    done = await ada.press(press)
    assert not done.is_error and done.replace_original and done.title == "Erased customer #1"
    assert "Carla" not in all_text(done)  # the question (with her name) is replaced by this
    assert "identities: 1" in all_text(done) and "1 order(s) kept as amounts" in done.text
    assert not await _customer_exists(store)
    again = await ada.press(press)
    assert again.is_error and "expired or was already used" in again.text
    assert (await ada.say("show carla")).is_error  # gone from the lookup index too
    assert (await ada.say("erase #1")).text == "There is no customer #1."


async def test_unknown_customer_and_usage(router: Router, admin: Actor) -> None:
    ada = Chat(router, admin)
    assert "No customer matches" in (await ada.say("erase nobody-at-all")).text
    assert (await ada.say("erase #99")).text == "There is no customer #99."
    assert (await ada.say("export-contact #99")).text == "There is no customer #99."
    assert "Usage: erase <customer>" in (await ada.say("erase")).text


async def test_help_shows_privacy_commands_to_admins_only(
    router: Router, admin: Actor, manager: Actor
) -> None:
    listed = "\n".join(i.text for i in (await Chat(router, admin).say("help")).items)
    assert "erase <customer>" in listed and "export-contact <customer>" in listed
    manager_listed = "\n".join(i.text for i in (await Chat(router, manager).say("help")).items)
    assert "erase <customer>" not in manager_listed and "role @user" in manager_listed
    assert "Admins only." in (await Chat(router, admin).say("help erase")).text


async def test_nothing_reaches_their_chat_after_erasure(
    router: Router, rep: Actor, admin: Actor, store: Store, clock: FakeClock
) -> None:
    await _carla(router, rep, store)
    sam = Chat(router, rep)
    await sam.say("remind in 1 hour: renew certificate")  # not about Carla: still due
    ada = Chat(router, admin)
    await ada.press(_erase_button(buttons(await ada.say("erase carla"))))

    clock.advance(hours=2)
    assert await queue_due_reminders(store, JobSettings(staff_platforms=("console",))) == 1
    await sam.say("reply 1 We found the fault")  # her (erased) ticket: no one to tell
    await sam.say("reopen 1")
    async with store.read() as tx:
        rows = await tx.outbox.listing(states=("pending", "sending", "sent", "failed"), limit=1000)
    assert [r.target for r in rows] == ["sam"]
    assert "renew certificate" in rows[0].payload["text"]

    # Her Telegram account writing again is a stranger: a new lead, nothing of the old record.
    again = await customer_actor(store, platform="telegram", user_id=CHAT_ID, display_name="Carla")
    assert again.customer_id not in (None, 1)
    status = await router.handle(Message(actor=replace(again), text="/status"))
    assert "Broken" not in all_text(status)
