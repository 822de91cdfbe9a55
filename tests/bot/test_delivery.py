"""The dispatcher: each row sent once across dispatchers and restarts, short leases renewed while
a send waits and taken over when their dispatcher died, claims released at a stop, "(late)" judged
at send time, retries and parking, and Telegram's limits kept (checked on the fake Bot API's
timestamps, on a fake clock)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.delivery import DeliveryLoop, DeliverySettings, Dispatcher, SlidingWindowLimiter, Window
from bot.frontend import PermanentSendError
from bot.telegram.adapter import TelegramFrontEnd, TelegramSettings
from crm_store.migrate import upgrade
from crm_store.store import Store
from handlers.jobs import JobSettings, queue_due_reminders
from handlers.messages import Reply, reply_from_dict
from handlers.router import Router
from tests.conftest import Chat, FakeClock
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi


class Crash(BaseException):
    """The process dying mid-dispatch (not an Exception: nothing catches it)."""


class FakeSender:
    def __init__(
        self,
        *,
        crash_after: int | None = None,
        error: Exception | None = None,
        log: list[tuple[str, str]] | None = None,
        platform: str = "telegram",
    ) -> None:
        self.platform = platform
        self.sent: list[tuple[str, str]] = []
        self.replies: list[Reply] = []
        self.log = log if log is not None else []
        self.crash_after = crash_after
        self.error = error

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        await asyncio.sleep(0)  # let other dispatchers interleave
        if self.error is not None:
            raise self.error
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise Crash()
        self.sent.append((target, reply.text))
        self.replies.append(reply)
        self.log.append((target, reply.text))
        return str(len(self.sent))


def _no_limits(platform: str, target: str) -> list[tuple[str, Window]]:
    return []


async def _enqueue(store: Store, count: int, *, chats: int) -> None:
    async with store.write("test") as tx:
        for n in range(count):
            await tx.outbox.enqueue(
                platform="telegram", target=str(1000 + n % chats), payload={"text": f"m{n}"}, key=f"k{n}"
            )


def _fake_time(clock: FakeClock) -> dict[str, object]:
    async def _sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    return {"clock": lambda: clock.now.timestamp(), "sleep": _sleep}


async def _two_dispatchers_send_each_row_once(url: str, clock: FakeClock) -> None:
    stores = [Store.open(url, clock=clock) for _ in range(2)]
    try:
        await _enqueue(stores[0], 200, chats=40)
        log: list[tuple[str, str]] = []  # both senders, in the order the sends happened
        senders = [FakeSender(log=log), FakeSender(log=log)]
        dispatchers = [
            Dispatcher.of(
                store, [sender], limits=_no_limits, settings=DeliverySettings(batch=5), name=f"d{n}"
            )
            for n, (store, sender) in enumerate(zip(stores, senders, strict=True))
        ]
        await asyncio.gather(*(d.run_once() for d in dispatchers))
        texts = Counter(text for _, text in log)
        assert len(texts) == 200 and set(texts.values()) == {1}
        for chat in {target for target, _ in log}:  # each chat got its messages in order
            numbers = [int(text[1:]) for target, text in log if target == chat]
            assert numbers == sorted(numbers)
        async with stores[0].read() as tx:
            assert (await tx.outbox.counts())["sent"] == 200
    finally:
        for store in stores:
            await store.close()


async def test_two_dispatchers_on_one_sqlite_store_send_each_row_once(db_url: str, clock: FakeClock) -> None:
    await _two_dispatchers_send_each_row_once(db_url, clock)


async def test_two_dispatchers_on_postgres_send_each_row_once(pg_url: str, clock: FakeClock) -> None:
    store = Store.open(pg_url)
    await upgrade(store.engine)
    await store.close()
    await _two_dispatchers_send_each_row_once(pg_url, clock)


async def test_a_restart_mid_dispatch_loses_nothing_and_duplicates_nothing(
    store: Store, clock: FakeClock
) -> None:
    await _enqueue(store, 20, chats=20)
    crashing = FakeSender(crash_after=5)
    with pytest.raises(Crash):
        await Dispatcher.of(store, [crashing], limits=_no_limits).run_once()
    assert len(crashing.sent) == 5
    survivor = FakeSender()
    restarted = Dispatcher.of(store, [survivor], limits=_no_limits)
    await restarted.run_once()
    # The dead dispatcher's batch is leased: untouched until its short lease runs out (nobody
    # renews it), then taken over: within seconds, not minutes.
    assert len(survivor.sent) == 0
    lease = DeliverySettings().lease.total_seconds()
    assert lease <= 15
    clock.advance(seconds=lease - 1)
    await restarted.run_once()
    assert len(survivor.sent) == 0
    clock.advance(seconds=2)
    await restarted.run_once()
    texts = [t for _, t in crashing.sent + survivor.sent]
    assert sorted(texts) == sorted(f"m{n}" for n in range(20))
    async with store.read() as tx:
        rows = await tx.outbox.listing()
    assert all(r.state == "sent" and r.sent_message_id for r in rows)


async def test_failures_back_off_then_park_and_permanent_errors_park_at_once(
    store: Store, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await _enqueue(store, 1, chats=1)
    settings = DeliverySettings(max_attempts=3, backoff_base=10)
    flaky = Dispatcher.of(
        store, [FakeSender(error=ConnectionError("down"))], settings=settings, limits=_no_limits
    )
    assert (await flaky.run_once()).retried == 1
    assert (await flaky.run_once()).retried == 0  # not due yet
    clock.advance(seconds=10)
    assert (await flaky.run_once()).retried == 1
    clock.advance(seconds=20)
    assert (await flaky.run_once()).failed == 1
    async with store.read() as tx:
        row = (await tx.outbox.listing())[0]
    assert row.state == "failed" and row.attempts == 3 and row.last_error == "ConnectionError"
    assert "parked as failed after 3 attempts" in caplog.text and "down" not in caplog.text

    async with store.write("test") as tx:
        await tx.outbox.enqueue(platform="telegram", target="7", payload={"text": "x"}, key="blocked")
    blocked = Dispatcher.of(
        store, [FakeSender(error=PermanentSendError("telegram Forbidden"))], limits=_no_limits
    )
    assert (await blocked.run_once()).failed == 1


def test_the_limiter_waits_for_the_oldest_send_to_leave_the_window() -> None:
    limiter = SlidingWindowLimiter()
    windows = [("chat", Window(2, 1.0))]
    assert limiter.wait(windows, 0.0) == 0
    limiter.record(windows, 0.0)
    limiter.record(windows, 0.4)
    assert limiter.wait(windows, 0.5) == pytest.approx(0.5)
    assert limiter.wait(windows, 0.9) == pytest.approx(0.1)
    assert limiter.wait(windows, 1.0) == 0
    limiter.pause("chat", 5.0)
    assert limiter.wait(windows, 2.0) == pytest.approx(3.0)


@pytest.fixture
async def polling_off(
    router: Router, store: Store, fake_tg: FakeTelegramApi
) -> AsyncIterator[TelegramFrontEnd]:
    """A Telegram front end in webhook mode: only its sender is used here."""
    frontend = TelegramFrontEnd(
        router=router,
        store=store,
        settings=TelegramSettings(
            token=TOKEN, api_url=fake_tg.url, webhook_url="https://x.example/h", webhook_secret="s"
        ),
    )
    await frontend.start()
    yield frontend
    await frontend.stop()


@pytest.fixture
async def fake_tg(clock: FakeClock) -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi(clock=lambda: clock.now.timestamp()).start()
    yield fake
    await fake.stop()


def _violations(times: list[float], count: int, seconds: float) -> int:
    """Windows of ``seconds`` holding more than ``count`` sends."""
    ordered = sorted(times)
    return sum(1 for i in range(len(ordered) - count) if ordered[i + count] - ordered[i] < seconds)


async def test_telegram_limits_hold_per_chat_per_group_and_overall(
    store: Store, clock: FakeClock, fake_tg: FakeTelegramApi, polling_off: TelegramFrontEnd
) -> None:
    async with store.write("test") as tx:
        n = 0
        for target, count in [("1001", 100), ("-2002", 40)] + [(str(5000 + i), 1) for i in range(300)]:
            for _ in range(count):
                await tx.outbox.enqueue(
                    platform="telegram", target=target, payload={"text": f"m{n}"}, key=f"k{n}"
                )
                n += 1
    dispatcher = Dispatcher.of(store, [polling_off.sender], **_fake_time(clock))  # type: ignore[arg-type]
    for _ in range(400):
        await dispatcher.run_once()
        async with store.read() as tx:
            if (await tx.outbox.counts())["sent"] == n:
                break
        clock.advance(seconds=1)
    calls = fake_tg.of("sendMessage")
    assert len(calls) == n == 440
    assert len({c.params["text"] for c in calls}) == 440  # none twice
    by_chat: dict[str, list[float]] = {}
    for call in calls:
        by_chat.setdefault(call.params["chat_id"], []).append(call.at)
    assert _violations(by_chat["1001"], 1, 1.0) == 0
    assert _violations(by_chat["-2002"], 20, 60.0) == 0 and _violations(by_chat["-2002"], 1, 1.0) == 0
    assert _violations([c.at for c in calls], 30, 1.0) == 0
    # In order per chat.
    assert [c.params["text"] for c in calls if c.params["chat_id"] == "1001"] == [f"m{i}" for i in range(100)]
    assert max(c.at for c in calls) - min(c.at for c in calls) < timedelta(minutes=5).total_seconds()


async def _states(store: Store) -> Counter[str]:
    async with store.read() as tx:
        return Counter(row.state for row in await tx.outbox.listing())


async def test_stopping_the_loop_ends_after_the_row_in_hand_and_releases_the_rest_at_once(
    store: Store,
) -> None:
    """stop() must not cancel a pass inside a query or a send; it ends the pass after the row in
    hand and gives the rest of the batch back, due at once for another dispatcher."""
    await _enqueue(store, 45, chats=45)  # a batch of 30, then 15 more
    first_send = asyncio.Event()

    class SlowSender(FakeSender):
        async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
            first_send.set()
            await asyncio.sleep(0.005)
            return await super().send(target, reply, thread=thread)

    sender = SlowSender()
    loop = DeliveryLoop(Dispatcher.of(store, [sender], limits=_no_limits), tick=60)
    loop.start()
    await asyncio.wait_for(first_send.wait(), 60)
    await loop.stop()
    assert 1 <= len(sender.sent) < 30
    assert await _states(store) == Counter({"sent": len(sender.sent), "pending": 45 - len(sender.sent)})
    async with store.read() as tx:
        assert all(r.attempts == 0 for r in await tx.outbox.listing(states=("pending",)))
    successor = FakeSender()
    await Dispatcher.of(store, [successor], limits=_no_limits).run_once()  # the clock has not moved
    assert sorted(t for _, t in sender.sent + successor.sent) == sorted(f"m{n}" for n in range(45))


async def test_a_stop_that_must_cancel_a_hung_send_still_releases_every_claim_at_once(
    store: Store,
) -> None:
    """A send that never returns is cancelled after ``stop_wait``; the batch it held (the hung
    row too: it was never confirmed) is released, not left leased behind a dead pass."""
    await _enqueue(store, 10, chats=10)
    hung = asyncio.Event()

    class HangingSender(FakeSender):
        async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
            if self.sent:
                hung.set()
                await asyncio.Event().wait()  # the platform never answers
            return await super().send(target, reply, thread=thread)

    sender = HangingSender()
    loop = DeliveryLoop(Dispatcher.of(store, [sender], limits=_no_limits), tick=60, stop_wait=0.1)
    loop.start()
    await asyncio.wait_for(hung.wait(), 30)
    await loop.stop()
    assert await _states(store) == Counter({"sent": 1, "pending": 9})
    successor = FakeSender()
    await Dispatcher.of(store, [successor], limits=_no_limits).run_once()  # the clock has not moved
    assert sorted(t for _, t in sender.sent + successor.sent) == sorted(f"m{n}" for n in range(10))


async def _lease_until(store: Store, row_id: int) -> object:
    async with store.read() as tx:
        row = await tx.outbox.get(row_id)
    assert row is not None
    return row.lease_until


async def _live_dispatcher_keeps_its_claim_while_a_send_waits(store: Store, clock: FakeClock) -> None:
    """A send held up for minutes (a 429 waited out part-way, a slow platform) by a live
    dispatcher: its lease is renewed, so another dispatcher never sends the row, nor overtakes it
    with the chat's next row; once the send returns, the next row goes, once."""
    async with store.write("test") as tx:
        for n in range(2):
            await tx.outbox.enqueue(platform="telegram", target="42", payload={"text": f"m{n}"}, key=f"k{n}")
    waiting, release = asyncio.Event(), asyncio.Event()

    class WaitingSender(FakeSender):
        async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
            waiting.set()
            await release.wait()
            return await super().send(target, reply, thread=thread)

    slow = WaitingSender()
    settings = DeliverySettings(renew_seconds=0.01)
    alive = Dispatcher.of(store, [slow], limits=_no_limits, settings=settings, name="alive")
    running = asyncio.create_task(alive.run_once())
    await asyncio.wait_for(waiting.wait(), 30)
    other = FakeSender()
    second = Dispatcher.of(store, [other], limits=_no_limits, name="second")
    async with store.read() as tx:
        (held,) = await tx.outbox.listing(states=("sending",))
    for _ in range(36):  # three minutes, in steps of a third of the lease
        clock.advance(seconds=5)
        renewed = clock.now + settings.lease
        for _ in range(3000):  # the renewal every 10 ms catches up with the moved clock
            if await _lease_until(store, held.id) == renewed:
                break
            await asyncio.sleep(0.01)
        assert await _lease_until(store, held.id) == renewed
        assert (await second.run_once()).sent == 0
    release.set()
    assert (await running).sent == 2
    assert (await second.run_once()).sent == 0
    assert other.sent == [] and slow.sent == [("42", "m0"), ("42", "m1")]
    async with store.read() as tx:
        rows = await tx.outbox.listing()
    assert [(r.state, r.attempts) for r in rows] == [("sent", 1), ("sent", 1)]


async def test_a_live_dispatcher_keeps_its_claim_while_a_send_waits(store: Store, clock: FakeClock) -> None:
    await _live_dispatcher_keeps_its_claim_while_a_send_waits(store, clock)


async def test_postgres_a_live_dispatcher_keeps_its_claim_while_a_send_waits(
    pg_url: str, clock: FakeClock
) -> None:
    store = Store.open(pg_url, clock=clock)
    await upgrade(store.engine)
    try:
        await _live_dispatcher_keeps_its_claim_while_a_send_waits(store, clock)
    finally:
        await store.close()


async def test_a_reminder_reaching_its_rep_late_is_titled_late_though_the_tick_queued_it_on_time(
    chat: Chat, store: Store, clock: FakeClock
) -> None:
    """Lateness is how late the push reaches the person: judged by the dispatcher as it sends,
    not by the tick that queued it (a chat held up behind a stranded row, a slow outbox)."""
    jobs = JobSettings(staff_platforms=("console",), late_after=timedelta(minutes=5))
    await chat.say("remind in 1 hour: call the bank")
    await chat.say("remind in 2 hours: renew the certificate")
    console = FakeSender(platform="console")
    dispatcher = Dispatcher.of(store, [console], limits=_no_limits)
    clock.advance(hours=1)
    assert await queue_due_reminders(store, jobs) == 1  # on time
    async with store.read() as tx:
        (queued,) = await tx.outbox.listing()
    assert reply_from_dict(queued.payload).title == "Reminder #1"
    clock.advance(minutes=5, seconds=1)  # it reaches the rep just past the threshold
    assert (await dispatcher.run_once()).sent == 1
    clock.advance(minutes=54, seconds=59)  # the second is due now
    assert await queue_due_reminders(store, jobs) == 1
    clock.advance(minutes=4, seconds=59)  # it reaches the rep just within the threshold
    assert (await dispatcher.run_once()).sent == 1
    assert [r.title for r in console.replies] == ["Reminder #1 (late)", "Reminder #2"]
    assert [r.text for r in console.replies] == ["call the bank", "renew the certificate"]


async def test_a_row_with_a_malformed_deadline_is_parked_as_unreadable_and_nothing_is_sent(
    store: Store,
) -> None:
    async with store.write("test") as tx:
        await tx.outbox.enqueue(
            platform="telegram", target="7", payload={"text": "x", "deadline": {"due_at": "soon"}}, key="k"
        )
    sender = FakeSender()
    assert (await Dispatcher.of(store, [sender], limits=_no_limits).run_once()).failed == 1
    async with store.read() as tx:
        (row,) = await tx.outbox.listing()
    assert (row.state, row.last_error, sender.sent) == ("failed", "unreadable payload", [])


async def test_sends_and_failures_are_counted_per_platform_and_reason(store: Store, clock: FakeClock) -> None:
    from bot.frontend import RetryAfter
    from bot.metrics import Metrics

    metrics = Metrics()
    await _enqueue(store, 3, chats=3)
    await Dispatcher.of(store, [FakeSender()], metrics=metrics).run_once()
    await _enqueue_more(store, ["a", "b", "c"])
    for error in (RetryAfter(5), ConnectionError("down"), PermanentSendError("telegram Forbidden")):
        await Dispatcher.of(store, [FakeSender(error=error)], metrics=metrics).run_once()
        clock.advance(seconds=60)
    assert metrics.sends.labels(platform="telegram")._value.get() == 3
    failures = {
        reason: metrics.send_failures.labels(platform="telegram", reason=reason)._value.get()
        for reason in ("rate_limited", "retried", "failed")
    }
    # Three rows each time: a 429 postpones all three, a network error retries them, a
    # permanent error parks them.
    assert failures == {"rate_limited": 3, "retried": 3, "failed": 3}
    await DeliveryLoop(Dispatcher.of(store, [FakeSender()], metrics=metrics), tick=1).refresh_gauges()
    assert metrics.outbox_depth.labels(platform="telegram")._value.get() == 0


async def _enqueue_more(store: Store, keys: list[str]) -> None:
    async with store.write("test") as tx:
        for key in keys:
            await tx.outbox.enqueue(platform="telegram", target=f"chat-{key}", payload={"text": key}, key=key)
