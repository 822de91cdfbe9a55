"""A Slack event is answered once and changes the store once, whatever Slack's retries, Socket Mode
and other replicas deliver, and a delivery that died or failed before answering loses nothing:
the next delivery answers, with the first run's reply when that run had already written."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.http import build_asgi
from bot.slack import deliveries
from bot.slack.adapter import SlackFrontEnd, SlackSettings
from bot.slack.translate import Incoming
from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import handled_messages, interactions
from handlers.context import Services
from handlers.lookup import CustomerLookup
from handlers.messages import Actor, Message, Reply
from handlers.people import staff_actor
from handlers.router import Router
from tests.bot.slack.conftest import MANAGER, REP, SECRET, TOKEN, SlackRequests
from tests.bot.slack.test_socket_mode import APP_TOKEN, dm_event
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_socket import FakeSocketMode

RETRY = {"X-Slack-Retry-Reason": "http_timeout"}


def dm(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": "D0DM",
        "channel_type": "im",
        "user": REP,
        "text": text,
        "ts": "1.0",
    }


async def _count(store: Store, table: Any) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


async def until(check: Callable[[], Awaitable[bool]], *, within: float = 15.0, what: str = "") -> None:
    """Wait for a state the test expects, with a bound far above what a loaded machine needs."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + within
    while not await check():
        assert loop.time() < give_up, f"not within {within}s: {what}"
        await asyncio.sleep(0.05)


def ignored(caplog: pytest.LogCaptureFixture, event_id: str) -> int:
    """How many deliveries of ``event_id`` found it answered and stopped."""
    return sum(
        1
        for r in caplog.records
        if r.getMessage() == f"slack event {event_id} already answered; delivery ignored"
    )


async def logged(caplog: pytest.LogCaptureFixture, event_id: str, count: int) -> None:
    async def seen() -> bool:
        return ignored(caplog, event_id) >= count

    await until(seen, what=f"{count} ignored deliveries of {event_id}")


@pytest.fixture
async def acme(router: Router, rep: Actor) -> None:
    assert "Added" in (await router.handle(Message(actor=rep, text="add Acme Corp"))).text


async def test_a_delivery_that_died_after_writing_is_answered_by_the_retry_without_writing_again(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    frontend: SlackFrontEnd,
    store: Store,
    clock: FakeClock,
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    answer = frontend.deliver
    died = asyncio.Event()

    async def dies_once(incoming: Incoming, reply: Reply) -> None:
        if not died.is_set():
            died.set()  # the process is killed between the handler's commit and the answer
            raise asyncio.CancelledError
        await answer(incoming, reply)

    monkeypatch.setattr(frontend, "deliver", dies_once)
    body = slack.event_body(dm("log acme note: renewal is on"), event_id="EvDie")
    assert (await slack.post(body, "application/json")).status_code == 200
    await asyncio.wait_for(died.wait(), 15)
    assert await _count(store, interactions) == 1 and fake_slack.of("chat.postMessage") == []

    clock.advance(seconds=deliveries.LEASE.total_seconds() + 1)  # the dead holder's lease lapses
    retry = await slack.post(body, "application/json", headers={**RETRY, "X-Slack-Retry-Num": "1"})
    assert retry.status_code == 200
    (posted,) = await fake_slack.wait_for("chat.postMessage")
    assert "Logged a note with Acme Corp" in posted.params["text"]  # the first run's answer
    assert await _count(store, interactions) == 1

    again = await slack.post(body, "application/json", headers={**RETRY, "X-Slack-Retry-Num": "2"})
    assert again.status_code == 200
    await logged(caplog, "EvDie", 1)
    assert len(fake_slack.of("chat.postMessage")) == 1 and await _count(store, interactions) == 1


async def test_a_failed_answer_is_given_by_the_next_delivery(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    frontend: SlackFrontEnd,
    store: Store,
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The answer could not be sent (Slack down): the event is let go at once, not after a lease
    (the clock stands still here, so no lease ever lapses), and the retry answers."""
    caplog.set_level(logging.INFO)
    answer = frontend.deliver
    failed = asyncio.Event()

    async def fails_once(incoming: Incoming, reply: Reply) -> None:
        if not failed.is_set():
            failed.set()
            raise ConnectionError("Slack is unreachable")
        await answer(incoming, reply)

    monkeypatch.setattr(frontend, "deliver", fails_once)
    body = slack.event_body(dm("log acme call: asked for a discount"), event_id="EvFail")
    assert (await slack.post(body, "application/json")).status_code == 200
    await asyncio.wait_for(failed.wait(), 15)

    retry = await slack.post(body, "application/json", headers={**RETRY, "X-Slack-Retry-Num": "1"})
    assert retry.status_code == 200
    (posted,) = await fake_slack.wait_for("chat.postMessage")
    assert "Logged a call with Acme Corp" in posted.params["text"]
    assert await _count(store, interactions) == 1


async def test_retries_while_the_first_delivery_works_wait_for_it_and_answer_nothing(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    frontend: SlackFrontEnd,
    services: Services,
    store: Store,
    acme: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot.slack.deliveries")
    monkeypatch.setattr(frontend.deliveries, "poll_seconds", 0.1)
    search = services.lookup.search
    working, go_on = asyncio.Event(), asyncio.Event()

    async def slow_search(*args: Any, **kwargs: Any) -> Any:
        working.set()
        await go_on.wait()
        return await search(*args, **kwargs)

    monkeypatch.setattr(services.lookup, "search", slow_search)
    body = slack.event_body(dm("log acme note: sent the contract"), event_id="EvBusy")
    assert (await slack.post(body, "application/json")).status_code == 200
    await asyncio.wait_for(working.wait(), 15)
    for n in (1, 2):  # Slack timed out waiting for the first ack and retries meanwhile
        response = await slack.post(body, "application/json", headers={**RETRY, "X-Slack-Retry-Num": str(n)})
        assert response.status_code == 200

    async def both_waiting() -> bool:
        return sum(1 for r in caplog.records if "held by another delivery" in r.getMessage()) >= 2

    await until(both_waiting, what="both retries wait for the first delivery")
    go_on.set()
    await logged(caplog, "EvBusy", 2)
    assert len(fake_slack.of("chat.postMessage")) == 1
    assert await _count(store, interactions) == 1


async def test_one_note_and_one_reply_for_three_http_deliveries_and_one_over_socket_mode(
    router: Router, store: Store, fake_slack: FakeSlackApi, acme: None, caplog: pytest.LogCaptureFixture
) -> None:
    """RELIABILITY 11 on a front end that takes both HTTP and Socket Mode."""
    caplog.set_level(logging.INFO)
    socket = await FakeSocketMode().start(fake_slack)
    settings = SlackSettings(
        bot_token=TOKEN,
        signing_secret=SECRET,
        app_token=APP_TOKEN,
        api_url=fake_slack.url,
        managers=(MANAGER,),
    )
    frontend = SlackFrontEnd(router=router, store=store, settings=settings)
    await frontend.start()
    try:
        await socket.connected()
        assert frontend.http_handler is not None
        transport = httpx.ASGITransport(app=build_asgi(slack=frontend.http_handler.handle))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            slack = SlackRequests(http, fake_slack)
            body = slack.event_body(dm("log acme note: one note only"), event_id="EvBoth")
            assert (await slack.post(body, "application/json")).status_code == 200
            await fake_slack.wait_for("chat.postMessage")
            for n in (1, 2):
                retry = await slack.post(
                    body, "application/json", headers={**RETRY, "X-Slack-Retry-Num": str(n)}
                )
                assert retry.status_code == 200
        envelope = await socket.send(
            "events_api", dm_event("log acme note: one note only", event_id="EvBoth")
        )
        assert (await socket.ack(envelope)).delay < 3
        await logged(caplog, "EvBoth", 3)
    finally:
        await frontend.stop()
        await socket.stop()
    assert len(fake_slack.of("chat.postMessage")) == 1
    assert await _count(store, interactions) == 1


async def test_an_event_claims_its_changes_in_the_handlers_write(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store, acme: None
) -> None:
    """The claim that keeps a repeat from writing is taken with the note, in one transaction."""
    await slack.dm("log acme note: claimed with the note", event_id="EvRef")
    await fake_slack.wait_for("chat.postMessage")
    async with store.read() as tx:
        refs = (await tx.conn.execute(select(handled_messages.c.ref))).scalars().all()
    assert refs == [deliveries.ref_of("EvRef")]
    assert await _count(store, interactions) == 1


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    store = Store.open(pg_url, clock=FakeClock())
    await upgrade(store.engine)
    yield store
    await store.close()


async def test_two_replicas_given_the_same_event_at_once_answer_once_on_postgresql(
    pg_store: Store,
    fake_slack: FakeSlackApi,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO)
    rep = await staff_actor(pg_store, platform="console", user_id="sam", display_name="Sam", role="rep")
    replicas = []
    for _ in range(2):  # each replica has its own router and lookup, as separate processes would
        router = Router(Services(store=pg_store, lookup=CustomerLookup(pg_store, refresh_seconds=0)))
        settings = SlackSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake_slack.url)
        replicas.append(SlackFrontEnd(router=router, store=pg_store, settings=settings))
    assert "Added" in (await replicas[0].router.handle(Message(actor=rep, text="add Acme Corp"))).text
    for replica in replicas:
        monkeypatch.setattr(replica.deliveries, "poll_seconds", 0.1)
    clients = []
    for replica in replicas:
        assert replica.http_handler is not None
        transport = httpx.ASGITransport(app=build_asgi(slack=replica.http_handler.handle))
        clients.append(httpx.AsyncClient(transport=transport, base_url="http://testserver"))
    try:
        requests = [SlackRequests(client, fake_slack) for client in clients]
        body = requests[0].event_body(dm("log acme note: from two replicas"), event_id="EvPg")
        first, retry = await asyncio.gather(
            requests[0].post(body, "application/json"),
            requests[1].post(body, "application/json", headers=requests[0].headers(body)),
        )
        assert (first.status_code, retry.status_code) == (200, 200)
        await fake_slack.wait_for("chat.postMessage")
        await logged(caplog, "EvPg", 1)
    finally:
        for client in clients:
            await client.aclose()
        for replica in replicas:
            await replica.stop()
    assert len(fake_slack.of("chat.postMessage")) == 1
    assert await _count(pg_store, interactions) == 1
