"""A Slack Web API stand-in on 127.0.0.1 for benches: answers what `crm-bot run` calls in Slack HTTP
mode and records each call (response_url answers too) with its arrival time."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

BOT_USER = "UBOT0001"


@dataclass(frozen=True, slots=True)
class Received:
    method: str  # a Web API method, or "response_url"
    params: dict[str, Any]
    at: float  # time.monotonic() on arrival


@dataclass(slots=True)
class SlackApiSink:
    """``url`` is the Web API base (SLACK_API_URL); ``response_url(key)`` an answer address."""

    received: list[Received] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    # response_url key -> arrival of its first answer, and how many answers each key got.
    first_answer: dict[str, float] = field(default_factory=dict)
    answer_count: dict[str, int] = field(default_factory=dict)
    record_calls: bool = True  # False under load: only the answers are kept
    _runner: web.AppRunner | None = None
    _port: int = 0
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self._port}/respond/{key}"

    def add_user(self, user_id: str, name: str) -> None:
        self.users[user_id] = name

    async def start(self) -> SlackApiSink:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk sends users.info as a GET
        app.router.add_post("/respond/{key}", self._respond)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def of(self, method: str) -> list[Received]:
        return [r for r in self.received if r.method == method]

    async def wait_for(self, method: str, count: int = 1, *, within: float = 30.0) -> list[Received]:
        """The calls of ``method`` once there are ``count``; AssertionError after ``within`` s."""
        deadline = time.monotonic() + within
        while len(self.of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} {method} call(s), got {len(self.of(method))}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.1))
        return self.of(method)

    def _record(self, method: str, params: dict[str, Any]) -> None:
        if not self.record_calls:
            return
        self.received.append(Received(method, params, time.monotonic()))
        self._changed.set()

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.read()
        key = request.match_info["key"]
        self.first_answer.setdefault(key, time.monotonic())
        self.answer_count[key] = self.answer_count.get(key, 0) + 1
        self._record("response_url", json.loads(body or b"{}"))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        body = await request.read()
        if request.content_type == "application/json":
            params: dict[str, Any] = json.loads(body or b"{}")
        else:
            params = {**request.query, **dict(parse_qsl(body.decode()))}
        self._record(method, params)
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": "B0001", "team_id": "T0001", "team": "Bench"}
        if method == "users.info":
            user = str(params.get("user", ""))
            name = self.users.get(user, user)
            return {
                "ok": True,
                "user": {"id": user, "real_name": name, "profile": {"real_name": name}, "tz": "UTC"},
            }
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "U"))[1:]}}
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            return {"ok": True, "channel": params.get("channel", ""), "ts": ts, "message_ts": ts}
        if method.startswith("views."):
            return {"ok": True, "view": {"id": f"V{next(self._ts)}", "hash": "h"}}
        return {"ok": True}
