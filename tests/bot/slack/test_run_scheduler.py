"""`crm-bot run` and `crm-bot digest --now` as real processes against the fake Slack Web API: a due
reminder reaches the rep's DM within a tick of its time, once, and its buttons work when pressed
the way Slack sends presses; the digest goes out with its chart through files_upload_v2."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import run_cli, start_run
from tests.bot.slack.conftest import MANAGER, REP, SECRET, SlackRequests
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, Call, FakeSlackApi

TICK = 1.0  # CRM_TICK_SECONDS: the reminder tick and the delivery loop's
DUE_IN = 3.0  # seconds: "remind acme in 3 seconds: ..."
# How long a test waits for what must come: generous, so a loaded machine is slow, not failing.
WAIT = 60.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REMINDER_BUTTONS = ["Done", "Snooze 1h", "Snooze tomorrow", "Open customer"]


def _settings(fake: FakeSlackApi, database: str) -> dict[str, str]:
    return {
        "CRM_DATABASE_URL": database,
        "SLACK_BOT_TOKEN": "xoxb-run-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
        "CRM_MANAGERS": MANAGER,
        "CRM_TICK_SECONDS": str(TICK),
    }


@contextlib.asynccontextmanager
async def _running(
    tmp_path: Path, fake: FakeSlackApi, data_dir: Path, database: str
) -> AsyncIterator[SlackRequests]:
    """`crm-bot run` with Slack in HTTP mode; signed requests to it; terminated however the block
    ends. Its stderr is drained (a full pipe would stall the bot) and shown if the block fails."""
    process, _, url = await start_run(tmp_path, data_dir, **_settings(fake, database))
    assert process.stderr is not None
    stderr = process.stderr
    logged: list[str] = []

    async def drain() -> None:
        async for line in stderr:
            logged.append(line.decode(errors="replace"))

    drainer = asyncio.create_task(drain())
    try:
        async with httpx.AsyncClient(base_url=url, trust_env=False) as http:
            yield SlackRequests(http, fake)
    except BaseException as exc:
        exc.add_note("crm-bot run stderr (last lines):\n" + "".join(logged[-40:]))
        raise
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=15)
        await asyncio.wait_for(drainer, timeout=5)


async def _say(slack: SlackRequests, text: str, *, user: str = REP) -> tuple[Call, float, float]:
    """A /crm command: its response_url answer, and monotonic times before sending and at the ack."""
    answered = len(slack.fake.of("response_url"))
    sent = time.monotonic()
    response = await slack.command(text, user=user)
    acked = time.monotonic()
    assert response.status_code == 200, (text, response.status_code)
    answer = (await slack.fake.wait_for("response_url", answered + 1, within=WAIT))[answered]
    return answer, sent, acked


def _text(blocks: list[dict[str, Any]]) -> str:
    """Everything a person reads in blocks: section texts and fields, headers, context."""
    parts: list[str] = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e["text"] for e in block.get("elements", []) if e.get("type") in ("mrkdwn", "plain_text")]
    return "\n".join(parts)


def _controls(
    blocks: list[dict[str, Any]],
) -> list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]]:
    """(label, block, element, overflow option or None) of every button a message shows, in order."""
    found: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any] | None]] = []
    for block in blocks:
        elements = list(block.get("elements", [])) if block.get("type") == "actions" else []
        if "accessory" in block:
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button":
                found.append((element["text"]["text"], block, element, None))
            elif element.get("type") == "overflow":
                found += [(option["text"]["text"], block, element, option) for option in element["options"]]
    return found


class Presser:
    """Presses buttons of a message the bot posted, with the block_actions payload Slack sends:
    the message as Slack stores it (block ids filled in), its container, and one action built
    from the pressed element as it was posted."""

    def __init__(self, slack: SlackRequests, posted: Call) -> None:
        self.slack = slack
        self.channel = str(posted.params["channel"])
        self.ts = f"{time.time():.6f}"
        # Slack gives blocks posted without a block_id one of its own, and echoes it back.
        self.blocks = [{"block_id": f"blk{n}", **b} for n, b in enumerate(posted.params["blocks"])]
        self.message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": "BBOT",
            "app_id": "A0001",
            "team": TEAM_ID,
            "ts": self.ts,
            "text": posted.params.get("text", ""),
            "blocks": self.blocks,
        }
        self._n = 0

    def labels(self) -> list[str]:
        return [label for label, *_ in _controls(self.blocks)]

    def action(self, label: str) -> dict[str, Any]:
        matches = [found[1:] for found in _controls(self.blocks) if found[0] == label]
        assert len(matches) == 1, (label, self.labels())
        block, element, option = matches[0]
        now = f"{time.time():.6f}"
        if option is None:
            action = {k: v for k, v in element.items() if k in ("action_id", "text", "value", "style")}
            return {**action, "block_id": block["block_id"], "type": "button", "action_ts": now}
        return {
            "action_id": element["action_id"],
            "block_id": block["block_id"],
            "selected_option": option,
            "type": "overflow",
            "action_ts": now,
        }

    async def press(self, label: str, *, user: str = REP) -> Call:
        """Press ``label``; the bot's answer to the press's response_url."""
        self._n += 1
        key = f"press-{self._n}"
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID},
            "api_app_id": "A0001",
            "token": "legacy",
            "container": {
                "type": "message",
                "message_ts": self.ts,
                "channel_id": self.channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"trigger-{key}",
            "team": {"id": TEAM_ID, "domain": "example"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": self.channel, "name": "directmessage"},
            "message": self.message,
            "state": {"values": {}},
            "response_url": self.slack.fake.response_url(key),
            "actions": [self.action(label)],
        }
        fake = self.slack.fake
        answered = len(fake.of("response_url"))
        response = await self.slack.interaction(payload)
        assert response.status_code == 200, (label, response.status_code)
        answer = (await fake.wait_for("response_url", answered + 1, within=WAIT))[answered]
        assert answer.params["response_key"] == key
        return answer


def _reminder_posts(fake: FakeSlackApi, reminder_id: str) -> list[Call]:
    return [c for c in fake.of("chat.postMessage") if f"Reminder #{reminder_id}" in str(c.params.get("text"))]


async def _wait_for_reminder(fake: FakeSlackApi, reminder_id: str) -> Call:
    deadline = time.monotonic() + WAIT
    while not _reminder_posts(fake, reminder_id):
        assert time.monotonic() < deadline, f"reminder #{reminder_id} never came: {fake.calls}"
        await fake.wait_for("chat.postMessage", len(fake.of("chat.postMessage")) + 1, within=WAIT)
    return _reminder_posts(fake, reminder_id)[0]


async def test_a_due_reminder_reaches_the_rep_once_when_due_and_its_buttons_work(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    classifier: SentimentClassifier,
    crm_data_dir: Path,
    empty_db_url: str,
) -> None:
    async with _running(tmp_path, fake_slack, crm_data_dir, empty_db_url) as slack:
        added, _, _ = await _say(slack, "add Acme Corp email=ops@acme.example")
        customer = re.search(r"Acme Corp \(#(\d+)\)", _text(added.params["blocks"]))
        assert customer is not None, added.params
        customer_id = customer.group(1)

        set_up, sent, acked = await _say(slack, "remind acme in 3 seconds: call back")
        confirmation = _text(set_up.params["blocks"])
        reminder = re.search(r"\(reminder #(\d+)\)", confirmation)
        assert reminder is not None and f"Acme Corp (#{customer_id})" in confirmation, confirmation
        reminder_id = reminder.group(1)
        assert not fake_slack.of("chat.postMessage")  # nothing pushed before it is due

        # The handler fixes the due time right after the bot acks: due ~ ack + 3 s, surely after send + 3 s.
        # How late it comes depends on the machine's load: printed, not bounded (a tick is 1 s).
        due = acked + DUE_IN
        posted = await _wait_for_reminder(fake_slack, reminder_id)
        assert fake_slack.of("chat.postMessage") == [posted]
        print(
            f"reminder latency: {posted.at - due:.3f} s after ack+{DUE_IN:.0f} s "
            f"({posted.at - sent - DUE_IN:.3f} s after send+{DUE_IN:.0f} s; ack took {acked - sent:.3f} s)"
        )
        assert posted.at >= sent + DUE_IN, "the reminder came before it was due"

        # Into the rep's DM, opened with conversations.open (uploads and buttons need its channel id).
        opened = fake_slack.of("conversations.open")
        assert [c.params["users"] for c in opened] == [REP]
        assert posted.params["channel"] == f"D{REP}"
        blocks = posted.params["blocks"]
        assert blocks[0] == {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Reminder #{reminder_id}", "emoji": True},
        }
        assert "call back" in _text(blocks) and f"About Acme Corp (#{customer_id})" in _text(blocks)
        presser = Presser(slack, posted)
        assert presser.labels() == REMINDER_BUTTONS

        # A second reminder, due 3 s (three ticks) later: by the time it arrives, the ticks that
        # would have pushed the first one again have run. The first, claimed when queued, came once.
        later, _, _ = await _say(slack, "remind acme in 3 seconds: second thought")
        second = re.search(r"\(reminder #(\d+)\)", _text(later.params["blocks"]))
        assert second is not None and second.group(1) != reminder_id
        await _wait_for_reminder(fake_slack, second.group(1))
        assert len(_reminder_posts(fake_slack, reminder_id)) == 1
        assert len(_reminder_posts(fake_slack, second.group(1))) == 1
        assert len(fake_slack.of("chat.postMessage")) == 2
        closed, _, _ = await _say(slack, f"done {second.group(1)}")
        assert _text(closed.params["blocks"]) == f"Done: reminder #{second.group(1)} (second thought)."

        snoozed = _text((await presser.press("Snooze 1h")).params["blocks"])
        assert snoozed.startswith(f"Snoozed reminder #{reminder_id} until "), snoozed

        card = (await presser.press("Open customer")).params["blocks"]
        assert card[0]["type"] == "header" and card[0]["text"]["text"] == f"Acme Corp (#{customer_id})"
        assert "ops@acme.example" in _text(card)

        listed, _, _ = await _say(slack, "reminders")
        assert f"#{reminder_id} call back" in _text(listed.params["blocks"])  # open, due in an hour

        done = _text((await presser.press("Done")).params["blocks"])
        assert done == f"Done: reminder #{reminder_id} (call back).", done

        listed, _, _ = await _say(slack, "reminders")
        remaining = _text(listed.params["blocks"])
        assert "call back" not in remaining and f"#{reminder_id}" not in remaining, remaining
        assert remaining.startswith("No open reminders"), remaining

        assert len(_reminder_posts(fake_slack, reminder_id)) == 1  # snoozed an hour, then done: never re-sent


async def test_digest_now_posts_the_digest_and_uploads_its_chart(
    tmp_path: Path,
    fake_slack: FakeSlackApi,
    classifier: SentimentClassifier,
    crm_data_dir: Path,
    empty_db_url: str,
) -> None:
    # Some data and a subscription, through Slack, by the bot itself; it is stopped before the
    # digest runs (SQLite: one process writes).
    async with _running(tmp_path, fake_slack, crm_data_dir, empty_db_url) as slack:
        for command in (
            "add Acme Corp email=ops@acme.example",
            "add Globex Inc email=info@globex.example",
            "log acme call: great call, they love the new dashboard",
            "log globex email: they are unhappy about the late delivery",
            "order acme 1200 annual licence",
            "open-ticket globex: wrong VAT on invoice",
        ):
            answer, _, _ = await _say(slack, command)
            assert ":warning:" not in _text(answer.params["blocks"]), (command, answer.params)
        subscribed, _, _ = await _say(slack, "subscribe digest daily", user=MANAGER)
        assert _text(subscribed.params["blocks"]).startswith("Subscribed: the digest comes daily at 08:00")
    assert not fake_slack.of("chat.postMessage")  # the subscription's current day counts as sent
    before = len(fake_slack.calls)

    started = time.monotonic()
    code, out, err = await run_cli(
        tmp_path, crm_data_dir, "digest", "--now", **_settings(fake_slack, empty_db_url)
    )
    print(f"crm-bot digest --now took {time.monotonic() - started:.2f} s")
    assert code == 0, err
    assert "Queued 1 digest(s); sent 1 now" in out, (out, err)

    calls = fake_slack.calls[before:]
    assert [c.method for c in calls] == [
        "conversations.open",
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    assert all(c.status == 200 for c in calls)
    opened, posted, step1, upload, complete = calls
    dm = f"D{MANAGER}"
    assert opened.params["users"] == MANAGER

    # The digest's text: its figures as fields, in the manager's DM.
    assert posted.params["channel"] == dm
    text = _text(posted.params["blocks"])
    assert posted.params["blocks"][0]["text"]["text"] == "Daily digest"
    for figure in (
        "*New customers*\n2",
        "*Orders*\n1 · $1,200.00",
        "*Tickets*\n1 opened, 0 resolved",
        "Sam Rep: 2 interactions",
        "Chart: digest-trend.png",
    ):
        assert figure in text, (figure, text)
    assert "(America/New_York)" in text  # the manager's zone, from users.info

    # The chart: files.getUploadURLExternal, the bytes to its upload_url, then completeUploadExternal.
    assert step1.params["filename"] == "digest-trend.png"
    file_id = upload.params["file_id"]
    png = fake_slack.uploads[file_id]
    assert png.startswith(PNG_SIGNATURE), png[:16]
    assert int(step1.params["length"]) == len(png) == upload.params["size"]
    assert complete.params["channel_id"] == dm
    files = complete.params["files"]
    listed = json.loads(files) if isinstance(files, str) else files
    assert [f["id"] for f in listed] == [file_id]
    assert listed[0]["title"] == "Daily digest"

    # Sent once: a second --now would send again (it is asked for), but nothing is left queued.
    code, out, err = await run_cli(tmp_path, crm_data_dir, "outbox", **_settings(fake_slack, empty_db_url))
    assert code == 0, err
    assert "pending=0" in out and "failed=0" in out, out
