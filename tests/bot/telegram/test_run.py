"""`crm-bot run` with Slack and Telegram against both fakes: the whole support conversation
through the public interfaces (Telegram updates, signed Slack requests, the outbox loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import start_run
from tests.bot.slack.conftest import REP, SECRET, SlackRequests
from tests.bot.telegram.conftest import SUPPORT
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

CARLA = 555


@pytest.fixture
async def live_tg() -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi().start()
    yield fake
    await fake.stop()


async def _start(
    tmp_path: Path, slack: FakeSlackApi, tg: FakeTelegramApi, data_dir: Path
) -> tuple[asyncio.subprocess.Process, str]:
    process, line, url = await start_run(
        tmp_path,
        data_dir,
        SLACK_BOT_TOKEN="xoxb-run-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.url,
        SLACK_SUPPORT_CHANNEL=SUPPORT,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=tg.url,
        CRM_TICK_SECONDS="0.2",
        # The rating request must not wait for the morning when the suite runs at night (real clock).
        CRM_QUIET_HOURS="off",
    )
    assert "Telegram (long polling)" in line, line
    return process, url


async def test_crm_bot_run_relays_a_ticket_between_telegram_and_slack(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    live_tg: FakeTelegramApi,
    classifier: SentimentClassifier,
    crm_data_dir: Path,
) -> None:
    fake_slack.add_user(REP, "Sam Rep")
    process, url = await _start(tmp_path, fake_slack, live_tg, crm_data_dir)
    try:
        live_tg.queue(live_tg.message_update(CARLA, "/ticket Screen is broken\nIt flickers"))
        post = next(
            c for c in await fake_slack.wait_for("chat.postMessage") if c.params["channel"] == SUPPORT
        )
        assert "Screen is broken" in post.params["text"]

        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            slack = SlackRequests(http, fake_slack)
            assert (await slack.command("reply 1 A replacement ships today")).status_code == 200
            calls = await live_tg.wait_for("sendMessage", 2)
            assert (
                calls[-1].params["chat_id"] == str(CARLA)
                and "A replacement ships today" in calls[-1].params["text"]
            )

            live_tg.queue(live_tg.message_update(CARLA, "Great, thanks"))
            threaded = await fake_slack.wait_for("chat.postMessage", 2)
            assert threaded[-1].params.get("thread_ts") and "Great, thanks" in threaded[-1].params["text"]

            await slack.command("resolve 1")
            csat = (await live_tg.wait_for("sendMessage", 4))[-1]
            assert "How did we do?" in csat.params["text"]
            live_tg.queue(live_tg.callback_update(CARLA, "crm:csat:1-5", message_id=99))
            edit = (await live_tg.wait_for("editMessageText"))[0]
            assert "5/5" in edit.params["text"]
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert TOKEN not in err.decode() and "Screen is broken" not in err.decode()
