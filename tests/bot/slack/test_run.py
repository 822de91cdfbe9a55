"""`crm-bot run` with Slack configured: the real process serves signed requests against the fake Slack API."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import start_run
from tests.bot.slack.conftest import REP, SECRET, SlackRequests
from tests.fakes.slack_api import FakeSlackApi


async def _start(
    tmp_path: Path, fake: FakeSlackApi, data_dir: Path, database: str
) -> tuple[asyncio.subprocess.Process, str]:
    process, _, url = await start_run(
        tmp_path,
        data_dir,
        CRM_DATABASE_URL=database,
        SLACK_BOT_TOKEN="xoxb-run-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=fake.url,
    )
    return process, url


async def test_crm_bot_run_serves_slack(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    classifier: SentimentClassifier,
    crm_data_dir: Path,
    empty_db_url: str,
) -> None:
    process, url = await _start(tmp_path, fake_slack, crm_data_dir, empty_db_url)
    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            assert (await http.get("/healthz")).json() == {"ok": True}
            slack = SlackRequests(http, fake_slack)
            await slack.command("add Acme Corp email=ops@acme.example")
            await fake_slack.wait_for("response_url")

            response = await slack.command("find acmee corp")
            assert response.status_code == 200 and response.text == ""
            found = (await fake_slack.wait_for("response_url", 2))[-1]
            assert "Acme Corp (#1)" in str(found.params["blocks"])

            await slack.press("crm:show:1")
            card = (await fake_slack.wait_for("response_url", 3))[-1]
            assert card.params["blocks"][0]["text"]["text"] == "Acme Corp (#1)"

            body = slack.command_body("add Mallory")
            unsigned = await slack.post(body, "application/x-www-form-urlencoded", signed=False)
            assert unsigned.status_code == 401

            for retry in (None, "1", "2"):
                headers = (
                    {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
                )
                event = {
                    "type": "message",
                    "channel": "D0DM",
                    "channel_type": "im",
                    "user": REP,
                    "text": "log acme note: retried once",
                    "ts": "1700000000.1",
                }
                assert (await slack.event(event, event_id="EvRun", headers=headers)).status_code == 200
            await fake_slack.wait_for("chat.postMessage")
            # A later, different event: once its answer is in, a duplicate would have come too.
            later = {**event, "text": "show acme", "ts": "1700000000.2"}
            assert (await slack.event(later, event_id="EvRunLater")).status_code == 200
            posted = await fake_slack.wait_for("chat.postMessage", 2)
            assert ["Logged a note" in str(c.params) for c in posted] == [True, False]
            assert posted[1].params["blocks"][0]["text"]["text"] == "Acme Corp (#1)"
            assert len(fake_slack.of("response_url")) == 3  # the unsigned request reached nothing
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)
