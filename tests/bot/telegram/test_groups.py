"""Company group chats end to end: real ptb against the fake Bot API. A startgroup code links a
group; mentions, replies to the bot and /ticket work the company's ticket while chatter is
neither kept nor answered; unlinked groups hear once how to link; staff answers thread on the
customer's message within the 20-a-minute group limit; removal, supergroup moves, malformed
group updates."""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.delivery import Dispatcher
from bot.telegram.adapter import ALLOWED_UPDATES, SECRET_HEADER, TelegramFrontEnd
from crm_store.store import Store
from crm_store.tables import (
    chat_groups,
    customers,
    handled_messages,
    identities,
    inbox,
    interactions,
    outbox,
    ticket_messages,
)
from handlers.groups import HINT
from handlers.messages import Actor
from handlers.router import Router
from tests.bot.telegram.conftest import SECRET
from tests.conftest import Chat, FakeClock
from tests.fakes.telegram_api import BOT_USERNAME, Call, FakeTelegramApi

GROUP = -100
SUPERGROUP = -1001234567890
ANN, GUS, HANA = 7, 11, 12


async def _count(store: Store, table: Any, *where: Any) -> int:
    async with store.read() as tx:
        query = select(func.count()).select_from(table).where(*where)
        return int((await tx.conn.execute(query)).scalar_one())


async def _rows(store: Store) -> dict[str, int]:
    """What a group's message could leave behind."""
    tables = {
        "inbox": inbox,
        "handled": handled_messages,
        "interactions": interactions,
        "ticket_messages": ticket_messages,
        "customers": customers,
        "identities": identities,
    }
    return {name: await _count(store, table) for name, table in tables.items()}


async def _said(fake: FakeTelegramApi, update: dict[str, Any]) -> Call:
    """Queue a group update and return the bot's answer to it."""
    before = len(fake.of("sendMessage"))
    fake.queue(update)
    return (await fake.wait_for("sendMessage", before + 1))[-1]


def _message_id(update: dict[str, Any]) -> int:
    return int(update["message"]["message_id"])


async def _link(fake: FakeTelegramApi, router: Router, rep: Actor, *, chat: int = GROUP) -> Call:
    rep_chat = Chat(router, rep)
    await rep_chat.say("add Acme Corp email=ops@acme.example")
    invite = (await rep_chat.say("invite acme group")).text
    link = re.search(rf"https://t\.me/{BOT_USERNAME}\?startgroup=([\w-]+)", invite)
    assert link is not None, invite
    # After the startgroup link Telegram's client sends this in the group.
    return await _said(
        fake, fake.group_update(chat, ANN, f"/start@{BOT_USERNAME} {link.group(1)}", name="Ann")
    )


async def test_a_startgroup_code_links_and_mentions_replies_and_ticket_work_the_company_ticket(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store, router: Router, rep: Actor
) -> None:
    linked = await _link(fake_tg, router, rep)
    assert "my_chat_member" in fake_tg.of("getUpdates")[0].params["allowed_updates"] == ALLOWED_UPDATES
    assert linked.params["chat_id"] == str(GROUP) and "now linked to Acme Corp" in linked.params["text"]

    mention = fake_tg.group_update(GROUP, GUS, f"@{BOT_USERNAME} the printer jams", name="Gus", mention=True)
    opened = await _said(fake_tg, mention)
    assert "ticket #1 is open" in opened.params["text"]
    assert opened.params["reply_parameters"]["message_id"] == _message_id(mention)
    replied = await _said(
        fake_tg, fake_tg.group_update(GROUP, HANA, "Same on floor 2", name="Hana", reply_to=4242)
    )
    assert replied.params["text"] == "Added to ticket #1."
    added = await _said(
        fake_tg, fake_tg.group_update(GROUP, GUS, "/ticket@crm_test_bot and the scanner", name="Gus")
    )
    assert added.params["text"] == "Added to ticket #1."

    # Chatter: no mention, a mention of someone else, a reply to a person, another bot's command.
    before = await _rows(store)
    answers = len(fake_tg.of("sendMessage"))
    fake_tg.queue(fake_tg.group_update(GROUP, GUS, "lunch at 1?", name="Gus"))
    fake_tg.queue(fake_tg.group_update(GROUP, HANA, "@someone_else see this", name="Hana", mention=True))
    person = fake_tg.group_update(GROUP, HANA, "ok", name="Hana")
    person["message"]["reply_to_message"] = {
        "message_id": 3,
        "date": 0,
        "chat": person["message"]["chat"],
        "from": {"id": GUS, "is_bot": False, "first_name": "Gus", "username": BOT_USERNAME},
        "text": "lunch at 1?",
    }
    fake_tg.queue(person)
    fake_tg.queue(fake_tg.group_update(GROUP, HANA, "/status@other_bot", name="Hana"))
    # The next message for the bot is answered after all of the above was seen.
    last = await _said(
        fake_tg, fake_tg.group_update(GROUP, GUS, f"@{BOT_USERNAME} it is fixed", mention=True)
    )
    assert last.params["text"] == "Added to ticket #1." and len(fake_tg.of("sendMessage")) == answers + 1
    after = await _rows(store)
    # Only the one message for the bot left a trace (its inbox row, its handled mark, its text).
    assert {k: after[k] - before[k] for k in after} == {
        "inbox": 1,
        "handled": 1,
        "interactions": 0,
        "ticket_messages": 1,
        "customers": 0,
        "identities": 0,
    }
    async with store.read() as tx:
        messages = await tx.tickets.messages(1)
        contacts = await tx.relationships.contact_ids(1)
    assert [(m.author_name, m.text) for m in messages] == [
        ("Gus", "the printer jams"),
        ("Hana", "Same on floor 2"),
        ("Gus", "and the scanner"),
        ("Gus", "it is fixed"),
    ]
    assert len(contacts) == 2  # Gus and Hana, each created once; Ann only linked the group


async def test_an_unlinked_group_is_answered_once_and_nothing_is_stored(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    before = await _rows(store)
    headers = {SECRET_HEADER: SECRET}
    posts = [
        fake_tg.member_update(GROUP, old="left", new="member"),  # the bot is added
        fake_tg.group_update(GROUP, GUS, f"@{BOT_USERNAME} hello?", name="Gus", mention=True),
        fake_tg.group_update(GROUP, GUS, "/ticket my printer", name="Gus"),
        fake_tg.group_update(GROUP, GUS, "just chatting", name="Gus"),
    ]
    for update in posts:
        assert (await webhook.post("/telegram/webhook", json=update, headers=headers)).status_code == 200
    (hint,) = fake_tg.of("sendMessage")
    assert hint.params["chat_id"] == str(GROUP) and hint.params["text"] == html.escape(HINT, quote=False)
    assert await _rows(store) == before
    async with store.read() as tx:
        kept = (await tx.conn.execute(select(chat_groups))).mappings().all()
    assert [(r["chat_id"], r["customer_id"]) for r in kept] == [(str(GROUP), None)]  # only that it was told


async def test_staff_replies_thread_in_the_group_and_the_group_limit_holds(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    dispatcher: Dispatcher,
    store: Store,
    router: Router,
    rep: Actor,
    clock: FakeClock,
) -> None:
    await _link(fake_tg, router, rep)
    first = fake_tg.group_update(GROUP, GUS, "/ticket The printer jams", name="Gus")
    await _said(fake_tg, first)
    latest = fake_tg.group_update(GROUP, HANA, f"@{BOT_USERNAME} still jammed", name="Hana", mention=True)
    await _said(fake_tg, latest)
    rep_chat = Chat(router, rep)
    for n in range(25):
        assert "Replied on ticket #1" in (await rep_chat.say(f"reply 1 Update {n}")).text
    started = len(fake_tg.of("sendMessage"))
    for _ in range(200):
        await dispatcher.run_once()
        async with store.read() as tx:
            if (await tx.outbox.counts()).get("sent", 0) >= 25:
                break
        clock.advance(seconds=1)
    sent = [c for c in fake_tg.of("sendMessage")[started:] if c.params["chat_id"] == str(GROUP)]
    assert len(sent) == 25 and "Update 0" in sent[0].params["text"] and "Update 24" in sent[-1].params["text"]
    assert {c.params["reply_parameters"]["message_id"] for c in sent} == {_message_id(latest)}
    assert all(c.params["reply_parameters"]["allow_sending_without_reply"] for c in sent)
    times = sorted(c.at for c in sent)
    assert all(times[i + 20] - times[i] >= 60.0 for i in range(len(times) - 20))  # 20 a minute
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))  # and 1 a second
    async with store.read() as tx:
        rows = (await tx.conn.execute(select(outbox.c.target).where(outbox.c.platform == "telegram"))).all()
    assert {r[0] for r in rows} == {str(GROUP)}  # nothing went to the contacts' private chats


async def test_a_supergroup_keeps_its_link_and_removing_the_bot_unlinks(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store, router: Router, rep: Actor
) -> None:
    await _link(fake_tg, router, rep)
    await _said(fake_tg, fake_tg.group_update(GROUP, GUS, "/ticket The printer jams", name="Gus"))
    # Telegram tells the old group it moved (a service message from the user who upgraded it).
    fake_tg.queue(fake_tg.group_update(GROUP, ANN, "", name="Ann", migrate_to_chat_id=SUPERGROUP))
    moved = await _said(
        fake_tg, fake_tg.group_update(SUPERGROUP, GUS, "/ticket now a supergroup", name="Gus")
    )
    assert moved.params["chat_id"] == str(SUPERGROUP) and moved.params["text"] == "Added to ticket #1."
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", str(GROUP)) is None
        found = await tx.chat_groups.of_ticket(1)
    assert found is not None and found[0].chat_id == str(SUPERGROUP)

    fake_tg.queue(fake_tg.member_update(SUPERGROUP, old="member", new="kicked"))
    zed = {"id": 77, "is_bot": False, "first_name": "Zed"}
    fake_tg.queue(fake_tg.group_update(SUPERGROUP, GUS, "", name="Gus", new_chat_members=[zed]))
    fake_tg.queue(fake_tg.group_update(SUPERGROUP, GUS, "", name="Gus", left_chat_member=zed))
    # Added back, the group is no longer linked: one hint, and the ticket's answers stop going there.
    hint = await _said(fake_tg, fake_tg.group_update(SUPERGROUP, GUS, "/ticket hello?", name="Gus"))
    assert hint.params["text"] == html.escape(HINT, quote=False)
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", str(SUPERGROUP)) is None
        assert await tx.chat_groups.of_ticket(1) is None
    assert await _count(store, ticket_messages) == 2


def _bad(update: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data: Any = update
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value
    return update


@pytest.mark.parametrize(
    ("make", "path", "value"),
    [
        ("mention", ("message", "entities", 0, "offset"), "zero"),
        ("mention", ("message", "entities", 0, "length"), True),
        ("mention", ("message", "entities", 0, "type"), 5),
        ("reply", ("message", "reply_to_message", "message_id"), -4),
        ("reply", ("message", "reply_to_message", "from", "id"), "123456"),
        ("reply", ("message", "reply_to_message", "from", "username"), 77),
        ("plain", ("message", "migrate_to_chat_id"), 2**60),
        ("plain", ("message", "new_chat_members"), [{"id": "x", "is_bot": True, "first_name": "B"}]),
        ("plain", ("message", "left_chat_member"), {"id": 1, "is_bot": "yes", "first_name": "B"}),
        ("member", ("my_chat_member", "new_chat_member", "status"), 5),
        ("member", ("my_chat_member", "chat", "id"), "-100"),
        ("member", ("my_chat_member", "from", "first_name"), ""),
    ],
)
async def test_malformed_group_updates_are_refused_and_nothing_is_kept(
    webhook: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    make: str,
    path: tuple[str | int, ...],
    value: Any,
) -> None:
    updates = {
        "mention": lambda: fake_tg.group_update(GROUP, GUS, f"@{BOT_USERNAME} hi", mention=True),
        "reply": lambda: fake_tg.group_update(GROUP, GUS, "hi", reply_to=5),
        "plain": lambda: fake_tg.group_update(GROUP, GUS, "hi"),
        "member": lambda: fake_tg.member_update(GROUP, old="left", new="member"),
    }
    update = _bad(updates[make](), path, value)
    response = await webhook.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400
    assert await _count(store, inbox) == 0 and await _count(store, chat_groups) == 0
    assert fake_tg.of("sendMessage") == []


async def test_a_forged_mention_or_reply_is_not_addressed_to_the_bot(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    headers = {SECRET_HEADER: SECRET}
    # The bot's name typed without a mention entity, and a reply to a person named like the bot.
    typed = fake_tg.group_update(GROUP, GUS, f"hey @{BOT_USERNAME}")
    not_bot = fake_tg.group_update(GROUP, GUS, "hi", reply_to=5)
    not_bot["message"]["reply_to_message"]["from"]["is_bot"] = False
    for update in (typed, not_bot):
        assert (await webhook.post("/telegram/webhook", json=update, headers=headers)).status_code == 200
    assert fake_tg.of("sendMessage") == [] and await _count(store, chat_groups) == 0


async def test_direct_answers_keep_the_group_minute_and_the_rest_go_through_the_outbox(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    dispatcher: Dispatcher,
    store: Store,
    router: Router,
    rep: Actor,
) -> None:
    await _link(fake_tg, router, rep)  # the first answer in this group's minute
    started = len(fake_tg.of("sendMessage"))
    said = [
        fake_tg.queue(fake_tg.group_update(GROUP, GUS, f"/ticket line {n}", name="Gus")) for n in range(22)
    ]
    await fake_tg.wait_for("sendMessage", started + 19)
    deferred: list[Any] = []
    for _ in range(300):
        async with store.read() as tx:
            rows = await tx.conn.execute(select(outbox.c.thread).where(outbox.c.target == str(GROUP)))
            deferred = [r[0] for r in rows]
        if len(deferred) == 3:
            break
        await asyncio.sleep(0.1)
    assert len(fake_tg.of("sendMessage")) == started + 19  # 20 in the minute, the link's included
    assert deferred == [str(_message_id(u)) for u in said[19:]]
    assert await _count(store, ticket_messages) == 22  # every message is on the ticket all the same
    await dispatcher.run_once()
    late = fake_tg.of("sendMessage")[started + 19 :]
    assert [c.params["reply_parameters"]["message_id"] for c in late] == [_message_id(u) for u in said[19:]]
