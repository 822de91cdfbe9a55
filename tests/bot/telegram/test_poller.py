"""Polling through the inbox and the poller lease: an update confirmed to Telegram but not yet
handled survives a crash, exactly one replica polls, and a 409 Conflict fails /healthz."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import Table, func, select
from telegram import Update

from bot.http import build_asgi
from bot.telegram.adapter import TelegramFrontEnd, TelegramSettings
from bot.telegram.poller import TelegramPoller
from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import inbox, ticket_messages, tickets
from handlers.context import Services
from handlers.lookup import CustomerLookup
from handlers.router import Router
from tests.conftest import FakeClock
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

CARLA = 555


async def eventually(check: Callable[[], bool], *, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _polling(store: Store, fake: FakeTelegramApi) -> TelegramFrontEnd:
    """One replica's Telegram front end, with its own router over ``store``."""
    router = Router(Services(store=store, lookup=CustomerLookup(store, refresh_seconds=0)))
    settings = TelegramSettings(token=TOKEN, api_url=fake.url, poll_timeout=0.2, lease_seconds=0.6)
    return TelegramFrontEnd(router=router, store=store, settings=settings)


async def _count(store: Store, table: Table) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


def _confirmed(fake: FakeTelegramApi, offset: int) -> bool:
    return any(str(c.params.get("offset")) == str(offset) for c in fake.of("getUpdates"))


async def test_an_update_whose_handler_raised_after_the_inbox_insert_is_handled_once_after_a_restart(
    store: Store, fake_tg: FakeTelegramApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    update = fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start", update_id=10)
    fake_tg.queue(update)
    crashed = _polling(store, fake_tg)
    seen: list[int] = []

    async def crash(u: Update) -> None:
        seen.append(u.update_id)
        raise RuntimeError("the process dies here")

    monkeypatch.setattr(crashed, "handle_update", crash)
    await crashed.start()
    # Telegram has been told: the next getUpdates carried offset 11, so it would not re-send 10.
    await eventually(lambda: _confirmed(fake_tg, 11))
    await crashed.stop()
    assert seen == [10] and not fake_tg.of("sendMessage")
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "10") == "pending"
    assert await _count(store, tickets) == 0

    fake_tg.queue(update)  # and if Telegram did send it again, the inbox knows it
    restarted = _polling(store, fake_tg)
    await restarted.start()
    try:
        await fake_tg.wait_for("sendMessage")
        polls = len(fake_tg.of("getUpdates"))
        await fake_tg.wait_for("getUpdates", polls + 2)  # the re-sent copy has been fetched
    finally:
        await restarted.stop()
    assert [c.params["text"] for c in fake_tg.of("sendMessage")] == [
        "Thanks — ticket #1 is open: Broken. We'll answer here; anything you add now goes to this ticket."
    ]
    assert await _count(store, tickets) == 1 and await _count(store, ticket_messages) == 1
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "10") == "done"


async def test_an_update_handled_but_not_marked_done_before_a_crash_changes_nothing_twice(
    store: Store, fake_tg: FakeTelegramApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after the handler committed (and answered) but before the inbox row was
    marked done: the restart runs the update again, and it writes nothing twice."""
    fake_tg.queue(fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start", update_id=20))
    crashed = _polling(store, fake_tg)
    real = crashed.handle_update

    async def dies_after_commit(u: Update) -> None:
        await real(u)
        raise RuntimeError("the process dies before the inbox marks the update done")

    monkeypatch.setattr(crashed, "handle_update", dies_after_commit)
    await crashed.start()
    await fake_tg.wait_for("sendMessage")
    await crashed.stop()
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "20") == "pending"
    assert await _count(store, tickets) == 1

    restarted = _polling(store, fake_tg)
    await restarted.start()
    try:
        await fake_tg.wait_for("sendMessage", 2)  # the answer again: delivery is at least once
    finally:
        await restarted.stop()
    first, again = (c.params["text"] for c in fake_tg.of("sendMessage"))
    assert again == first and first.startswith("Thanks — ticket #1 is open: Broken.")
    assert await _count(store, tickets) == 1 and await _count(store, ticket_messages) == 1
    async with store.read() as tx:
        assert await tx.inbox.state("telegram", "20") == "done"


def _count_lease_asks(poller: TelegramPoller) -> list[int]:
    """How many times ``poller`` has asked for its lease from now on (one counter, in a list)."""
    asks = [0]
    hold = poller.lease.hold

    async def counted() -> bool:
        held = await hold()
        asks[0] += 1
        return held

    setattr(poller.lease, "hold", counted)  # noqa: B010 (an instance attribute over the method)
    return asks


def _polled_by(fake: FakeTelegramApi, polls: int, *, since: int = 0) -> bool:
    """The fake saw ``polls`` getUpdates since ``since`` (one fewer while a long poll is open:
    the fake records a call when it answers)."""
    return len(fake.of("getUpdates", status=None)) - since in (polls - 1, polls)


async def _only_one_replica_polls(url: str, fake: FakeTelegramApi, clock: FakeClock) -> None:
    # Two Store objects (two engines, as two replicas have) over one database.
    stores = (Store.open(url, clock=clock), Store.open(url, clock=clock))
    await upgrade(stores[0].engine)
    one, two = (_polling(s, fake) for s in stores)
    await one.start()
    await two.start()
    try:
        await fake.wait_for("getUpdates", 3)
        assert one.poller is not None and two.poller is not None
        asks = [_count_lease_asks(one.poller), _count_lease_asks(two.poller)]
        await eventually(lambda: min(a[0] for a in asks) >= 2)  # both have asked again since
        leader, follower = (one.poller, two.poller) if one.poller.is_leader else (two.poller, one.poller)
        assert not follower.is_leader and follower.polls == 0
        assert _polled_by(fake, leader.polls)

        fake.queue(fake.message_update(CARLA, "/start"))
        await fake.wait_for("sendMessage")

        await (one if leader is one.poller else two).stop()  # a clean stop gives the lease up
        before = len(fake.of("getUpdates", status=None))
        await eventually(lambda: follower.polls > 1)
        assert follower.is_leader and _polled_by(fake, follower.polls, since=before)
        fake.queue(fake.message_update(CARLA, "/help"))
        await fake.wait_for("sendMessage", 2)
    finally:
        for frontend in (one, two):
            if frontend.application.running:
                await frontend.stop()
        for store in stores:
            await store.close()
    assert not fake.of("getUpdates", status=409)


async def test_only_the_lease_holder_polls_and_another_replica_takes_over_when_it_stops(
    db_url: str, fake_tg: FakeTelegramApi, clock: FakeClock
) -> None:
    await _only_one_replica_polls(db_url, fake_tg, clock)


async def test_only_one_replica_polls_on_postgres(
    pg_url: str, fake_tg: FakeTelegramApi, clock: FakeClock
) -> None:
    await _only_one_replica_polls(pg_url, fake_tg, clock)


async def test_a_409_conflict_fails_the_health_check_until_polling_works_again(
    telegram: TelegramFrontEnd, fake_tg: FakeTelegramApi
) -> None:
    transport = httpx.ASGITransport(app=build_asgi(health=telegram.health))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await http.get("/healthz")).json() == {"ok": True}
        fake_tg.conflict()
        await eventually(lambda: bool(fake_tg.of("getUpdates", status=409)) and not telegram.health.healthy)
        failing = await http.get("/healthz")
        assert failing.status_code == 503
        assert "409 Conflict" in failing.json()["problems"]["telegram"]
        fake_tg.clear_failures()
        await eventually(lambda: telegram.health.healthy)
        assert (await http.get("/healthz")).status_code == 200


async def _all_done(store: Store) -> bool:
    async with store.read() as tx:
        query = select(func.count()).select_from(inbox).where(inbox.c.state != "done")
        return int((await tx.conn.execute(query)).scalar_one()) == 0


async def test_a_polled_message_under_a_new_update_id_is_answered_and_stored_once(
    store: Store, fake_tg: FakeTelegramApi
) -> None:
    """After a webhook reset Telegram may hand the same chat_id + message_id out again under a
    new update_id."""
    first = fake_tg.queue(fake_tg.message_update(CARLA, "/ticket Broken\nIt does not start", update_id=30))
    replica = _polling(store, fake_tg)
    await replica.start()
    try:
        await fake_tg.wait_for("sendMessage")
        fake_tg.queue({**first, "update_id": 31})
        await eventually(lambda: _confirmed(fake_tg, 32))  # the copy was fetched and stored or refused
        deadline = time.monotonic() + 10
        while not await _all_done(store):
            assert time.monotonic() < deadline, "the inbox did not settle"
            await asyncio.sleep(0.02)
    finally:
        await replica.stop()
    assert len(fake_tg.of("sendMessage")) == 1
    assert await _count(store, tickets) == 1 and await _count(store, ticket_messages) == 1


async def test_polled_updates_of_unused_kinds_or_wrong_types_are_confirmed_but_not_kept(
    store: Store, fake_tg: FakeTelegramApi
) -> None:
    edited = fake_tg.message_update(CARLA, "order 1182", update_id=40)
    edited["edited_message"] = edited.pop("message")
    malformed = fake_tg.message_update(CARLA, "hello", update_id=41)
    malformed["message"]["text"] = 5
    for update in (edited, malformed, fake_tg.message_update(CARLA, "/help", update_id=42)):
        fake_tg.queue(update)
    replica = _polling(store, fake_tg)
    await replica.start()
    try:
        await fake_tg.wait_for("sendMessage")
        await eventually(lambda: _confirmed(fake_tg, 43))
    finally:
        await replica.stop()
    assert len(fake_tg.of("sendMessage")) == 1 and "/ticket" in fake_tg.of("sendMessage")[0].params["text"]
    async with store.read() as tx:
        assert [await tx.inbox.state("telegram", str(u)) for u in (40, 41, 42)] == [None, None, "done"]
