"""Company group chats through the router: group invites and /link codes, the company's ticket
opened and continued by its contacts (each created once), what a group may and may not ask,
staff answers and resolutions going back to the group, unlinking, and the card."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from crm_store.store import Store
from crm_store.tables import audit_log, customers, identities, outbox, relationships, ticket_messages, tickets
from handlers.context import Services
from handlers.groups import HINT, group_message
from handlers.messages import Actor, Message, Reply
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, all_text

ACME_GROUP = "-100"
_MESSAGE_IDS = itertools.count(500)


async def _count(store: Store, table: object, *where: object) -> int:
    async with store.read() as tx:
        query = select(func.count()).select_from(table).where(*where)  # type: ignore[arg-type]
        return int((await tx.conn.execute(query)).scalar_one())


async def _group_code(chat: Chat, who: str = "acme") -> str:
    reply = await chat.say(f"invite {who} group")
    found = re.search(r"/link ([\w-]+)", reply.text)
    assert found is not None, reply
    return found.group(1)


async def _in_group(
    router: Router, store: Store, user: int, text: str, *, chat: str = ACME_GROUP, name: str = "Gus"
) -> Reply | None:
    """What a group member's message to the bot gets, as the Telegram front end hands it over."""
    said = await group_message(
        store,
        platform="telegram",
        chat_id=chat,
        message_id=str(next(_MESSAGE_IDS)),
        user_id=str(user),
        display_name=name,
        text=text,
    )
    if said is None or isinstance(said, Reply):
        return said
    actor, group = said
    return await router.handle(Message(actor=actor, text=text, group=group, ref=f"test:{next(_MESSAGE_IDS)}"))


async def _linked(chat: Chat, router: Router, store: Store) -> None:
    await chat.say("add Acme Corp email=ops@acme.example")
    code = await _group_code(chat)
    linked = await _in_group(router, store, 7, f"/link {code}", name="Ann")
    assert linked is not None and "now linked to Acme Corp" in linked.text, linked


async def test_invite_group_gives_a_startgroup_link_and_a_code(
    chat: Chat, services: Services, store: Store
) -> None:
    await chat.say("add Acme Corp")
    without = await chat.say("invite acme group")
    assert "/link " in without.text and "startgroup" not in without.text and "expires" in without.text
    services.settings = replace(services.settings, telegram_username="acme_help_bot")
    reply = await chat.say("invite acme group")
    assert re.search(r"https://t\.me/acme_help_bot\?startgroup=[\w-]{16,}", reply.text), reply.text
    assert reply.title.startswith("Group invite for Acme Corp")
    person = await chat.say("invite acme")
    assert "?start=" in person.text and "startgroup" not in person.text


async def test_a_code_links_the_group_once_and_never_when_used_expired_wrong_or_for_a_person(
    chat: Chat, router: Router, store: Store, clock: FakeClock
) -> None:
    await chat.say("add Acme Corp")
    await chat.say("add Globex")
    code = await _group_code(chat)
    person_code = re.search(r"start[= ]([\w-]+)", (await chat.say("invite globex")).text)
    assert person_code is not None
    wrong = await _in_group(router, store, 7, "/link not-a-real-code", chat="-200")
    assert wrong is not None and wrong.is_error and "not valid or has expired" in wrong.text
    for_a_person = await _in_group(router, store, 7, f"/link {person_code.group(1)}", chat="-200")
    assert for_a_person is not None and for_a_person.is_error
    # A group code in a private chat links nothing either (and stays usable in the group).
    carla = await customer_actor(store, platform="telegram", user_id="9", display_name="Carla")
    assert (await Chat(router, carla).say(f"/start {code}")).is_error
    assert await _identity_customer(store, "9") == carla.customer_id

    linked = await _in_group(router, store, 7, f"/start {code}")  # what a startgroup link sends
    assert linked is not None and not linked.is_error and "Acme Corp" in linked.text
    async with store.read() as tx:
        group = await tx.chat_groups.linked("telegram", ACME_GROUP)
    assert group is not None and group.customer_id == 1 and group.linked_by == "telegram:7"
    again = await _in_group(router, store, 8, f"/link {code}", chat="-300")
    assert again is not None and again.is_error  # single use
    expiring = await _group_code(chat, "globex")
    clock.advance(days=7, seconds=1)
    expired = await _in_group(router, store, 8, f"/link {expiring}", chat="-300")
    assert expired is not None and expired.is_error
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", "-300") is None
        assert await tx.chat_groups.linked("telegram", "-200") is None
    fresh = await _group_code(chat, "globex")
    refused = await _in_group(router, store, 8, f"/link {fresh}")  # the Acme group stays Acme's
    assert refused is not None and refused.is_error and "linked already" in refused.text
    kept = await _in_group(router, store, 8, f"/link {fresh}", chat="-400")  # not used up by the refusal
    assert kept is not None and not kept.is_error and "Globex" in kept.text


async def _identity_customer(store: Store, user: str) -> int | None:
    async with store.read() as tx:
        identity = await tx.people.identity("telegram", user)
    return identity.customer_id if identity else None


async def test_mentions_replies_and_ticket_open_then_continue_the_company_ticket(
    chat: Chat, router: Router, store: Store
) -> None:
    await _linked(chat, router, store)
    contacts = await _count(store, customers)
    opened = await _in_group(router, store, 11, "/ticket The printer jams on every page", name="Gus Grant")
    assert opened is not None and "ticket #1 is open" in opened.text
    added = await _in_group(router, store, 11, "It is the HP in room 4", name="Gus Grant")  # a mention
    assert added is not None and added.text == "Added to ticket #1."
    other = await _in_group(router, store, 12, "Same here on floor 2", name="Hana")  # a reply to the bot
    assert other is not None and other.text == "Added to ticket #1."
    await _in_group(router, store, 11, "/ticket and the scanner too", name="Gus Grant")
    assert await _count(store, customers) == contacts + 2  # Gus and Hana, once each
    gus, hana = await _identity_customer(store, "11"), await _identity_customer(store, "12")
    async with store.read() as tx:
        tickets = await tx.tickets.find(status="all", customer_id=1)
        messages = await tx.tickets.messages(1)
        gus_record = await tx.customers.get(gus or 0)
        assert set(await tx.relationships.contact_ids(1)) == {gus, hana}
    assert [t.id for t in tickets] == [1] and tickets[0].source == "telegram"
    assert [(m.author_customer_id, m.author_name, m.text) for m in messages] == [
        (gus, "Gus Grant", "The printer jams on every page"),
        (gus, "Gus Grant", "It is the HP in room 4"),
        (hana, "Hana", "Same here on floor 2"),
        (gus, "Gus Grant", "and the scanner too"),
    ]
    assert gus_record is not None and gus_record.company == "Acme Corp" and gus_record.source == "telegram"
    assert await _count(store, relationships) == 2


async def test_an_account_linked_elsewhere_keeps_its_record_and_works_at_the_company(
    chat: Chat, router: Router, store: Store
) -> None:
    await _linked(chat, router, store)
    carla = await customer_actor(store, platform="telegram", user_id="9", display_name="Carla")
    await _in_group(router, store, 9, "/ticket Invoice is wrong", name="Carla")
    async with store.read() as tx:
        assert await tx.relationships.contact_ids(1) == [carla.customer_id]
        (message,) = await tx.tickets.messages(1)
    assert message.author_customer_id == carla.customer_id


async def test_a_group_asks_only_its_own_things_and_sees_no_other_companys_tickets(
    chat: Chat, router: Router, store: Store
) -> None:
    await _linked(chat, router, store)
    await chat.say("add Globex")
    opened = await chat.say("open-ticket globex: Secret Globex matter")
    assert "#1" in all_text(opened), opened
    for text in ("/status", "/status 1", "/feedback hello", "/cancel"):
        refused = await _in_group(router, store, 11, text)
        assert refused is not None and refused.is_error and "only take /ticket" in refused.text, text
        assert "Secret" not in all_text(refused) and "#1" not in all_text(refused)
    empty = await _in_group(router, store, 11, "/ticket")
    assert empty is not None and empty.is_error and "/ticket <what happened>" in all_text(empty)
    helped = await _in_group(router, store, 11, "/help")
    assert helped is not None and "support for Acme Corp" in helped.text
    # The member's own private chat lists their own tickets: none of the company's, nor Globex's.
    gus = await customer_actor(store, platform="telegram", user_id="11", display_name="Gus")
    mine = await Chat(router, gus).say("/status")
    assert "no tickets" in mine.text
    assert (await Chat(router, gus).say("/status 1")).is_error
    assert await _count(store, tickets) == 1  # Globex's only: nothing the group said opened one


async def test_an_unlinked_group_is_hinted_once_and_nothing_is_kept(router: Router, store: Store) -> None:
    rows = await _count(store, customers), await _count(store, identities)
    first = await _in_group(router, store, 11, "/ticket help", chat="-999")
    assert first is not None and first.text == HINT
    assert await _in_group(router, store, 11, "hello bot", chat="-999") is None
    assert await _in_group(router, store, 12, "/start", chat="-999") is None
    assert (await _count(store, customers), await _count(store, identities)) == rows
    assert await _count(store, ticket_messages) == 0


async def test_staff_answers_go_to_the_group_threaded_and_resolving_asks_no_rating_there(
    chat: Chat, router: Router, store: Store, rep: Actor
) -> None:
    await _linked(chat, router, store)
    await _in_group(router, store, 11, "/ticket The printer jams")
    await _in_group(router, store, 12, "It is the HP in room 4")
    async with store.read() as tx:
        last_said = (await tx.conn.execute(select(func.max(outbox.c.id)))).scalar_one()
        group_ticket = await tx.chat_groups.of_ticket(1)
    assert group_ticket is not None
    answered = await chat.say("reply 1 A technician comes at 2pm")
    assert "Replied on ticket #1" in answered.text and "no chat linked" not in answered.text
    await chat.say("resolve 1 Fixed the paper feed")
    async with store.read() as tx:
        rows = (
            await tx.conn.execute(select(outbox).where(outbox.c.id > (last_said or 0)).order_by(outbox.c.id))
        ).mappings()
        pushed = [r for r in rows if r["platform"] == "telegram"]
    assert [(r["target"], r["thread"]) for r in pushed] == [(ACME_GROUP, group_ticket[1])] * 2
    assert "A technician comes at 2pm" in pushed[0]["payload"]["text"]
    assert pushed[1]["payload"]["title"] == "Ticket #1 is resolved" and pushed[1]["payload"]["buttons"] == []
    assert "Fixed the paper feed" in pushed[1]["payload"]["text"]


async def test_unlink_group_tells_the_group_and_the_card_shows_the_link(
    chat: Chat, router: Router, store: Store
) -> None:
    await _linked(chat, router, store)
    card = await chat.say("show acme")
    assert "Group chat: telegram group linked" in all_text(card)
    assert (await chat.say("unlink acme")).is_error  # says what to unlink
    unlinked = await chat.say("unlink group acme")
    assert unlinked.text.startswith("Unlinked 1 group chat of Acme Corp")
    again = await chat.say("unlink group acme")
    assert not again.is_error and "has no linked group chat; nothing to unlink" in again.text
    assert "Group chat" not in all_text(await chat.say("show acme"))
    async with store.read() as tx:
        told = (
            await tx.conn.execute(select(outbox.c.payload).where(outbox.c.target == ACME_GROUP))
        ).scalar_one()
        audited = (
            await tx.conn.execute(select(func.count()).where(audit_log.c.action == "unlink_group"))
        ).scalar_one()
    assert "no longer linked" in told["text"] and audited == 1
    # Unlinked, the group hears once how to link again, and nothing it says is kept.
    hint = await _in_group(router, store, 11, "/ticket anyone?")
    assert hint is not None and hint.text == HINT
    assert await _in_group(router, store, 11, "/ticket anyone?") is None


async def test_a_team_members_account_is_no_contact(chat: Chat, router: Router, store: Store) -> None:
    await _linked(chat, router, store)
    await staff_actor(store, platform="telegram", user_id="77", display_name="Sam", role="rep")
    with pytest.raises(PermissionError):
        await _in_group(router, store, 77, "/ticket from staff")
    assert await _count(store, ticket_messages) == 0
