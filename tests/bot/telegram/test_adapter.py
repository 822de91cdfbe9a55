"""The Telegram front end end to end: real ptb against the fake Bot API (polling and webhook),
the relay to and from the fake Slack support channel through the outbox, CSAT, isolation."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.delivery import Dispatcher
from bot.telegram.adapter import SECRET_HEADER, TelegramFrontEnd, TelegramSettings
from crm_store.store import Store
from crm_store.tables import (
    conversations,
    customers,
    feedback,
    identities,
    inbox,
    outbox,
    pending_actions,
    ticket_messages,
)
from handlers.context import Services
from handlers.messages import Actor
from handlers.router import Router
from tests.bot.telegram.conftest import SECRET, SUPPORT
from tests.conftest import Chat, FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import BOT_USERNAME, TOKEN, Call, FakeTelegramApi

CARLA = 555
BOB = 666


async def _count(store: Store, table: Any, *where: Any) -> int:
    async with store.read() as tx:
        query = select(func.count()).select_from(table).where(*where)
        return int((await tx.conn.execute(query)).scalar_one())


async def _say(fake: FakeTelegramApi, user: int, text: str, **kwargs: Any) -> Call:
    """Queue a message for getUpdates and return the bot's answer to it."""
    before = len(fake.of("sendMessage"))
    fake.queue(fake.message_update(user, text, **kwargs))
    return (await fake.wait_for("sendMessage", before + 1))[-1]


def _buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def _identity_customer(store: Store, user: int) -> int | None:
    async with store.read() as tx:
        identity = await tx.people.identity("telegram", str(user))
    return identity.customer_id if identity else None


async def test_start_publishes_commands_and_an_unknown_user_becomes_a_lead(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store
) -> None:
    assert [c.method for c in fake_tg.calls][:2] == ["getMe", "setMyCommands"]
    commands = [c["command"] for c in fake_tg.of("setMyCommands")[0].params["commands"]]
    assert commands == ["start", "ticket", "cancel", "status", "feedback", "help"]
    answer = await _say(fake_tg, CARLA, "/start", name="Carla")
    assert answer.params["parse_mode"] == "HTML" and "<b>Hello, Carla!</b>" in answer.params["text"]
    async with store.read() as tx:
        customer = await tx.customers.get(await _identity_customer(store, CARLA) or 0)
    assert customer is not None and customer.status == "lead" and customer.source == "telegram"


async def test_deep_link_links_once_and_never_by_reuse_expiry_or_email(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    store: Store,
    router: Router,
    rep: Actor,
    clock: FakeClock,
) -> None:
    rep_chat = Chat(router, rep)
    await rep_chat.say("add Acme Corp email=ops@acme.example")
    link = re.search(r"https://t\.me/(\w+)\?start=([\w-]+)", (await rep_chat.say("invite acme")).text)
    assert link is not None and link.group(1) == BOT_USERNAME
    token = link.group(2)

    # Carla wrote before she had the link, so she is a lead with a ticket; the link moves both.
    await _say(fake_tg, CARLA, "/ticket Where is my invoice?\nI need it for the tax return")
    lead = await _identity_customer(store, CARLA)
    answer = await _say(fake_tg, CARLA, f"/start {token}")
    assert "Hello, Acme Corp!" in answer.params["text"]
    assert await _identity_customer(store, CARLA) == 1
    async with store.read() as tx:
        assert [t.subject for t in await tx.tickets.find(status="all", customer_id=1)] == [
            "Where is my invoice?"
        ]
        assert await tx.customers.get(lead or 0) is None  # the lead was merged away

    links = await _count(store, identities)
    bob_lead = None
    refused = await _say(fake_tg, BOB, f"/start {token}", name="Bob")  # a second use
    assert "not valid or has expired" in refused.params["text"]
    bob_lead = await _identity_customer(store, BOB)
    assert bob_lead not in (None, 1)

    fresh = re.search(r"start=([\w-]+)", (await rep_chat.say("invite acme")).text)
    assert fresh is not None
    clock.advance(days=8)
    expired = await _say(fake_tg, BOB, f"/start {fresh.group(1)}", name="Bob")
    assert "not valid or has expired" in expired.params["text"]
    await _say(fake_tg, BOB, "my email is ops@acme.example", name="Bob")
    assert await _identity_customer(store, BOB) == bob_lead
    assert await _count(store, identities) == links + 1  # Bob's lead only


async def test_relay_ticket_to_slack_reply_to_telegram_answer_to_the_thread(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    fake_slack: FakeSlackApi,
    dispatcher: Dispatcher,
    support: Services,
    router: Router,
    rep: Actor,
    store: Store,
) -> None:
    opened = await _say(fake_tg, CARLA, "/ticket Screen is broken\nIt flickers, then goes black")
    assert "ticket #1 is open" in opened.params["text"]
    assert (await dispatcher.run_once()).sent == 1
    post = fake_slack.of("chat.postMessage")[0]
    assert post.params["channel"] == SUPPORT and "Screen is broken" in post.params["text"]
    ids = [e["value"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["crm:assign-me:1", "crm:reply:1", "crm:resolve:1"]

    assert (
        "Replied on ticket #1" in (await Chat(router, rep).say("reply 1 A new one ships <today> & free")).text
    )
    sent_before = len(fake_tg.of("sendMessage"))
    await dispatcher.run_once()
    relayed = fake_tg.of("sendMessage")[sent_before]
    assert relayed.params["chat_id"] == str(CARLA)
    assert "A new one ships &lt;today&gt; &amp; free" in relayed.params["text"]

    added = await _say(fake_tg, CARLA, "Thanks! Tracking number?")
    assert added.params["text"] == "Added to ticket #1."
    await dispatcher.run_once()
    thread_post = fake_slack.of("chat.postMessage")[-1]
    async with store.read() as tx:
        thread = await tx.outbox.thread("ticket:1", "slack")
    assert thread is not None and thread.target == SUPPORT
    assert thread_post.params["thread_ts"] == thread.thread_id and "thread_ts" not in post.params
    assert "Carla: Thanks! Tracking number?" in thread_post.params["text"]


async def test_resolve_sends_csat_a_press_is_stored_once_and_low_ratings_reach_the_thread(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    fake_slack: FakeSlackApi,
    dispatcher: Dispatcher,
    support: Services,
    router: Router,
    rep: Actor,
    store: Store,
) -> None:
    await _say(fake_tg, CARLA, "/ticket Refund missing\nPaid twice")
    await dispatcher.run_once()
    assert "Resolved ticket #1" in (await Chat(router, rep).say("resolve 1 refunded today")).text
    await dispatcher.run_once()
    csat = fake_tg.of("sendMessage")[-1]
    assert "How did we do?" in csat.params["text"]
    assert _buttons(csat) == [f"crm:csat:1-{n}" for n in range(1, 6)]

    message_id = 4242
    fake_tg.queue(fake_tg.callback_update(CARLA, "crm:csat:1-2", message_id=message_id))
    edit = (await fake_tg.wait_for("editMessageText"))[0]
    assert edit.params["message_id"] == str(message_id) and "Thank you" in edit.params["text"]
    assert not _buttons(edit)
    await fake_tg.wait_for("answerCallbackQuery")
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.csat_rating == 2
    assert await _count(store, feedback, feedback.c.rating == 2) == 1
    await dispatcher.run_once()
    low = fake_slack.of("chat.postMessage")[-1]
    assert "Low rating: 2/5" in low.params["text"] and low.params.get("thread_ts")

    before = len(fake_tg.of("sendMessage"))
    fake_tg.queue(fake_tg.callback_update(CARLA, "crm:csat:1-5", message_id=message_id))
    again = (await fake_tg.wait_for("sendMessage", before + 1))[-1]
    assert "already rated" in again.params["text"]
    assert len(fake_tg.of("editMessageText")) == 1
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.csat_rating == 2
    assert await _count(store, feedback) == 1


async def test_a_customer_typing_another_customers_ticket_id_sees_nothing_of_it(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store
) -> None:
    await _say(fake_tg, CARLA, "/ticket Secret contract renewal\nDetails")
    for text in ("/status 1", "/status"):
        answer = await _say(fake_tg, BOB, text, name="Bob")
        assert "Secret contract" not in answer.params["text"]
    assert "You have no ticket #1" in fake_tg.of("sendMessage")[-2].params["text"]
    fake_tg.queue(fake_tg.callback_update(BOB, "crm:csat:1-1", message_id=1))
    denied = (await fake_tg.wait_for("sendMessage", 4))[-1]
    assert "You have no ticket #1" in denied.params["text"]
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.csat_rating is None


async def test_a_press_of_a_button_not_the_customers_is_a_toast_and_stores_nothing(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    support: Services,
    router: Router,
    rep: Actor,
    store: Store,
) -> None:
    await _say(fake_tg, CARLA, "/ticket Screen is broken\nIt flickers, then goes black")
    await Chat(router, rep).say("assign 1 me")
    tables = (ticket_messages, outbox, conversations, pending_actions)
    stored = [await _count(store, table) for table in tables]
    sent, edited = len(fake_tg.of("sendMessage")), len(fake_tg.of("editMessageText"))
    # Staff data (forged, or copied from a Slack post), a customer's own verb of another kind,
    # and data that is no button of ours.
    forged = (
        "crm:show:1",
        "crm:resolve:1",
        "crm:assign-me:1",
        "crm:ticket:2",
        "crm:reply:1",
        "crm:erase:sometoken",
        "crm:drop-table:1",
    )
    for n, data in enumerate(forged, start=1):
        fake_tg.queue(fake_tg.callback_update(CARLA, data, message_id=900 + n))
        toast = (await fake_tg.wait_for("answerCallbackQuery", n))[-1]
        assert toast.params.get("text") == "This button is not for you.", data
    # Updates are handled in order: once the next message is answered, the presses have said
    # all they will say.
    assert (await _say(fake_tg, CARLA, "/status 1")).params["text"].startswith("<b>Ticket #1")
    assert len(fake_tg.of("sendMessage")) == sent + 1
    assert len(fake_tg.of("editMessageText")) == edited
    assert [await _count(store, table) for table in tables] == stored
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None and ticket.status == "open" and ticket.assignee_rep_id == rep.rep_id


async def test_webhook_refuses_a_missing_or_wrong_secret_and_changes_nothing(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    assert fake_tg.of("setWebhook")[0].params["secret_token"] == SECRET
    assert not fake_tg.of("getUpdates")
    update = fake_tg.message_update(CARLA, "/ticket Locked out\nPassword refused")
    statuses = []
    for headers in ({}, {SECRET_HEADER: "wrong"}):
        statuses.append((await webhook.post("/telegram/webhook", json=update, headers=headers)).status_code)
        assert await _count(store, customers) == 0 and await _count(store, inbox) == 0
    statuses.append(
        (await webhook.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})).status_code
    )
    assert statuses == [403, 403, 200]
    assert await _count(store, customers) == 1 and await _count(store, ticket_messages) == 1
    assert len(fake_tg.of("sendMessage")) == 1


async def test_the_same_update_twice_and_after_a_restart_is_handled_once(
    webhook: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    router: Router,
    services: Services,
) -> None:
    await webhook.post(
        "/telegram/webhook",
        json=fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start"),
        headers={SECRET_HEADER: SECRET},
    )
    update = fake_tg.message_update(CARLA, "It still does not start")
    for _ in range(2):
        response = await webhook.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
        assert response.status_code == 200
    # A restarted process (a new Application over the same store) gets the update once more.
    restarted = TelegramFrontEnd(
        router=router,
        store=store,
        settings=TelegramSettings(
            token=TOKEN,
            api_url=fake_tg.url,
            webhook_url="https://bot.example/telegram/webhook",
            webhook_secret=SECRET,
        ),
    )
    await restarted.start()
    try:
        from bot.http import build_asgi

        transport = httpx.ASGITransport(app=build_asgi(telegram=restarted.webhook))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (
                await http.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
            ).status_code == 200
    finally:
        await restarted.stop()
    assert await _count(store, ticket_messages, ticket_messages.c.text == "It still does not start") == 1
    answers = [c for c in fake_tg.of("sendMessage") if c.params["text"] == "Added to ticket #1."]
    assert len(answers) == 1


async def test_a_telegram_429_is_retried_after_retry_after_on_the_fake_clock(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    dispatcher: Dispatcher,
    store: Store,
    clock: FakeClock,
) -> None:
    async with store.write("test") as tx:
        await tx.outbox.enqueue(
            platform="telegram", target=str(CARLA), payload={"text": "Your order shipped"}, key="k1"
        )
    fake_tg.rate_limit("sendMessage", times=1, retry_after=2)
    report = await dispatcher.run_once()
    assert report.deferred == 1 and report.sent == 0
    clock.advance(seconds=1)
    assert (await dispatcher.run_once()).sent == 0
    clock.advance(seconds=1)
    assert (await dispatcher.run_once()).sent == 1
    tries = fake_tg.of("sendMessage", status=None)
    assert [c.status for c in tries] == [429, 200]
    assert tries[1].at - tries[0].at >= 2
    async with store.read() as tx:
        row = (await tx.outbox.listing())[0]
    assert row.state == "sent" and row.sent_message_id and row.attempts == 1


async def test_guided_ticket_with_a_photo_opens_on_the_button_and_reaches_slack(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    fake_slack: FakeSlackApi,
    dispatcher: Dispatcher,
    support: Services,
    store: Store,
) -> None:
    assert "What is it about?" in (await _say(fake_tg, CARLA, "/ticket")).params["text"]
    assert "Subject: Screen broken" in (await _say(fake_tg, CARLA, "Screen broken")).params["text"]
    await _say(fake_tg, CARLA, "It flickers, then goes black")
    summary = await _say(fake_tg, CARLA, "", photo=True)
    assert "Attachments: 1 (photo.jpg)" in summary.params["text"]
    open_button, cancel_button = _buttons(summary)
    assert cancel_button.startswith("crm:ticket-cancel:")

    fake_tg.queue(fake_tg.callback_update(CARLA, open_button, message_id=777))
    edit = (await fake_tg.wait_for("editMessageText"))[0]
    assert edit.params["message_id"] == "777" and "ticket #1 is open: Screen broken" in edit.params["text"]
    assert not _buttons(edit)
    async with store.read() as tx:
        first = (await tx.tickets.messages(1))[0]
    assert first.text == "It flickers, then goes black"
    assert [a["file_id"] for a in first.attachments] == ["large-id"]
    await dispatcher.run_once()
    post = fake_slack.of("chat.postMessage")[0]
    assert "Screen broken" in post.params["text"] and "photo.jpg" in str(post.params["blocks"])


async def test_cancel_over_telegram_leaves_the_draft_and_text_goes_to_the_open_ticket_again(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store
) -> None:
    await _say(fake_tg, CARLA, "/ticket Broken\nIt does not start")
    await _say(fake_tg, CARLA, "/ticket")
    assert "Subject: Still broken" in (await _say(fake_tg, CARLA, "Still broken")).params["text"]
    assert "Cancelled" in (await _say(fake_tg, CARLA, "/cancel")).params["text"]
    assert (await _say(fake_tg, CARLA, "Any news?")).params["text"] == "Added to ticket #1."


async def test_a_webhook_update_is_stored_before_the_200_and_a_failed_one_is_handled_at_the_next_start(
    webhook: httpx.AsyncClient,
    webhook_frontend: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    store: Store,
    router: Router,
    monkeypatch: Any,
) -> None:
    async def crash(_update: Any) -> None:
        raise RuntimeError("the process dies here")

    monkeypatch.setattr(webhook_frontend, "handle_update", crash)
    update = fake_tg.message_update(CARLA, "/ticket Locked out\nPassword refused", update_id=42)
    response = await webhook.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "42") == "pending"
    assert await _count(store, ticket_messages) == 0

    async def unstored(*_args: Any, **_kwargs: Any) -> bool:
        raise OSError("database away")

    monkeypatch.setattr(webhook_frontend.inbox, "receive", unstored)
    later = fake_tg.message_update(CARLA, "Hello?", update_id=43)
    assert (
        await webhook.post("/telegram/webhook", json=later, headers={SECRET_HEADER: SECRET})
    ).status_code == 503  # not stored, so not acknowledged: Telegram sends it again

    restarted = TelegramFrontEnd(
        router=router,
        store=store,
        settings=TelegramSettings(
            token=TOKEN,
            api_url=fake_tg.url,
            webhook_url="https://bot.example/telegram/webhook",
            webhook_secret=SECRET,
        ),
    )
    await restarted.start()
    await restarted.stop()
    assert await _count(store, ticket_messages) == 1
    assert len(fake_tg.of("sendMessage")) == 1
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "42") == "done"
        assert await tx.inbox.state("telegram", "43") is None


def _redelivered(update: dict[str, Any], update_id: int) -> dict[str, Any]:
    """The same message or press under a new update_id, as Telegram sends it after a webhook
    reset."""
    return {**update, "update_id": update_id}


async def test_the_same_message_under_a_new_update_id_is_answered_and_stored_once(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    opening = fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start", update_id=500)
    await webhook.post("/telegram/webhook", json=opening, headers={SECRET_HEADER: SECRET})
    update = fake_tg.message_update(CARLA, "It still does not start", update_id=501)
    for update_id in (501, 502, 9000):
        response = await webhook.post(
            "/telegram/webhook", json=_redelivered(update, update_id), headers={SECRET_HEADER: SECRET}
        )
        assert response.status_code == 200
    assert await _count(store, ticket_messages, ticket_messages.c.text == "It still does not start") == 1
    answers = [c for c in fake_tg.of("sendMessage") if c.params["text"] == "Added to ticket #1."]
    assert len(answers) == 1
    assert await _count(store, inbox) == 2  # the opening message and the first copy


async def test_a_button_press_under_a_new_update_id_is_answered_once(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    await webhook.post(
        "/telegram/webhook",
        json=fake_tg.message_update(CARLA, "my screen is black", update_id=600),
        headers={SECRET_HEADER: SECRET},
    )
    offer = fake_tg.of("sendMessage")[-1]
    press = fake_tg.callback_update(CARLA, _buttons(offer)[0], message_id=4343)
    for update_id in (601, 602):
        response = await webhook.post(
            "/telegram/webhook", json=_redelivered(press, update_id), headers={SECRET_HEADER: SECRET}
        )
        assert response.status_code == 200
    assert len(fake_tg.of("answerCallbackQuery")) == 1
    assert len(fake_tg.of("sendMessage")) + len(fake_tg.of("editMessageText")) == 2  # offer, answer
    async with store.read() as tx:
        assert [t.subject for t in await tx.tickets.find(status="all")] == ["my screen is black"]


async def test_an_edit_is_not_a_duplicate_of_the_original_and_changes_nothing(
    webhook: httpx.AsyncClient, fake_tg: FakeTelegramApi, store: Store
) -> None:
    """Edits are not asked for (allowed_updates); one that arrives anyway is acknowledged and
    left alone: the ticket keeps what the customer first sent."""
    await webhook.post(
        "/telegram/webhook",
        json=fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start", update_id=700),
        headers={SECRET_HEADER: SECRET},
    )
    original = fake_tg.message_update(CARLA, "order 1182", update_id=701)
    await webhook.post("/telegram/webhook", json=original, headers={SECRET_HEADER: SECRET})
    edit = {"update_id": 702, "edited_message": {**original["message"], "text": "order 1183", "edit_date": 1}}
    response = await webhook.post("/telegram/webhook", json=edit, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    async with store.read() as tx:
        assert [m.text for m in await tx.tickets.messages(1)] == ["It does not start", "order 1182"]
    assert len(fake_tg.of("sendMessage")) == 2
    assert await _count(store, inbox) == 2  # an update the bot does not handle is not kept


async def test_a_photo_sent_with_no_ticket_open_is_on_the_ticket_the_offer_opens(
    telegram: TelegramFrontEnd,
    fake_tg: FakeTelegramApi,
    fake_slack: FakeSlackApi,
    dispatcher: Dispatcher,
    support: Services,
    store: Store,
) -> None:
    offer = await _say(fake_tg, CARLA, "The screen cracked", photo=True)
    assert "no open ticket" in offer.params["text"]
    fake_tg.queue(fake_tg.callback_update(CARLA, _buttons(offer)[0], message_id=888))
    edit = (await fake_tg.wait_for("editMessageText"))[0]
    assert "ticket #1 is open: The screen cracked" in edit.params["text"]
    async with store.read() as tx:
        (first,) = await tx.tickets.messages(1)
    assert first.text == "The screen cracked" and [a["file_id"] for a in first.attachments] == ["large-id"]
    await dispatcher.run_once()
    post = fake_slack.of("chat.postMessage")[0]
    assert "The screen cracked" in post.params["text"] and "photo.jpg" in str(post.params["blocks"])


def _raw_client(frontend: TelegramFrontEnd) -> httpx.AsyncClient:
    """The webhook as Telegram meets it: a response returns when the bot answers it, not when the
    update has been handled."""
    from bot.http import build_asgi

    transport = httpx.ASGITransport(app=build_asgi(telegram=frontend.webhook))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_webhook_answers_once_the_update_is_stored_and_handles_it_after(
    webhook_frontend: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store, monkeypatch: Any
) -> None:
    import asyncio

    release = asyncio.Event()
    handle = webhook_frontend.handle_update

    async def slow(update: Any) -> None:
        await release.wait()
        await handle(update)

    monkeypatch.setattr(webhook_frontend, "handle_update", slow)
    update = fake_tg.message_update(CARLA, "/ticket Locked out\nPassword refused", update_id=50)
    async with _raw_client(webhook_frontend) as http:
        response = await http.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "50") == "working"  # stored and claimed, in one write
    assert not fake_tg.of("sendMessage")
    release.set()
    await webhook_frontend.idle()
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "50") == "done"
    assert len(fake_tg.of("sendMessage")) == 1 and await _count(store, ticket_messages) == 1


async def test_beyond_the_backlog_the_webhook_answers_503_with_retry_after_and_stores_nothing(
    webhook_frontend: TelegramFrontEnd, fake_tg: FakeTelegramApi, store: Store, monkeypatch: Any
) -> None:
    import asyncio

    from bot.admission import Admission

    webhook_frontend.admission = Admission(workers=1, max_backlog=1)
    release = asyncio.Event()
    handle = webhook_frontend.handle_update

    async def slow(update: Any) -> None:
        await release.wait()
        await handle(update)

    monkeypatch.setattr(webhook_frontend, "handle_update", slow)
    first = fake_tg.message_update(CARLA, "/status", update_id=60)
    second = fake_tg.message_update(BOB, "/status", update_id=61)
    headers = {SECRET_HEADER: SECRET}
    async with _raw_client(webhook_frontend) as http:
        assert (await http.post("/telegram/webhook", json=first, headers=headers)).status_code == 200
        await asyncio.sleep(0)  # the first update's worker starts and is counted
        refused = await http.post("/telegram/webhook", json=second, headers=headers)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "2"
        assert await _count(store, inbox) == 1
        release.set()
        await webhook_frontend.idle()
        # Telegram delivers it again; now there is room.
        assert (await http.post("/telegram/webhook", json=second, headers=headers)).status_code == 200
        await webhook_frontend.idle()
    assert sorted(c.params["chat_id"] for c in fake_tg.of("sendMessage")) == [str(CARLA), str(BOB)]
    assert await _count(store, inbox, inbox.c.state == "done") == 2


async def test_a_chats_updates_are_answered_in_the_order_they_came(
    webhook_frontend: TelegramFrontEnd, fake_tg: FakeTelegramApi, monkeypatch: Any
) -> None:
    import asyncio

    release = asyncio.Event()
    handle = webhook_frontend.handle_update

    async def first_slow(update: Any) -> None:
        if update.update_id == 70:
            await release.wait()
        await handle(update)

    monkeypatch.setattr(webhook_frontend, "handle_update", first_slow)
    headers = {SECRET_HEADER: SECRET}
    async with _raw_client(webhook_frontend) as http:
        for update_id, text in ((70, "/help"), (71, "/status")):
            update = fake_tg.message_update(CARLA, text, update_id=update_id)
            assert (await http.post("/telegram/webhook", json=update, headers=headers)).status_code == 200
        other = fake_tg.message_update(BOB, "/status", update_id=72)
        assert (await http.post("/telegram/webhook", json=other, headers=headers)).status_code == 200
        # Another chat is not held up by Carla's slow update.
        answered = await fake_tg.wait_for("sendMessage")
        assert [c.params["chat_id"] for c in answered] == [str(BOB)]
    release.set()
    await webhook_frontend.idle()
    carla = [c.params["text"] for c in fake_tg.of("sendMessage") if c.params["chat_id"] == str(CARLA)]
    assert len(carla) == 2 and "/status" in carla[0] and "no tickets" in carla[1].lower()
