"""A `crm-bot run` killed (SIGKILL) in the middle of a send: a second process takes the stranded
claims over within the short lease, and the chats' later messages follow within seconds, each
exactly once and in order (on SQLite and on PostgreSQL, real processes against the fake Bot API).
Stopped with SIGTERM instead, it gives its claims back before it exits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from crm_store.migrate import upgrade
from crm_store.outbox import OutboxRow
from crm_store.store import Store
from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import start_run
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

# Messages per chat, queued before the first process starts. The first message of BUSY is the
# send in flight when the process dies; the rest of BUSY, and QUIET's, wait behind it.
BUSY, QUIET = "777", "888"
QUEUE = {BUSY: 6, QUIET: 3}
# Far below the two minutes a stranded claim used to block its chat, far above the short lease
# (15 s) plus a tick and the pacing of 1 message/s per chat, even on a loaded machine.
RECOVERY_BOUND = 90.0


@pytest.fixture
async def live_tg() -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi().start()
    yield fake
    await fake.stop()


async def _queue(url: str) -> None:
    store = Store.open(url)
    try:
        await upgrade(store.engine)
        async with store.write("test") as tx:
            for n in range(max(QUEUE.values())):  # interleaved, as pushes are queued
                for chat, count in QUEUE.items():
                    if n < count:
                        await tx.outbox.enqueue(
                            platform="telegram",
                            target=chat,
                            payload={"text": f"{chat}-m{n}"},
                            key=f"{chat}:{n}",
                        )
    finally:
        await store.close()


async def _start(tmp_path: Path, data_dir: Path, tg: FakeTelegramApi, url: str) -> asyncio.subprocess.Process:
    process, _, _ = await start_run(
        tmp_path,
        data_dir,
        CRM_DATABASE_URL=url,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=tg.url,
        # Webhook mode: no poller, so nothing but the outbox talks to the fake.
        TELEGRAM_WEBHOOK_URL="https://crm.example/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET="recovery-test",
        CRM_TICK_SECONDS="1",
    )
    return process


async def _outbox(url: str) -> list[OutboxRow]:
    store = Store.open(url)
    try:
        async with store.read() as tx:
            return await tx.outbox.listing()
    finally:
        await store.close()


async def _a_stopped_sender_holds_up_its_chats_for_seconds_only(
    tmp_path: Path, data_dir: Path, tg: FakeTelegramApi, url: str, *, kill: bool = True
) -> None:
    await _queue(url)
    in_flight = tg.hold("sendMessage")  # the first send never gets its answer
    first = await _start(tmp_path, data_dir, tg, url)
    try:
        await asyncio.wait_for(in_flight.wait(), 60)
        assert [c.params["text"] for c in tg.held] == [f"{BUSY}-m0"]
    finally:
        if kill:
            first.kill()
            await first.wait()
        else:
            first.terminate()
            await asyncio.wait_for(first.communicate(), timeout=60)
    stopped_at = time.monotonic()
    if not kill:  # a clean stop: nothing left claimed for the next process to wait out
        assert first.returncode == 0
        assert [r.payload["text"] for r in await _outbox(url) if r.state == "sending"] == []
    second = await _start(tmp_path, data_dir, tg, url)
    try:
        total = sum(QUEUE.values())
        calls = await tg.wait_for(
            "sendMessage", total, within=RECOVERY_BOUND - (time.monotonic() - stopped_at)
        )
        recovered_in = max(c.at for c in calls) - stopped_at
    finally:
        second.terminate()
        await asyncio.wait_for(second.communicate(), timeout=60)
    # Each message exactly once (the unanswered send counts as not delivered), in order per chat.
    for chat, count in QUEUE.items():
        assert [c.params["text"] for c in calls if c.params["chat_id"] == chat] == [
            f"{chat}-m{n}" for n in range(count)
        ]
    assert len(tg.of("sendMessage")) == total
    rows = await _outbox(url)
    assert all(r.state == "sent" and r.sent_message_id for r in rows)
    if kill:  # claimed twice: the killed process's batch (each chat's first row, QUIET's never tried)
        assert {r.payload["text"]: r.attempts for r in rows if r.attempts != 1} == {
            f"{chat}-m0": 2 for chat in QUEUE
        }
    print(f"\nrecovery: the chats' {total} messages all arrived {recovered_in:.1f} s after the stop")


async def test_a_process_killed_mid_send_holds_up_its_chats_for_seconds_only_on_sqlite(
    tmp_path: Path, live_tg: FakeTelegramApi, classifier: SentimentClassifier, crm_data_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    await _a_stopped_sender_holds_up_its_chats_for_seconds_only(tmp_path, crm_data_dir, live_tg, url)


async def test_a_replica_killed_mid_send_holds_up_its_chats_for_seconds_only_on_postgres(
    tmp_path: Path,
    pg_url: str,
    live_tg: FakeTelegramApi,
    classifier: SentimentClassifier,
    crm_data_dir: Path,
) -> None:
    await _a_stopped_sender_holds_up_its_chats_for_seconds_only(tmp_path, crm_data_dir, live_tg, pg_url)


async def test_a_process_stopped_with_sigterm_mid_send_gives_its_claims_back_before_it_exits(
    tmp_path: Path, live_tg: FakeTelegramApi, classifier: SentimentClassifier, crm_data_dir: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    await _a_stopped_sender_holds_up_its_chats_for_seconds_only(
        tmp_path, crm_data_dir, live_tg, url, kill=False
    )
