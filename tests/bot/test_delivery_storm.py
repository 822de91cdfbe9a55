"""A 429 storm: one dispatcher drives the real Slack and Telegram senders against the two fake APIs
while both answer "too many requests" again and again. Everything must be delivered once, in order
per chat, no request may come before the wait a 429 asked for, and Telegram's limits must hold.

All of it runs on the fake clock (the store's, the dispatcher's, the Slack pacer's and both fakes'
timestamps), as tests/bot/test_delivery.py does: minutes of platform time in a few real seconds.

The scope of a Retry-After is the chat: on a 429 the dispatcher pauses that chat's limiter key and
postpones the row, and the outbox claims nothing newer for a chat while an older row is unsent; the
other chats keep going. So the checks are per chat (a Slack channel or DM, a Telegram chat)."""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import pytest
from telegram import Bot

from bot.delivery import BOT_JITTER, Dispatcher, Window, platform_limits
from bot.slack.render import render as slack_render
from bot.slack.sender import ChannelPacer, SlackSender, sender_client
from bot.telegram.render import render as telegram_render
from bot.telegram.sender import TelegramSender
from crm_store.store import Store
from handlers.messages import ListItem, Reply, reply_to_dict
from tests.conftest import FakeClock
from tests.fakes.slack_api import Call as SlackCall
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.fakes.telegram_api import Call as TelegramCall

SLACK_TOKEN = "xoxb-test-token"
# Messages per chat: Slack channels and DMs (a user id: the sender opens the DM); Telegram private
# chats and a group (negative id: 20/min); and a broadcast, one message to each of 70 Telegram
# chats queued together (reminders falling due at once), which only the 30/s overall limit paces.
SLACK_CHATS = {"C0SALES": 25, "C0SUPPORT": 20, "C0OPS": 15, "U0REP": 12, "U0MGR": 12}
TELEGRAM_CHATS = {"1001": 20, "1002": 20, "1003": 15, "1004": 15, "-2002": 25}
BROADCAST = [str(5000 + n) for n in range(70)]
BROADCAST_AT = 40  # the broadcast's place in the queue
# The platforms' own limits (../shared/RELIABILITY.md), checked besides the dispatcher's windows
# (platform_limits, a little longer), so that weakening those cannot pass unnoticed.
TELEGRAM_CHAT, TELEGRAM_GROUP, TELEGRAM_OVERALL = Window(1, 1.0), Window(20, 60.0), Window(30, 1.0)
SLACK_CHANNEL = Window(1, 1.0)
TOLERANCE = 1e-3  # the fake clock keeps microseconds: a float wait can land a microsecond short
TEXT = re.compile(r"^(?P<target>-?\w+) #(?P<seq>\d+)$")


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request to a platform for a chat, as the fake recorded it."""

    chat: str  # the outbox target (a Slack DM is posted to "D" + the user id)
    text: str
    at: float
    status: int
    retry_after: int | None


@pytest.fixture
async def fake_tg(clock: FakeClock) -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi(clock=lambda: clock.now.timestamp()).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_slack(clock: FakeClock) -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi(clock=lambda: clock.now.timestamp()).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bot(fake_tg: FakeTelegramApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=fake_tg.url) as started:  # getMe on the fake
        yield started


def _plan() -> list[tuple[str, str, int]]:
    """(platform, target, sequence number) in enqueue order: the busy chats interleaved at random
    (a fixed seed), each chat's own messages in order, and the broadcast in one block."""
    queues = [("slack", target, count) for target, count in SLACK_CHATS.items()]
    queues += [("telegram", target, count) for target, count in TELEGRAM_CHATS.items()]
    next_seq = dict.fromkeys(((p, t) for p, t, _ in queues), 0)
    pool = [(p, t) for p, t, count in queues for _ in range(count)]
    random.Random(429).shuffle(pool)
    plan = []
    for platform, target in pool:
        plan.append((platform, target, next_seq[platform, target]))
        next_seq[platform, target] += 1
    plan[BROADCAST_AT:BROADCAST_AT] = [("telegram", target, 0) for target in BROADCAST]
    return plan


def _attempts(calls: Iterable[SlackCall | TelegramCall], *, chat_param: str) -> list[Attempt]:
    found = []
    for call in calls:
        text = str(call.params["text"])
        match = TEXT.match(text)
        assert match is not None, text
        target = match["target"]
        posted_to = str(call.params[chat_param])
        assert posted_to in (target, f"D{target}"), (posted_to, target)  # each row went to its chat
        found.append(Attempt(target, text, call.at, call.status, call.retry_after))
    return found


def _most_in_window(times: Sequence[float], seconds: float) -> int:
    """The most sends in any window ``seconds`` long (less the clock's rounding)."""
    ordered, most, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= seconds - TOLERANCE:
            start += 1
        most = max(most, end - start + 1)
    return most


def _platform_facts(platform: str, chat: str) -> list[tuple[str, Window]]:
    """Like platform_limits, the (key, window) pairs a send counts against, as the platform sets them."""
    if platform == "slack":
        return [(f"slack:{chat}", SLACK_CHANNEL)]
    facts = [(f"telegram:{chat}", TELEGRAM_CHAT), ("telegram", TELEGRAM_OVERALL)]
    if chat.startswith("-"):
        facts.append((f"telegram:{chat}:minute", TELEGRAM_GROUP))
    return facts


def _limits_kept(label: str, platform: str, attempts: Sequence[Attempt]) -> dict[str, int]:
    """Asserts that no sliding window holds more sends than the platform's limits and than the
    dispatcher's own windows allow; the most seen in a window, per kind of window."""
    most: dict[str, int] = {}
    for source, limits in (("platform", _platform_facts), ("dispatcher", platform_limits)):
        times: dict[str, list[float]] = defaultdict(list)
        windows: dict[str, Window] = {}
        for attempt in attempts:
            for key, window in limits(platform, attempt.chat):
                times[key].append(attempt.at)
                windows[key] = window
        for key, at in times.items():
            window = windows[key]
            seen = _most_in_window(at, window.seconds)
            assert seen <= window.count, (
                f"{label}: {seen} sends to {key} within {window.seconds} s ({source})"
            )
            kind = "overall" if key == platform else "group" if key.endswith(":minute") else "chat"
            name = f"{label} {kind} {window.count}/{window.seconds:g}s"
            most[name] = max(most.get(name, 0), seen)
    return most


def _retry_after_kept(attempts: list[Attempt]) -> tuple[int, int]:
    """Asserts that after a 429 for a chat at t with Retry-After N, that chat's next request comes at
    t + N or later. Returns (429s checked, 429s during which another chat of the platform got a
    message through: the pause is the chat's, not the platform's)."""
    by_chat: dict[str, list[Attempt]] = defaultdict(list)
    for attempt in attempts:  # the fakes record in arrival order
        by_chat[attempt.chat].append(attempt)
    checked = overlapped = 0
    for chat, tries in by_chat.items():
        for limited, following in itertools.pairwise(tries):
            if limited.status != 429:
                continue
            assert limited.retry_after is not None
            checked += 1
            assert following.text == limited.text, f"{chat}: {following.text} overtook {limited.text}"
            assert following.at >= limited.at + limited.retry_after - TOLERANCE, (
                f"{chat}: asked at {limited.at:.3f} to wait {limited.retry_after} s, "
                f"came back {following.at - limited.at:.3f} s later"
            )
            until = limited.at + limited.retry_after
            overlapped += any(
                a.chat != chat and a.status == 200 and limited.at < a.at < until for a in attempts
            )
        assert tries[-1].status == 200, f"{chat}: the last request was refused and never retried"
    return checked, overlapped


def _fake_time(clock: FakeClock) -> tuple[Callable[[], float], Callable[[float], Awaitable[None]]]:
    def now() -> float:
        return clock.now.timestamp()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    return now, sleep


async def test_a_429_storm_delivers_everything_once_in_order_within_the_limits(
    store: Store,
    clock: FakeClock,
    fake_tg: FakeTelegramApi,
    fake_slack: FakeSlackApi,
    bot: Bot,
) -> None:
    plan = _plan()
    async with store.write("test") as tx:
        for n, (platform, target, seq) in enumerate(plan):
            await tx.outbox.enqueue(
                platform=platform,
                target=target,
                payload=reply_to_dict(Reply(text=f"{target} #{seq:03d}")),
                key=f"storm-{n}",
            )

    now, fake_sleep = _fake_time(clock)
    slack = SlackSender(
        sender_client(token=SLACK_TOKEN, api_url=fake_slack.url),
        pacer=ChannelPacer(clock=now, sleep=fake_sleep),
    )
    dispatcher = Dispatcher.of(store, [slack, TelegramSender(bot)], clock=now, sleep=fake_sleep)
    # Bursts of consecutive 429s on Telegram, every 4th post on Slack; waits shorter and longer
    # than the dispatcher's max_sleep (2 s) and than Telegram's per-chat window (1.1 s).
    tg_storm = fake_tg.storm("sendMessage", every=7, burst=3, retry_after=(1, 3, 2, 5))
    slack_storm = fake_slack.storm("chat.postMessage", every=4, burst=1, retry_after=(1, 2, 3))

    started = now()
    for _ in range(600):  # one pass per second of platform time; the storm needs a few minutes
        await dispatcher.run_once()
        async with store.read() as tx:
            if (await tx.outbox.counts())["sent"] == len(plan):
                break
        clock.advance(seconds=1)
    elapsed = now() - started

    # Every row sent once, with its message id, and no 429 spent an attempt (none could be parked).
    async with store.read() as tx:
        rows = await tx.outbox.listing(limit=len(plan) + 1)
    assert len(rows) == len(plan)
    assert Counter(r.state for r in rows) == Counter({"sent": len(plan)})
    assert all(r.sent_message_id and r.attempts == 1 for r in rows)

    tg = _attempts(fake_tg.of("sendMessage", status=None), chat_param="chat_id")
    sl = _attempts(fake_slack.of("chat.postMessage", status=None), chat_param="channel")
    assert {a.status for a in tg + sl} == {200, 429}
    tg_ok = [a for a in tg if a.status == 200]
    sl_ok = [a for a in sl if a.status == 200]
    # The fakes saw each message succeed exactly once.
    expected = Counter(f"{target} #{seq:03d}" for _, target, seq in plan)
    assert Counter(a.text for a in tg_ok + sl_ok) == expected
    assert len(tg_ok) == sum(TELEGRAM_CHATS.values()) + len(BROADCAST)
    assert len(sl_ok) == sum(SLACK_CHATS.values())
    # The storm really raged, on both platforms.
    assert tg_storm.served == len(tg) - len(tg_ok) >= 80
    assert slack_storm.served == len(sl) - len(sl_ok) >= 20

    # In order per chat.
    broadcast = dict.fromkeys(BROADCAST, 1)
    for chats, ok in ((TELEGRAM_CHATS | broadcast, tg_ok), (SLACK_CHATS, sl_ok)):
        for chat, count in chats.items():
            assert [a.text for a in ok if a.chat == chat] == [f"{chat} #{seq:03d}" for seq in range(count)]

    # Retry-After honoured, per chat; meanwhile other chats of the same platform got through.
    tg_checked, tg_overlapped = _retry_after_kept(tg)
    sl_checked, sl_overlapped = _retry_after_kept(sl)
    assert tg_checked == tg_storm.served and sl_checked == slack_storm.served
    assert tg_overlapped > 0 and sl_overlapped > 0

    # Telegram's limits on the successful sends and on every request (Telegram counts the refused
    # ones too); Slack's 1/s per channel.
    most = _limits_kept("telegram sent", "telegram", tg_ok)
    most |= _limits_kept("telegram all", "telegram", tg)
    most |= _limits_kept("slack all", "slack", sl)
    # The overall limit was reached (the broadcast wants to go at once), never passed.
    assert most[f"telegram all overall 30/{1.0 + BOT_JITTER:g}s"] >= 25
    assert elapsed < 300  # a storm costs minutes of platform time, not backoffs of a quarter hour

    print(
        f"\nstorm: {len(plan)} messages ({len(tg_ok)} telegram, {len(sl_ok)} slack) in {elapsed:.1f} s "
        f"of platform time; 429s served: telegram {tg_storm.served} of {len(tg)} requests, "
        f"slack {slack_storm.served} of {len(sl)}; most per window: {most}"
    )


async def test_a_reply_in_parts_hit_by_a_429_part_way_posts_each_part_once(
    store: Store, clock: FakeClock, fake_tg: FakeTelegramApi, fake_slack: FakeSlackApi, bot: Bot
) -> None:
    digest = Reply(title="Digest", text="rows", items=tuple(ListItem(f"row {n}") for n in range(120)))
    charted = Reply(text="your order shipped", image=b"\x89PNG fake", image_name="chart.png")
    async with store.write("test") as tx:
        await tx.outbox.enqueue(platform="slack", target="C0SALES", payload=reply_to_dict(digest), key="d")
        await tx.outbox.enqueue(platform="telegram", target="1001", payload=reply_to_dict(charted), key="c")
    now, fake_sleep = _fake_time(clock)
    slack = SlackSender(
        sender_client(token=SLACK_TOKEN, api_url=fake_slack.url),
        pacer=ChannelPacer(clock=now, sleep=fake_sleep),
    )
    telegram = TelegramSender(bot, sleep=fake_sleep)
    dispatcher = Dispatcher.of(store, [slack, telegram], clock=now, sleep=fake_sleep)
    fake_slack.storm("chat.postMessage", every=2, burst=1)  # the digest's pages 2, 4, 6, ...
    fake_tg.rate_limit("sendMessage", times=1, retry_after=1)  # the text after the photo
    for _ in range(30):
        await dispatcher.run_once()
        clock.advance(seconds=1)
    pages = [page["blocks"] for page in slack_render(digest)]
    assert len(pages) > 1
    assert [c.params["blocks"] for c in fake_slack.of("chat.postMessage")] == pages
    assert len(fake_tg.of("sendPhoto")) == 1
    assert [c.params["text"] for c in fake_tg.of("sendMessage")] == [m.text for m in telegram_render(charted)]
