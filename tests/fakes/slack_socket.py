"""A fake Slack Socket Mode end on 127.0.0.1 (ephemeral port): links handed out by the fake Web API's
apps.connections.open, hello on connect, envelopes pushed by the test, acks recorded with timing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.local_server import LocalServer
from tests.fakes.slack_api import FakeSlackApi

APP_ID = "A0001"


@dataclass(frozen=True, slots=True)
class Ack:
    """What the app sent back for an envelope: ``{"envelope_id", "payload"?}``; ``delay`` in seconds."""

    envelope_id: str
    payload: dict[str, Any] | None
    sent_at: float
    at: float
    connection: int

    @property
    def delay(self) -> float:
        return self.at - self.sent_at


@dataclass(slots=True)
class Connection:
    number: int
    token: str  # the app token that opened the link
    ws: web.WebSocketResponse
    closed_at: float | None = None

    @property
    def open(self) -> bool:
        return self.closed_at is None and not self.ws.closed


@dataclass(slots=True)
class FakeSocketMode(LocalServer):
    """Give ``start`` the FakeSlackApi the app's web client points at: its apps.connections.open then
    answers with a link here. Each event goes to the newest open connection, as Slack sends one event
    to one connection. ``refresh`` asks the app to reconnect, as Slack does every few hours."""

    clock: Callable[[], float] = time.monotonic
    connections: list[Connection] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # anything the app sent that is not an ack
    _tickets: dict[str, str] = field(default_factory=dict)  # ticket -> app token
    _sent: dict[str, float] = field(default_factory=dict)  # envelope id -> when it went out
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None
    _port: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, api: FakeSlackApi) -> FakeSocketMode:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        await self._serve(app)
        api.socket_link = self._issue
        return self

    async def stop(self) -> None:
        for connection in self.connections:
            if connection.open:
                # The app should have closed first; closing here would make it reconnect.
                await connection.ws.close()
        await self._shutdown()

    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if c.open]

    def _issue(self, token: str) -> str:
        ticket = f"t{next(self._ids)}"
        self._tickets[ticket] = token
        return f"ws://127.0.0.1:{self._port}/link/?ticket={ticket}&app_id={APP_ID}"

    async def _until(self, done: Callable[[], bool], *, within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out after {within} s waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.2))

    async def connected(self, count: int = 1, *, within: float = 30.0) -> Connection:
        """The newest open connection, once ``count`` connections have been made in all."""
        await self._until(
            lambda: len(self.connections) >= count and bool(self.live), within=within, what="a connection"
        )
        return self.live[-1]

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> str:
        """Push an envelope (``kind``: events_api, slash_commands or interactive); its envelope id."""
        connection = await self.connected()
        envelope_id = f"env-{next(self._ids)}"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            # Commands and interactions may carry a response in their ack; events may not.
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        self._sent[envelope_id] = self.clock()
        await connection.ws.send_str(json.dumps(envelope))
        return envelope_id

    async def ack(self, envelope_id: str, *, within: float = 30.0) -> Ack:
        await self._until(
            lambda: any(a.envelope_id == envelope_id for a in self.acks),
            within=within,
            what=f"the ack of {envelope_id}",
        )
        return next(a for a in self.acks if a.envelope_id == envelope_id)

    async def refresh(self, reason: str = "refresh_requested") -> None:
        """Tell the app its link is going away; it should open a new one and leave this one."""
        connection = await self.connected()
        await connection.ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
        )

    async def closed(self, connection: Connection, *, within: float = 30.0) -> None:
        await self._until(lambda: not connection.open, within=within, what="the app to close its link")

    async def _link(self, request: web.Request) -> web.StreamResponse:
        token = self._tickets.get(request.query.get("ticket", ""))
        if token is None:
            raise web.HTTPUnauthorized(text="unknown ticket")
        ws = web.WebSocketResponse(autoping=True)  # the client's "sdk-ping-pong" pings get their pongs
        await ws.prepare(request)
        connection = Connection(number=len(self.connections) + 1, token=token, ws=ws)
        self.connections.append(connection)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.live),
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._changed.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._received(connection, str(message.data))
        finally:
            connection.closed_at = self.clock()
            self._changed.set()
        return ws

    def _received(self, connection: Connection, text: str) -> None:
        data = json.loads(text) if text.startswith("{") else None
        envelope_id = data.get("envelope_id") if isinstance(data, dict) else None
        if not isinstance(data, dict) or envelope_id not in self._sent:
            self.unexpected.append(text)
        else:
            payload = data.get("payload")
            self.acks.append(
                Ack(
                    envelope_id=str(envelope_id),
                    payload=payload if isinstance(payload, dict) else None,
                    sent_at=self._sent[str(envelope_id)],
                    at=self.clock(),
                    connection=connection.number,
                )
            )
        self._changed.set()
