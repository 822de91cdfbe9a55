"""The Slack front end over Socket Mode: real bolt and slack_sdk's aiohttp client, a fake link and Web API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.slack.adapter import SlackFrontEnd, SlackSettings
from crm_store.store import Store
from crm_store.tables import interactions
from handlers.context import Services
from handlers.messages import Actor, Message
from handlers.router import Router
from tests.bot.slack.conftest import MANAGER, REP, TOKEN
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, Call, FakeSlackApi
from tests.fakes.slack_socket import APP_ID, FakeSocketMode

APP_TOKEN = "xapp-1-A0001-1-test-app-token"
# Tasks of these packages must all be gone once the front end has stopped.
_LIBRARIES = ("/slack_sdk/", "/slack_bolt/", "/bot/slack/adapter.py")


def shown(call: Call) -> str:
    parts = [str(call.params.get("text", ""))]
    for block in call.params.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def command(fake: FakeSlackApi, text: str, *, n: int = 1, user: str = REP) -> dict[str, Any]:
    """A slash command as Socket Mode carries it: the same fields as over HTTP, as a JSON object."""
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "team_domain": "example",
        "channel_id": "C0SALES",
        "channel_name": "sales",
        "user_id": user,
        "user_name": "someone",
        "command": "/crm",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": fake.response_url(str(n)),
        "trigger_id": f"trigger-{n}",
    }


def dm_event(text: str, *, event_id: str, user: str = REP) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": {
            "type": "message",
            "channel": "D0DM",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": "1700000000.000100",
        },
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
        "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
    }


def button(fake: FakeSlackApi, value: str, *, n: int, user: str = REP) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "trigger_id": f"trigger-{n}",
        "container": {"type": "message", "channel_id": "C0SALES", "is_ephemeral": True},
        "channel": {"id": "C0SALES"},
        "response_url": fake.response_url(str(n)),
        "actions": [
            {"action_id": value, "block_id": "b1", "type": "button", "value": value, "action_ts": "1.0"}
        ],
    }


async def _count(store: Store, table: Any) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


def _socket_tasks() -> list[asyncio.Task[Any]]:
    pending = []
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and any(lib in code.co_filename for lib in _LIBRARIES):
            pending.append(task)
    return pending


def socket_frontend(router: Router, store: Store, fake_slack: FakeSlackApi) -> SlackFrontEnd:
    # A Socket Mode app needs no signing secret: nothing reaches it over HTTP.
    settings = SlackSettings(
        bot_token=TOKEN, signing_secret=None, app_token=APP_TOKEN, api_url=fake_slack.url, managers=(MANAGER,)
    )
    return SlackFrontEnd(router=router, store=store, settings=settings)


async def stop_cleanly(
    frontend: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode
) -> None:
    """Stop the front end; its links close, it opens no new one, and none of its tasks outlive it."""
    opened = len(fake_slack.of("apps.connections.open"))
    await frontend.stop()
    for connection in fake_socket.connections:
        await fake_socket.closed(connection)
    if pending := _socket_tasks():  # cancelled by close(), they finish on the loop's next turns
        await asyncio.wait(pending, timeout=30)
    assert _socket_tasks() == []
    # With none of its tasks left, nothing remains that could open a link later.
    assert len(fake_slack.of("apps.connections.open")) == opened
    assert fake_socket.live == [] and fake_socket.unexpected == []


@pytest.fixture
async def fake_socket(fake_slack: FakeSlackApi) -> AsyncIterator[FakeSocketMode]:
    fake = await FakeSocketMode().start(fake_slack)
    yield fake
    await fake.stop()


@pytest.fixture
async def connected(
    router: Router, store: Store, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode
) -> AsyncIterator[SlackFrontEnd]:
    frontend = socket_frontend(router, store, fake_slack)
    await frontend.start()
    await fake_socket.connected()
    yield frontend
    await stop_cleanly(frontend, fake_slack, fake_socket)


@pytest.fixture
async def acme(router: Router, rep: Actor) -> None:
    for text in ("add Acme Corp email=ops@acme.example", "add Globex Industries email=info@globex.example"):
        reply = await router.handle(Message(actor=rep, text=text))
        assert "Added" in reply.text, reply


async def test_start_opens_the_link_with_the_app_token_through_the_configured_api_url(
    connected: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode
) -> None:
    assert len(fake_slack.of("apps.connections.open")) == 1  # reached the fake: the bot's base_url
    assert [c.token for c in fake_socket.connections] == [APP_TOKEN]
    assert fake_socket.unexpected == []  # hello needs no answer


async def test_slash_command_is_acked_and_its_answer_reaches_the_response_url(
    connected: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode, store: Store
) -> None:
    envelope = await fake_socket.send("slash_commands", command(fake_slack, "add Acme Corp"))
    ack = await fake_socket.ack(envelope)
    assert ack.envelope_id == envelope and ack.payload is None
    call = (await fake_slack.wait_for("response_url"))[0]
    assert call.params["response_key"] == "1" and "Added Acme Corp" in shown(call)
    async with store.read() as tx:
        customer = await tx.customers.get(1)
    assert customer is not None and customer.name == "Acme Corp"


async def test_redelivered_event_is_handled_once(
    connected: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode, store: Store, acme: None
) -> None:
    payload = dm_event("log acme note: once", event_id="EvSock1")
    envelopes = [await fake_socket.send("events_api", payload)]
    for attempt in (1, 2):
        envelopes.append(
            await fake_socket.send("events_api", payload, retry_attempt=attempt, retry_reason="timeout")
        )
    for envelope in envelopes:
        assert (await fake_socket.ack(envelope)).payload is None
    await fake_slack.wait_for("chat.postMessage")
    # A later, different event: once its answer is in, a duplicate answer would be in too.
    await fake_socket.ack(await fake_socket.send("events_api", dm_event("show globex", event_id="EvSock2")))
    posted = await fake_slack.wait_for("chat.postMessage", 2)
    assert [("Logged a note" in shown(c), "Globex Industries" in shown(c)) for c in posted] == [
        (True, False),
        (False, True),
    ]
    assert {c.params["channel"] for c in posted} == {"D0DM"}
    assert await _count(store, interactions) == 1


async def test_ack_does_not_wait_for_the_work(
    connected: SlackFrontEnd,
    fake_slack: FakeSlackApi,
    fake_socket: FakeSocketMode,
    services: Services,
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lookup is held until the ack is in: an ack that waited for the work would never come
    (the generous bound below), however fast or slow the machine."""
    search, release, searching = services.lookup.search, asyncio.Event(), asyncio.Event()

    async def held_search(*args: Any, **kwargs: Any) -> Any:
        searching.set()
        await release.wait()
        return await search(*args, **kwargs)

    monkeypatch.setattr(services.lookup, "search", held_search)
    envelope = await fake_socket.send("slash_commands", command(fake_slack, "find acme"))
    ack = await fake_socket.ack(envelope, within=60)
    assert ack.payload is None
    await asyncio.wait_for(searching.wait(), timeout=60)  # the work has started, and waits
    assert fake_slack.of("response_url") == []
    release.set()
    call = (await fake_slack.wait_for("response_url", within=60))[0]
    assert "Acme Corp" in shown(call)


async def test_button_press_runs_the_same_handler(
    connected: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode, acme: None
) -> None:
    logged = await fake_socket.send("slash_commands", command(fake_slack, "log acme note: kickoff done"))
    await fake_socket.ack(logged)
    await fake_slack.wait_for("response_url")
    pressed = await fake_socket.send("interactive", button(fake_slack, "crm:timeline:1", n=2))
    assert (await fake_socket.ack(pressed)).envelope_id == pressed
    call = (await fake_slack.wait_for("response_url", 2))[-1]
    assert call.params["response_key"] == "2"
    assert "Timeline of Acme Corp" in shown(call) and "kickoff done" in shown(call)


async def test_refresh_moves_to_a_new_link_once_and_keeps_working(
    connected: SlackFrontEnd, fake_slack: FakeSlackApi, fake_socket: FakeSocketMode
) -> None:
    first = fake_socket.live[0]
    await fake_socket.refresh()
    second = await fake_socket.connected(2)
    await fake_socket.closed(first)  # the app leaves the old link itself
    envelope = await fake_socket.send("slash_commands", command(fake_slack, "help"))
    assert (await fake_socket.ack(envelope)).connection == second.number == 2
    await fake_slack.wait_for("response_url")
    # Envelopes go to the newest link: a later one still acked on the second means no third.
    later = await fake_socket.send("slash_commands", command(fake_slack, "help", n=2))
    assert (await fake_socket.ack(later)).connection == 2
    await fake_slack.wait_for("response_url", 2)
    assert len(fake_slack.of("apps.connections.open")) == 2 and fake_socket.live == [second]


async def test_envelopes_and_replies_stay_out_of_debug_logs(
    router: Router,
    store: Store,
    fake_slack: FakeSlackApi,
    fake_socket: FakeSocketMode,
    acme: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # DEBUG before the front end exists, as with LOG_LEVEL=DEBUG: bolt copies the root level then.
    caplog.set_level(logging.DEBUG)
    frontend = socket_frontend(router, store, fake_slack)
    await frontend.start()
    try:
        secret = "call +1 555 0199 or mail jane@private.example"
        await fake_socket.ack(
            await fake_socket.send("events_api", dm_event(f"log acme note: {secret}", event_id="EvPII"))
        )
        await fake_slack.wait_for("chat.postMessage")
    finally:
        await stop_cleanly(frontend, fake_slack, fake_socket)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiosqlite"))
    for needle in ("jane@private.example", "555 0199", "xapp-", "xoxb-", "ops@acme.example"):
        assert needle not in logged
