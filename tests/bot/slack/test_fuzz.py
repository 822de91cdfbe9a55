"""Arbitrary bodies and headers at POST /slack/events (unsigned, signed garbage, and signed Slack
payloads with arbitrary field values): never a 5xx, never a traceback or an ERROR in the log, and
nothing stored but what a legitimate request leaves by design: its signature's one-use claim, its
event id, an audited refusal, and the button tokens of an ask-back to a rep's unsure words."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.http import build_asgi
from bot.slack import modals
from bot.slack.adapter import COMMAND, SHORTCUT, SlackFrontEnd
from crm_store.store import Store
from crm_store.tables import audit_log, metadata, pending_actions
from handlers.people import staff_actor
from tests.bot.slack.conftest import REP
from tests.bot.slack.test_gate import FORM, JSON, sign
from tests.fakes.slack_api import TEAM_ID, FakeSlackApi

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What a legitimate request may leave behind: its signature's one-use claim and its event id.
CLAIMS = "processed_events"
SETTLE_SECONDS = 30.0

# -- strategies --------------------------------------------------------------------------------

# Header values as a server receives them: any latin-1 text but line breaks.
header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
anything = json_values | st.text(max_size=60)
content_types = st.sampled_from(
    [FORM, JSON, f"{JSON}; charset=utf-8", "text/plain", "", "multipart/form-data"]
)
verbs = st.sampled_from(
    ["show", "timeline", "done", "snooze-1h", "snooze-tomorrow", "ticket", "assign-me", "resolve", "reopen",
     "help", "log", "remind", "open-ticket", "reply", "run", "csat", "erase", "ticket-open", "ticket-cancel"]
)  # fmt: skip
ids = st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), max_size=40)
button_values = st.builds(lambda verb, value: f"crm:{verb}:{value}", verbs, ids) | st.text(max_size=70)
# Text a rep might send that no reading turns into a write: digits, signs and symbols only.
idle_text = st.text(st.characters(exclude_categories=("L", "Cc", "Cs")), max_size=60)
event_ids = st.from_regex(r"Ev[A-Za-z0-9]{1,16}", fullmatch=True)


def with_extras(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` plus arbitrary fields Slack might add; what ``base`` sets stays."""
    return st.dictionaries(st.text(max_size=12), anything, max_size=3).map(lambda extra: {**extra, **base})


@st.composite
def block_actions(draw: st.DrawFn, fake: FakeSlackApi) -> str:
    action: dict[str, Any] = {
        "action_id": draw(button_values),
        "type": draw(st.sampled_from(["button", "overflow", "static_select"]) | st.text(max_size=10)),
    }
    if draw(st.booleans()):
        action["value"] = draw(button_values)
    if draw(st.booleans()):
        action["selected_option"] = draw(
            st.fixed_dictionaries({"value": button_values})
            | st.dictionaries(st.text(max_size=8), anything, max_size=2)
        )
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM_ID},
        "user": {"id": REP, "team_id": TEAM_ID},
        "actions": [draw(with_extras(action))],
        "channel": draw(
            st.sampled_from([{"id": "C0SALES"}, "C0SALES"])
            | st.fixed_dictionaries({"id": st.text(max_size=12)})
        ),
        "container": draw(st.fixed_dictionaries({"channel_id": st.text(max_size=12)}) | st.just({})),
    }
    if draw(st.booleans()):
        payload["response_url"] = fake.response_url("fuzz")
    if draw(st.booleans()):
        payload["trigger_id"] = draw(st.text(max_size=20))
    return urlencode({"payload": json.dumps(draw(with_extras(payload)))})


@st.composite
def view_submissions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from([*modals.KINDS, modals.REPLY]))
    callback = draw(st.just(modals.CALLBACK_PREFIX + kind) | st.text(max_size=30))
    if draw(st.booleans()):  # the form's own fields, filled with anything
        blocks = modals.reply_view(1)["blocks"] if kind == modals.REPLY else modals.view(kind)["blocks"]
        fields = [b["block_id"] for b in blocks if b["type"] == "input"]
        state: Any = {
            "values": {
                field: {
                    "value": draw(
                        st.fixed_dictionaries(
                            {
                                "type": st.sampled_from(["plain_text_input", "static_select"]),
                                "value": anything,
                                "selected_option": anything,
                            }
                        )
                    )
                }
                for field in fields
            }
        }
    else:
        state = draw(
            st.dictionaries(st.text(max_size=10), anything, max_size=3)
            | st.fixed_dictionaries({"values": anything})
        )
    metadata_text = draw(st.text(max_size=40) | st.builds(json.dumps, json_values))
    view = {"id": "V1", "type": "modal", "callback_id": callback, "state": state}
    view["private_metadata"] = metadata_text
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": REP},
        "view": draw(with_extras(view)),
    }
    return urlencode({"payload": json.dumps(payload)})


@st.composite
def shortcuts(draw: st.DrawFn) -> str:
    payload = {
        "type": draw(st.sampled_from(["message_action", "shortcut"])),
        "callback_id": draw(st.just(SHORTCUT) | st.text(max_size=20)),
        "user": {"id": REP},
        "trigger_id": draw(st.text(max_size=20)),
        "message": draw(st.fixed_dictionaries({"text": st.text(max_size=80)}) | st.just({})),
    }
    return urlencode({"payload": json.dumps(draw(with_extras(payload)))})


@st.composite
def commands(draw: st.DrawFn, fake: FakeSlackApi) -> str:
    fields = {
        "command": draw(st.just(COMMAND) | st.text(min_size=1, max_size=10)),
        "user_id": REP,
        "text": draw(st.sampled_from(["", "help", "add", "log", "reminders", "tickets"]) | idle_text),
        "channel_id": draw(st.text(max_size=12)),
        "response_url": fake.response_url("fuzz"),
    }
    if draw(st.booleans()):
        fields["trigger_id"] = draw(st.text(max_size=20))
    return urlencode(fields)


@st.composite
def events(draw: st.DrawFn) -> str:
    event = {
        "type": draw(st.sampled_from(["message", "app_mention", "app_home_opened"]) | st.text(max_size=12)),
        "channel": draw(st.sampled_from(["D0DM", "C0SALES"]) | st.text(min_size=1, max_size=12)),
        "channel_type": draw(st.sampled_from(["im", "channel"]) | st.text(max_size=8)),
        "user": REP,
        "text": draw(idle_text),
        "ts": draw(st.text(max_size=20)),
    }
    for key in ("subtype", "thread_ts", "tab", "bot_id"):
        if draw(st.booleans()):
            event[key] = draw(st.text(max_size=12))
    envelope = {
        "type": "event_callback",
        "team_id": TEAM_ID,
        "event_id": draw(event_ids),
        "event_time": int(time.time()),
        "event": draw(with_extras(event)),
    }
    return json.dumps(draw(with_extras(envelope)))


def well_formed(fake: FakeSlackApi) -> st.SearchStrategy[tuple[str, str, str]]:
    """(body, content type, kind) of a request as Slack would send it, with arbitrary values."""
    return st.one_of(
        block_actions(fake).map(lambda body: (body, FORM, "press")),
        view_submissions().map(lambda body: (body, FORM, "form")),
        shortcuts().map(lambda body: (body, FORM, "shortcut")),
        commands(fake).map(lambda body: (body, FORM, "command")),
        events().map(lambda body: (body, JSON, "event")),
    )


ENVELOPE_KEYS = ["type", "event", "event_id", "actions", "user", "view", "command", "user_id", "challenge"]
garbage = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: urlencode({"payload": json.dumps(value)}).encode()),
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=4).map(
        lambda d: urlencode(d).encode()
    ),
    st.dictionaries(st.sampled_from(ENVELOPE_KEYS), anything, max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
)

# -- the harness -------------------------------------------------------------------------------


@pytest.fixture
async def http(frontend: SlackFrontEnd, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    # Presses come from a known rep: a first contact would rightly store who they are.
    await staff_actor(store, platform="slack", user_id=REP, display_name="Sam Rep", role="rep")
    assert frontend.http_handler is not None
    transport = httpx.ASGITransport(
        app=build_asgi(slack=frontend.http_handler.handle), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def counts(store: Store, *, words: bool = False) -> dict[str, int]:
    """Rows per table, but the claims. With ``words`` (a rep's text reached the router), also
    but the button tokens of an ask-back ("Did you mean…"), which is how unsure text is answered."""
    skip = {CLAIMS, pending_actions.name} if words else {CLAIMS}
    async with store.read() as tx:
        found = {
            table.name: int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())
            for table in metadata.sorted_tables
            if table.name not in skip
        }
        # A refusal (a rep pressing an admin's button) is audited by design; nothing else is.
        other = select(func.count()).select_from(audit_log).where(audit_log.c.action != "denied")
        found[audit_log.name] = int((await tx.conn.execute(other)).scalar_one())
    return found


def bolt_tasks() -> list[asyncio.Task[Any]]:
    tasks = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and "/slack_bolt/" in code.co_filename:
            tasks.append(task)
    return tasks


def assert_no_errors(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert bad == [], [f"{r.name}: {r.getMessage()}" for r in bad]


async def send(
    http: httpx.AsyncClient,
    raw: bytes,
    content_type: str,
    headers: dict[str, str] | list[tuple[bytes, bytes]],
) -> httpx.Response:
    base = [(b"content-type", content_type.encode("latin-1"))]
    extra = (
        [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        if isinstance(headers, dict)
        else headers
    )
    response = await http.post("/slack/events", content=raw, headers=base + extra)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + SETTLE_SECONDS
    while running := bolt_tasks():
        assert loop.time() < give_up, "listeners still running"
        await asyncio.wait(running, timeout=give_up - loop.time())
    return response


# -- the properties ----------------------------------------------------------------------------


@FUZZ
@given(
    raw=garbage,
    content_type=content_types,
    headers=st.dictionaries(
        st.sampled_from(
            ["X-Slack-Request-Timestamp", "X-Slack-Signature", "X-Slack-Retry-Num", "X-Slack-Retry-Reason"]
        ),
        header_text,
        max_size=4,
    ),
    forged=st.sampled_from(["as given", "other secret", "stale", "other body"]),
)
async def test_unsigned_requests_are_refused_with_401_and_store_nothing(
    http: httpx.AsyncClient,
    store: Store,
    fake_slack: FakeSlackApi,
    caplog: pytest.LogCaptureFixture,
    raw: bytes,
    content_type: str,
    headers: dict[str, str],
    forged: str,
) -> None:
    if forged == "other secret":
        headers = {**headers, **sign(raw, secret="not-the-secret")}
    elif forged == "stale":
        headers = {**headers, **sign(raw, timestamp=int(time.time()) - 301)}
    elif forged == "other body":
        headers = {**headers, **sign(raw + b"!")}
    before = await counts(store)
    caplog.clear()
    response = await send(http, raw, content_type, headers)
    assert response.status_code == 401
    assert_no_errors(caplog)
    assert [r.levelname for r in caplog.records if r.name == "bot.slack.gate"] == ["WARNING"]
    assert await counts(store) == before
    assert fake_slack.calls == []


@FUZZ
@given(raw=garbage, content_type=content_types)
async def test_signed_garbage_never_fails_or_stores(
    http: httpx.AsyncClient,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    raw: bytes,
    content_type: str,
) -> None:
    before = await counts(store)
    caplog.clear()
    response = await send(http, raw, content_type, sign(raw))
    assert response.status_code < 500
    assert_no_errors(caplog)
    assert await counts(store) == before


@settings(FUZZ, max_examples=80)
@given(data=st.data())
async def test_signed_slack_payloads_with_arbitrary_values_never_fail_or_store(
    http: httpx.AsyncClient,
    store: Store,
    fake_slack: FakeSlackApi,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    body, content_type, kind = data.draw(well_formed(fake_slack))
    raw = body.encode()
    words = kind in ("command", "event")
    before = await counts(store, words=words)
    caplog.clear()
    response = await send(http, raw, content_type, sign(raw))
    assert response.status_code < 500
    assert_no_errors(caplog)
    # A form accepted (an empty 200, no field errors) is a command the rep sent: it may write.
    if kind != "form" or response.content:
        assert await counts(store, words=words) == before
