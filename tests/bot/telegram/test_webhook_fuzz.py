"""Arbitrary bodies, headers and button data at /telegram/webhook (hypothesis): never a 5xx or a
traceback; a wrong secret or a body that is no update stores and answers nothing; a press with
any data stores no more than a legitimate press must."""

from __future__ import annotations

import copy
import itertools
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.http import build_asgi
from bot.telegram.adapter import SECRET_HEADER, TelegramFrontEnd
from bot.telegram.intake import MAX_CALLBACK_ID, MAX_ID
from crm_store.store import Store
from crm_store.tables import metadata
from handlers.people import customer_actor
from handlers.router import Router
from tests.bot.telegram.conftest import SECRET
from tests.conftest import Chat
from tests.fakes.telegram_api import FakeTelegramApi

CARLA = 555
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# What the bot says or does on Telegram: none of it may happen for a refused or malformed body.
ANSWERS = ("sendMessage", "sendPhoto", "editMessageText", "answerCallbackQuery")
_unknown_users = itertools.count(7_000_000_001)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
HUGE = st.integers(min_value=MAX_ID + 1) | st.integers(max_value=-MAX_ID - 1)
NOT_AN_ID = (
    HUGE | st.text(max_size=8) | st.floats(allow_nan=False) | st.booleans() | st.lists(JSON, max_size=2)
)
NOT_TEXT = st.integers() | st.floats(allow_nan=False) | st.booleans() | st.lists(JSON, max_size=2)
KINDS = (
    "message",
    "edited_message",
    "callback_query",
    "channel_post",
    "my_chat_member",
    "poll",
    "inline_query",
    "kind_from_the_future",
)
# Verbs the bot's buttons carry, staff and customer ones, and some it never made.
VERBS = (
    "show",
    "timeline",
    "done",
    "snooze-1h",
    "snooze-tomorrow",
    "ticket",
    "assign-me",
    "resolve",
    "reopen",
    "help",
    "log",
    "remind",
    "open-ticket",
    "reply",
    "erase",
    "run",
    "csat",
    "ticket-open",
    "ticket-cancel",
    "drop-table",
)
CALLBACK_DATA = st.one_of(
    st.text(min_size=1, max_size=80),
    st.builds(
        lambda verb, value: f"crm:{verb}:{value}",
        st.sampled_from(VERBS),
        st.integers(-5, 10**25).map(str) | st.from_regex(r"[A-Za-z0-9_.-]{0,40}", fullmatch=True),
    ),
)


def _set(update: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(update)
    node: Any = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def _malformed_updates(fake: FakeTelegramApi) -> st.SearchStrategy[dict[str, Any]]:
    """A real message or press with one field Telegram never sends that way."""
    message = fake.message_update(CARLA, "It does not start", photo=True)
    press = fake.callback_update(CARLA, "crm:csat:1-5", message_id=9)
    msg, cq = ("message",), ("callback_query",)
    mutations = [
        (message, ("update_id",), NOT_AN_ID | st.integers(max_value=-1) | st.none()),
        (message, (*msg, "message_id"), NOT_AN_ID | st.integers(max_value=-1) | st.none()),
        (message, (*msg, "chat", "id"), NOT_AN_ID | st.none()),
        (message, (*msg, "from", "id"), NOT_AN_ID | st.none()),
        (message, (*msg, "from", "first_name"), NOT_TEXT | st.just("")),
        (message, (*msg, "from", "is_bot"), JSON.filter(lambda v: v is not False)),
        (message, (*msg, "chat", "type"), JSON.filter(lambda v: v != "private")),
        (message, (*msg, "caption"), NOT_TEXT),
        (message, (*msg, "date"), HUGE | st.text(min_size=1, max_size=8)),
        (message, (*msg, "photo"), st.text(min_size=1, max_size=5) | st.integers() | st.just(True)),
        (message, (*msg, "photo", 1, "file_size"), NOT_AN_ID.filter(lambda v: not isinstance(v, str))),
        (message, (*msg, "chat"), NOT_TEXT | st.text(max_size=5)),
        (press, ("update_id",), NOT_AN_ID | st.none()),
        (press, (*cq, "id"), NOT_TEXT | st.text(min_size=MAX_CALLBACK_ID + 1, max_size=80)),
        (press, (*cq, "from", "id"), NOT_AN_ID | st.none()),
        (press, (*cq, "data"), NOT_TEXT | st.none()),
        (press, (*cq, "message", "message_id"), NOT_AN_ID | st.integers(max_value=-1)),
        (press, (*cq, "message", "chat", "id"), NOT_AN_ID),
    ]
    return st.one_of(
        *(value.map(lambda v, u=update, p=path: _set(u, p, v)) for update, path, value in mutations)
    )


def _ignored_updates(fake: FakeTelegramApi) -> st.SearchStrategy[dict[str, Any]]:
    """Well-formed updates of kinds customer support does not use."""
    message = fake.message_update(CARLA, "hello")
    edit = {"update_id": 90_001, "edited_message": {**message["message"], "edit_date": 1}}
    channel = {"update_id": 90_002, "channel_post": message["message"]}
    group = _set(message, ("message", "chat"), {"id": -100123, "type": "group", "title": "g"})
    from_bot = _set(message, ("message", "from", "is_bot"), True)
    no_sender = copy.deepcopy(message)
    del no_sender["message"]["from"]
    return st.sampled_from([edit, channel, group, from_bot, no_sender])


def _bodies(fake: FakeTelegramApi) -> st.SearchStrategy[bytes]:
    """Anything a client could POST: bytes, any JSON, update-like objects of every kind."""
    update_like = st.builds(
        lambda update_id, kind, value: {"update_id": update_id, kind: value},
        st.integers(0, 2**31) | NOT_AN_ID,
        st.sampled_from(KINDS),
        JSON,
    )
    as_json = st.one_of(JSON, update_like, _malformed_updates(fake), _ignored_updates(fake)).map(
        lambda v: json.dumps(v).encode()
    )
    return st.one_of(as_json, st.binary(max_size=200), st.just(b"{"), st.just(b""))


HEADER_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda n: (
        n.lower() not in {"host", "content-length", "transfer-encoding", "connection", SECRET_HEADER.lower()}
    )
)
HEADER_VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
HEADERS = st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=4)


@pytest.fixture
async def http(webhook_frontend: TelegramFrontEnd) -> AsyncIterator[httpx.AsyncClient]:
    """The webhook over ASGI with app errors turned into the 500 a client would see; a response
    returns once what was accepted is answered (the bot answers after its 200)."""

    async def answered(_: httpx.Response) -> None:
        await webhook_frontend.idle()

    app = build_asgi(telegram=webhook_frontend.webhook)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [answered]}
    base = "http://testserver"
    async with httpx.AsyncClient(transport=transport, base_url=base, event_hooks=hooks) as client:
        yield client


async def _snapshot(store: Store) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON lines per table."""
    rows: dict[str, list[str]] = {}
    async with store.read() as tx:
        for table in metadata.sorted_tables:
            found = (await tx.conn.execute(select(table))).mappings()
            rows[table.name] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in found)
    return rows


def _changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """The rows each table gained (or lost, prefixed with '-')."""
    changes: dict[str, list[str]] = {}
    for name in after:
        old, new = set(before[name]), set(after[name])
        if old != new:
            changes[name] = sorted(new - old) + sorted(f"-{r}" for r in old - new)
    return changes


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.exc_info or r.exc_text or "Traceback" in r.getMessage()
    ]


def _answers(fake: FakeTelegramApi) -> int:
    return sum(len(fake.of(m, status=None)) for m in ANSWERS)


@FUZZ
@given(data=st.data())
async def test_a_missing_or_wrong_secret_is_403_whatever_comes_with_it(
    http: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    update = fake_tg.message_update(CARLA, "/ticket Locked out\nPassword refused")
    valid = st.just(json.dumps(update).encode())
    body = data.draw(valid | _bodies(fake_tg), label="body")
    headers = data.draw(HEADERS, label="headers")
    secret = data.draw(st.none() | HEADER_VALUES.filter(lambda v: v != SECRET), label="secret")
    if secret is not None:
        headers[SECRET_HEADER] = secret
    caplog.clear()
    before, answered = await _snapshot(store), _answers(fake_tg)
    response = await http.post("/telegram/webhook", content=body, headers=headers)
    assert response.status_code == 403
    assert await _snapshot(store) == before and _answers(fake_tg) == answered
    assert not _tracebacks(caplog)


@FUZZ
@given(data=st.data())
async def test_with_the_secret_a_body_that_is_no_update_of_ours_stores_and_answers_nothing(
    http: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    data: st.DataObject,
) -> None:
    body = data.draw(_bodies(fake_tg), label="body")
    headers = {**data.draw(HEADERS, label="headers"), SECRET_HEADER: SECRET}
    caplog.clear()
    caplog.set_level(logging.INFO)
    before, answered = await _snapshot(store), _answers(fake_tg)
    response = await http.post("/telegram/webhook", content=body, headers=headers)
    assert response.status_code in (200, 400)
    assert _changed(before, await _snapshot(store)) == {}
    assert _answers(fake_tg) == answered
    assert not _tracebacks(caplog)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) <= 1  # one line for a malformed body, so nobody can fill the log faster


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the JSON parser recurses
        b'{"update_id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"update_id": 1e999999, "message": NaN}',
        b'{"update_id": 5, "message": {"message_id": 1, "date": 1, "text": "hi", "chat": {"id": 555, '
        b'"type": "private"}, "from": {"id": 555, "is_bot": false, "first_name": "C"}}, "x": Infinity}',
        b'{"update_id": 6, "message": {"message_id": 2, "date": 1, "text": "hi", "chat": {"id": 555, '
        b'"type": "private"}, "from": {"id": 555, "is_bot": false, "first_name": "C"}}, "x": -1e400}',
        b'{"update_id": 123456789012345678901234567890}',
        b"\xff\xfe\x00{",
        b"null",
    ],
)
async def test_bodies_that_break_parsers_are_400_and_store_nothing(
    http: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    before = await _snapshot(store)
    response = await http.post("/telegram/webhook", content=body, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 400
    assert await _snapshot(store) == before and _answers(fake_tg) == 0
    assert not _tracebacks(caplog)


def _press(fake: FakeTelegramApi, user: int, data: str) -> dict[str, Any]:
    return fake.callback_update(user, data, message_id=4242, name="Presser")


async def _linked_customer_with_an_open_ticket(store: Store, router: Router) -> None:
    actor = await customer_actor(store, platform="telegram", user_id=str(CARLA), display_name="Carla")
    async with store.read() as tx:
        ticket = await tx.tickets.latest_open_for_customer(actor.customer_id or 0)
    if ticket is None:
        await Chat(router, actor).say("/ticket Broken\nIt does not start")


async def _press_and_check(
    *,
    http: httpx.AsyncClient,
    fake: FakeTelegramApi,
    store: Store,
    caplog: pytest.LogCaptureFixture,
    user: int,
    data: str,
) -> dict[str, list[str]]:
    """Press a button with ``data`` as ``user``; checks what must hold for any press and returns
    what changed in the store."""
    press = _press(fake, user, data)
    query_id = press["callback_query"]["id"]
    async with store.read() as tx:
        known = await tx.people.identity("telegram", str(user)) is not None
    caplog.clear()
    before = await _snapshot(store)
    response = await http.post("/telegram/webhook", json=press, headers={SECRET_HEADER: SECRET})
    assert response.status_code == 200
    assert not _tracebacks(caplog)
    answered = [c for c in fake.of("answerCallbackQuery") if c.params.get("callback_query_id") == query_id]
    assert len(answered) == 1  # the button's spinner stops, whatever the data
    changes = _changed(before, await _snapshot(store))
    (row,) = [json.loads(r) for r in changes.pop("inbox")]
    assert row["event_id"] == str(press["update_id"]) and row["state"] == "done" and row["payload"] == {}
    assert row["dedupe_key"] == f"{user}:callback:{query_id}"
    customers, identities = changes.pop("customers", []), changes.pop("identities", [])
    if known:
        assert customers == identities == []
    else:
        (lead,) = [json.loads(r) for r in customers]
        (identity,) = [json.loads(r) for r in identities]
        assert lead["status"] == "lead" and lead["source"] == "telegram"
        assert identity["external_id"] == str(user) and identity["customer_id"] == lead["id"]
        audited = [json.loads(r) for r in changes.get("audit_log", [])]
        made = [
            (a["action"], a["entity"], a["entity_id"]) for a in audited if a["action"] in ("create", "link")
        ]
        assert made == [("create", "customer", str(lead["id"])), ("link", "customer", str(lead["id"]))]
        changes["audit_log"] = [json.dumps(a) for a in audited if a["action"] not in ("create", "link")]
    if not changes.get("audit_log"):
        changes.pop("audit_log", None)
    return changes


@FUZZ
@given(data=CALLBACK_DATA)
async def test_any_button_data_from_a_customer_or_a_stranger_is_answered_and_no_5xx(
    http: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    router: Router,
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    await _linked_customer_with_an_open_ticket(store, router)
    for user in (CARLA, next(_unknown_users)):
        await _press_and_check(http=http, fake=fake_tg, store=store, caplog=caplog, user=user, data=data)


@FUZZ
@given(data=CALLBACK_DATA)
@example(data="crm:show:1")
@example(data="crm:resolve:1")
@example(data="crm:assign-me:1")
@example(data="crm:ticket:2")
@example(data="crm:run:")
@example(data="crm:run:AAAAAAAAAAAAAAAA")
async def test_a_press_that_is_not_the_pressers_own_button_stores_nothing_more(
    http: httpx.AsyncClient,
    fake_tg: FakeTelegramApi,
    store: Store,
    router: Router,
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    """Nobody here was sent a button, so no press is their own: beyond the bookkeeping every
    press gets (checked in _press_and_check), nothing may change, above all no ticket text."""
    await _linked_customer_with_an_open_ticket(store, router)
    for user in (CARLA, next(_unknown_users)):
        changes = await _press_and_check(
            http=http, fake=fake_tg, store=store, caplog=caplog, user=user, data=data
        )
        refusals = [json.loads(r) for r in changes.pop("audit_log", [])]
        assert changes == {}
        assert all(a["action"] == "denied" for a in refusals), refusals  # a refusal may be audited
