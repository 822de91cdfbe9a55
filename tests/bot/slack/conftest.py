"""Slack fixtures: the fake Web API, the real bolt front end over the test store, and signed requests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.http import build_asgi
from bot.slack.adapter import SlackFrontEnd, SlackSettings
from crm_store.store import Store
from handlers.router import Router
from tests.fakes.slack_api import BOT_USER_ID, TEAM_ID, FakeSlackApi

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
REP = "U0REP"
MANAGER = "U0MGR"


@pytest.fixture(autouse=True)
def no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """bolt falls back to SLACK_* variables: none may leak in from the machine running the tests."""
    import os

    for name in list(os.environ):
        if name.startswith("SLACK_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    fake.add_user(REP, "Sam Rep", tz="Europe/Berlin")
    fake.add_user(MANAGER, "Dana Manager", tz="America/New_York")
    yield fake
    await fake.stop()


@pytest.fixture
async def frontend(router: Router, store: Store, fake_slack: FakeSlackApi) -> AsyncIterator[SlackFrontEnd]:
    front = SlackFrontEnd(
        router=router,
        store=store,
        settings=SlackSettings(
            bot_token=TOKEN, signing_secret=SECRET, api_url=fake_slack.url, managers=(MANAGER,)
        ),
    )
    yield front
    await front.stop()  # answers under way finish before the store closes


class SlackRequests:
    """Builds requests the way Slack sends them, signed with the signing secret, and POSTs them."""

    def __init__(self, http: httpx.AsyncClient, fake: FakeSlackApi) -> None:
        self.http = http
        self.fake = fake
        self._n = 0
        self._signed_at: dict[str, int] = {}  # body -> the timestamp it was last signed with

    def headers(self, body: str, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
        """Slack's headers for ``body``, signed now. Slack signs every delivery anew, so a body sent
        again (an event's retry) gets a later timestamp, and with it a signature not used before."""
        if timestamp is None:
            timestamp = max(int(time.time()), self._signed_at.get(body, 0) + 1)
            self._signed_at[body] = timestamp
        ts = str(timestamp)
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": str(SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)),
        }

    async def post(
        self, body: str, content_type: str, *, headers: dict[str, str] | None = None, signed: bool = True
    ) -> httpx.Response:
        sent = {"Content-Type": content_type, **(self.headers(body) if signed else {}), **(headers or {})}
        return await self.http.post("/slack/events", content=body.encode(), headers=sent)

    def _next(self) -> str:
        self._n += 1
        return str(self._n)

    def command_body(self, text: str, *, user: str = REP, channel: str = "C0SALES") -> str:
        n = self._next()
        return urlencode(
            {
                "token": "legacy",
                "team_id": TEAM_ID,
                "channel_id": channel,
                "channel_name": "sales",
                "user_id": user,
                "user_name": "someone",
                "command": "/crm",
                "text": text,
                "api_app_id": "A0001",
                "response_url": self.fake.response_url(n),
                "trigger_id": f"trigger-{n}",
            }
        )

    async def command(self, text: str, *, user: str = REP) -> httpx.Response:
        return await self.post(self.command_body(text, user=user), "application/x-www-form-urlencoded")

    def event_body(self, event: dict[str, Any], *, event_id: str) -> str:
        return json.dumps(
            {
                "token": "legacy",
                "team_id": TEAM_ID,
                "api_app_id": "A0001",
                "event": event,
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
            }
        )

    async def event(
        self, event: dict[str, Any], *, event_id: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.post(self.event_body(event, event_id=event_id), "application/json", headers=headers)

    async def dm(self, text: str, *, user: str = REP, event_id: str = "Ev1") -> httpx.Response:
        event = {
            "type": "message",
            "channel": "D0DM",
            "channel_type": "im",
            "user": user,
            "text": text,
            "ts": f"{time.time():.6f}",
        }
        return await self.event(event, event_id=event_id)

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        # Interactivity arrives form-encoded as one payload= field; the signature covers the raw body.
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def press(
        self, value: str, *, user: str = REP, overflow: bool = False, response_url: bool = True
    ) -> httpx.Response:
        n = self._next()
        action: dict[str, Any] = {
            "action_id": value,
            "block_id": "b1",
            "type": "button",
            "value": value,
            "action_ts": f"{time.time():.6f}",
        }
        if overflow:
            action = {
                "action_id": "crm-menu-0",
                "block_id": "b1",
                "type": "overflow",
                "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value},
            }
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": TEAM_ID},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0001",
            "trigger_id": f"trigger-{n}",
            "container": {"type": "message", "channel_id": "C0SALES", "is_ephemeral": True},
            "channel": {"id": "C0SALES"},
            "actions": [action],
        }
        if response_url:
            payload["response_url"] = self.fake.response_url(n)
        return await self.interaction(payload)

    async def submit(
        self, view: dict[str, Any], values: dict[str, str], *, user: str = REP
    ) -> httpx.Response:
        """Submit ``view`` (as built by bot.slack.modals.view) with the given field values."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            block_id = block["block_id"]
            if block["element"]["type"] == "static_select":
                value = values.get(block_id)
                state[block_id] = {
                    "value": {"type": "static_select", "selected_option": {"value": value} if value else None}
                }
            else:
                state[block_id] = {"value": {"type": "plain_text_input", "value": values.get(block_id)}}
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID},
            "user": {"id": user, "team_id": TEAM_ID},
            "api_app_id": "A0001",
            "view": {**view, "id": "V1", "team_id": TEAM_ID, "state": {"values": state}},
        }
        return await self.interaction(payload)


@pytest.fixture
async def slack(frontend: SlackFrontEnd, fake_slack: FakeSlackApi) -> AsyncIterator[SlackRequests]:
    assert frontend.http_handler is not None
    asgi = build_asgi(slack=frontend.http_handler.handle)
    transport = httpx.ASGITransport(app=asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield SlackRequests(http, fake_slack)
