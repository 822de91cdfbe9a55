"""POST /slack/events refuses what Slack would not send, before bolt parses it: unsigned or badly
signed -> 401, signed but malformed -> 400, too large -> 413, a signature used before -> 401; each
with one log line and no traceback, and nothing stored."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from bot.http import build_asgi
from bot.slack.adapter import SlackFrontEnd, SlackSettings
from bot.slack.gate import MAX_BODY_BYTES, SIGNATURES
from crm_store.store import Store
from crm_store.tables import interactions, metadata, processed_events
from handlers.jobs import JobSettings, purge_housekeeping
from handlers.messages import Actor, Message
from handlers.router import Router
from tests.bot.slack.conftest import MANAGER, REP, SECRET, TOKEN, SlackRequests
from tests.conftest import FakeClock
from tests.fakes.slack_api import TEAM_ID, FakeSlackApi

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign(raw: bytes, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """Slack's scheme over raw bytes (any bytes, so non-UTF-8 bodies can be signed too)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def interaction(payload: Any) -> str:
    return urlencode({"payload": json.dumps(payload)})


def press(actions: Any) -> str:
    return interaction(
        {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": REP, "team_id": TEAM_ID},
            "trigger_id": "trigger-x",
            "channel": {"id": "C0SALES"},
            "actions": actions,
        }
    )


def event_envelope(event: Any, *, event_id: Any = "EvG1") -> str:
    return json.dumps({"type": "event_callback", "team_id": TEAM_ID, "event": event, "event_id": event_id})


async def row_counts(store: Store) -> dict[str, int]:
    async with store.read() as tx:
        return {
            table.name: int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in metadata.sorted_tables
        }


def gate_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("refused a Slack request")]


def assert_quiet_refusal(caplog: pytest.LogCaptureFixture) -> None:
    """One warning saying it was refused, and nothing with a traceback or at ERROR anywhere."""
    assert [r.levelname for r in gate_lines(caplog)] == ["WARNING"]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.fixture
async def http(frontend: SlackFrontEnd) -> AsyncIterator[httpx.AsyncClient]:
    """The app as the server runs it; a crash shows as a 500 here instead of raising in the test."""
    assert frontend.http_handler is not None
    transport = httpx.ASGITransport(
        app=build_asgi(slack=frontend.http_handler.handle), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, raw: bytes, content_type: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await http.post(
        "/slack/events", content=raw, headers={"Content-Type": content_type, **(headers or {})}
    )


MALFORMED: dict[str, tuple[bytes, str]] = {
    "payload not JSON": (b"payload=%7Bnot+json", FORM),
    "payload empty": (b"payload=", FORM),
    "payload a list": (b"payload=[1,2]", FORM),
    "truncated JSON": (event_envelope({"type": "message", "text": "hi"})[:40].encode(), JSON),
    "no actions pressed": (press([]).encode(), FORM),
    "action not an object": (press(["crm:show:1"]).encode(), FORM),
    "action id not text": (press([{"action_id": 7, "value": "crm:show:1"}]).encode(), FORM),
    "view without callback": (
        interaction({"type": "view_submission", "user": {"id": REP}, "view": {}}).encode(),
        FORM,
    ),
    "unknown interaction": (interaction({"type": "dialog_submission", "user": {"id": REP}}).encode(), FORM),
    "user neither id nor object": (
        interaction({"type": "shortcut", "user": 5, "callback_id": "x"}).encode(),
        FORM,
    ),
    "JSON list": (b"[1, 2]", JSON),
    "event not an object": (event_envelope(5).encode(), JSON),
    "event without id": (event_envelope({"type": "message", "channel": "D1"}, event_id=None).encode(), JSON),
    "event id with a line break": (
        event_envelope({"type": "app_mention", "channel": "C1"}, event_id="Ev\n1").encode(),
        JSON,
    ),
    "message text not text": (
        event_envelope({"type": "message", "channel": "D1", "text": {"a": 1}}).encode(),
        JSON,
    ),
    "authorizations not objects": (
        json.dumps(
            {"type": "event_callback", "event_id": "Ev1", "event": {"type": "x"}, "authorizations": [1]}
        ).encode(),
        JSON,
    ),
    "NaN": (b'{"type": "url_verification", "challenge": NaN}', JSON),
    "nested too deep": (('{"type": "event_callback", "a": ' + "[" * 400 + "]" * 400 + "}").encode(), JSON),
    "empty body": (b"", JSON),
    "not UTF-8": (b"command=%2Fcrm&user_id=U0REP&text=\xff\xfe", FORM),
    "percent-encoded non-UTF-8": (b"command=%2Fcrm&user_id=U0REP&text=%ff", FORM),
    "wrong content type": (b"command=%2Fcrm&user_id=U0REP&text=help", "text/plain"),
    "no content type": (b"command=%2Fcrm&user_id=U0REP&text=help", ""),
    "form neither command nor payload": (b"hello=world", FORM),
    "form field repeated": (b"command=%2Fcrm&user_id=U0REP&user_id=U0MGR&text=help", FORM),
    "command without user": (b"command=%2Fcrm&text=help", FORM),
}


@pytest.mark.parametrize("case", list(MALFORMED))
async def test_signed_malformed_bodies_get_400_one_line_and_change_nothing(
    http: httpx.AsyncClient,
    fake_slack: FakeSlackApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    raw, content_type = MALFORMED[case]
    before = await row_counts(store)
    caplog.set_level(logging.INFO)
    response = await post(http, raw, content_type, sign(raw))
    assert response.status_code == 400, response.text
    assert_quiet_refusal(caplog)
    assert await row_counts(store) == before
    assert fake_slack.calls == []


UNSIGNED: dict[str, dict[str, str]] = {
    "no headers": {},
    "no timestamp": {"X-Slack-Signature": "v0=" + "0" * 64},
    "timestamp not a number": {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64},
    "timestamp with underscores": {
        "X-Slack-Request-Timestamp": "1_700_000_000",
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "timestamp with spaces": {
        "X-Slack-Request-Timestamp": " 1700000000 ",
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "timestamp of 5000 digits": {
        "X-Slack-Request-Timestamp": "9" * 5000,
        "X-Slack-Signature": "v0=" + "0" * 64,
    },
    "signature not hex": {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=zz"},
    "signature with latin-1 bytes": {
        "X-Slack-Request-Timestamp": str(int(time.time())),
        "X-Slack-Signature": "v0=\xe9",
    },
}


@pytest.mark.parametrize("case", list(UNSIGNED))
@pytest.mark.parametrize("body", ["payload=%7Bnot+json", "command=%2Fcrm&user_id=U0REP&text=add+Mallory"])
async def test_unsigned_requests_get_401_before_anything_is_parsed(
    http: httpx.AsyncClient,
    fake_slack: FakeSlackApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    case: str,
    body: str,
) -> None:
    before = await row_counts(store)
    caplog.set_level(logging.INFO)
    # Raw header bytes: a server decodes them as latin-1, whatever they are.
    headers = [(b"content-type", FORM.encode())]
    headers += [(name.encode(), value.encode("latin-1")) for name, value in UNSIGNED[case].items()]
    response = await http.post("/slack/events", content=body.encode(), headers=headers)
    assert response.status_code == 401  # a malformed body too: it was never parsed
    assert_quiet_refusal(caplog)
    assert await row_counts(store) == before
    assert fake_slack.calls == []


@pytest.mark.parametrize("skew", [-301, 301])
async def test_stale_or_future_signatures_and_other_secrets_get_401(
    http: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture, skew: int
) -> None:
    raw = b"command=%2Fcrm&user_id=U0REP&text=add+Mallory"
    before = await row_counts(store)
    caplog.set_level(logging.INFO)
    assert (await post(http, raw, FORM, sign(raw, timestamp=int(time.time()) + skew))).status_code == 401
    assert (await post(http, raw, FORM, sign(raw, secret="not-the-secret"))).status_code == 401
    assert (await post(http, raw + b"x", FORM, sign(raw))).status_code == 401  # altered after signing
    assert len(gate_lines(caplog)) == 3
    assert await row_counts(store) == before


async def test_a_body_over_the_limit_gets_413_unread(
    http: httpx.AsyncClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    raw = b"command=%2Fcrm&user_id=U0REP&text=" + b"a" * MAX_BODY_BYTES
    before = await row_counts(store)
    caplog.set_level(logging.INFO)
    response = await post(http, raw, FORM, sign(raw))
    assert response.status_code == 413
    assert_quiet_refusal(caplog)
    assert await row_counts(store) == before


async def test_a_command_that_mentions_payload_is_answered(
    slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, rep: Actor, store: Store
) -> None:
    """bolt took any form body containing the word "payload" for an interaction and found none."""
    await router.handle(Message(actor=rep, text="add Acme Corp"))
    response = await slack.command("log acme note: the payload was too heavy")
    assert response.status_code == 200
    answer = (await fake_slack.wait_for("response_url"))[0]
    assert "Logged a note with Acme Corp" in answer.params["text"]
    async with store.read() as tx:
        (logged,) = await tx.interactions.for_customer(1)
    assert logged.text == "the payload was too heavy"


async def _count(store: Store, table: Any) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_a_replayed_command_runs_once(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    router: Router,
    rep: Actor,
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await router.handle(Message(actor=rep, text="add Acme Corp"))
    body = slack.command_body("log acme call: asked for a quote")
    headers = slack.headers(body)  # captured once, sent twice: what a replaying attacker does
    first = await slack.post(body, FORM, headers=headers)
    await fake_slack.wait_for("response_url")
    caplog.set_level(logging.INFO)
    replay = await slack.post(body, FORM, headers=headers)
    assert (first.status_code, replay.status_code) == (200, 401)
    assert [r.getMessage() for r in gate_lines(caplog)] == [
        "refused a Slack request (401): signature already used"
    ]
    assert await _count(store, interactions) == 1
    assert len(fake_slack.of("response_url")) == 1


async def test_a_replayed_button_press_and_form_run_once(
    slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, rep: Actor, store: Store
) -> None:
    await router.handle(Message(actor=rep, text="add Acme Corp"))
    remind = await router.handle(Message(actor=rep, text="remind acme tomorrow 10:00: call back"))
    assert "reminder #1" in remind.text
    body = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "team": {"id": TEAM_ID},
                    "user": {"id": MANAGER, "team_id": TEAM_ID},
                    "trigger_id": "trigger-1",
                    "channel": {"id": "C0SALES"},
                    "response_url": fake_slack.response_url("1"),
                    "actions": [{"action_id": "crm:help:", "type": "button", "value": "crm:help:"}],
                }
            )
        }
    )
    headers = slack.headers(body)
    assert (await slack.post(body, FORM, headers=headers)).status_code == 200
    await fake_slack.wait_for("response_url")
    assert (await slack.post(body, FORM, headers=headers)).status_code == 401

    from bot.slack import modals

    view = modals.view("log", customer="#1")
    state = {
        "customer": {"value": {"type": "plain_text_input", "value": "#1"}},
        "kind": {"value": {"type": "static_select", "selected_option": {"value": "meeting"}}},
        "text": {"value": {"type": "plain_text_input", "value": "demo went well"}},
    }
    form = interaction(
        {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": REP, "team_id": TEAM_ID},
            "view": {**view, "id": "V1", "state": {"values": state}},
        }
    )
    headers = slack.headers(form)
    assert (await slack.post(form, FORM, headers=headers)).status_code == 200
    await fake_slack.wait_for("chat.postMessage")
    assert (await slack.post(form, FORM, headers=headers)).status_code == 401
    assert await _count(store, interactions) == 1


async def test_a_replay_to_another_replica_or_after_a_restart_is_refused(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    router: Router,
    rep: Actor,
    store: Store,
    clock: FakeClock,
) -> None:
    await router.handle(Message(actor=rep, text="add Acme Corp"))
    body = slack.command_body("log acme note: once")
    headers = slack.headers(body)
    assert (await slack.post(body, FORM, headers=headers)).status_code == 200
    await fake_slack.wait_for("response_url")
    settings = SlackSettings(bot_token=TOKEN, signing_secret=SECRET, api_url=fake_slack.url)
    other = SlackFrontEnd(router=router, store=store, settings=settings)  # a replica, or this one restarted
    assert other.http_handler is not None
    transport = httpx.ASGITransport(app=build_asgi(slack=other.http_handler.handle))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        replay = await http.post(
            "/slack/events", content=body.encode(), headers={"Content-Type": FORM, **headers}
        )
    await other.stop()
    assert replay.status_code == 401
    assert await _count(store, interactions) == 1
    # Used signatures are only kept as long as the housekeeping retention, like event ids.
    async with store.read() as tx:
        kept = (
            select(func.count())
            .select_from(processed_events)
            .where(processed_events.c.platform == SIGNATURES)
        )
        assert (await tx.conn.execute(kept)).scalar_one() == 1
    clock.advance(days=2)
    await purge_housekeeping(store, JobSettings(staff_platforms=("slack",), retention=timedelta(days=1)))
    async with store.read() as tx:
        assert (await tx.conn.execute(kept)).scalar_one() == 0


async def test_slacks_url_check_and_ssl_check_still_pass(http: httpx.AsyncClient, store: Store) -> None:
    """What Slack sends when the request URL is saved, and its periodic SSL check."""
    check = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2", "type": "url_verification"}).encode()
    response = await post(http, check, JSON, sign(check))
    assert response.status_code == 200 and response.json() == {"challenge": "3eZbrw1aBm2"}
    ssl = b"ssl_check=1&token=legacy"
    assert (await post(http, ssl, FORM, sign(ssl))).status_code == 200


async def test_beyond_the_backlog_a_signed_request_gets_503_with_retry_after_and_runs_nothing(
    frontend: SlackFrontEnd, slack: SlackRequests, fake_slack: FakeSlackApi, store: Store
) -> None:
    import asyncio

    from bot.admission import Admission

    assert frontend.http_handler is not None
    admission = Admission(workers=1, max_backlog=1)
    frontend.admission = frontend.http_handler.admission = admission
    release = asyncio.Event()

    async def held() -> None:
        async with admission.work():
            await release.wait()

    busy = asyncio.create_task(held())
    await asyncio.sleep(0)
    before = await row_counts(store)
    response = await slack.command("add Mallory Corp")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert await row_counts(store) == before  # not even the signature is recorded
    release.set()
    await busy
    assert (await slack.command("help")).status_code == 200
    await fake_slack.wait_for("response_url")


async def test_signatures_arriving_together_are_recorded_in_few_transactions(
    frontend: SlackFrontEnd, slack: SlackRequests, fake_slack: FakeSlackApi, store: Store
) -> None:
    import asyncio

    assert frontend.http_handler is not None
    responses = await asyncio.gather(*(slack.command("help") for _ in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    await fake_slack.wait_for("response_url", 20)
    assert await _count(store, processed_events) == 20
    assert frontend.http_handler._signatures.transactions < 20


async def test_a_command_is_acknowledged_before_bolt_runs_and_answered_after(
    frontend: SlackFrontEnd, slack: SlackRequests, fake_slack: FakeSlackApi, monkeypatch: Any
) -> None:
    import asyncio

    assert frontend.http_handler is not None
    bolt = frontend.http_handler.bolt
    dispatch = bolt.async_dispatch
    release = asyncio.Event()
    started: list[bool] = []

    async def held(request: Any) -> Any:
        started.append(True)
        await release.wait()
        return await dispatch(request)

    monkeypatch.setattr(bolt, "async_dispatch", held)
    response = await slack.command("help")
    assert (response.status_code, response.content) == (200, b"")
    assert not fake_slack.of("response_url")
    release.set()
    answer = (await fake_slack.wait_for("response_url"))[0]
    assert started == [True] and "Commands" in answer.params["text"]


async def test_a_form_submission_still_waits_for_bolt_to_say_what_is_wrong(
    slack: SlackRequests, fake_slack: FakeSlackApi
) -> None:
    from bot.slack import modals

    view = modals.view("log", customer="#1")
    response = await slack.submit(view, {"customer": "", "kind": "call", "text": ""})
    assert response.status_code == 200
    assert response.json()["response_action"] == "errors"
