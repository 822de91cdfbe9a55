"""A webhook receiver on 127.0.0.1: records each POST (headers and raw body) and answers with the
statuses a test scripts (then 200), optionally after a delay."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer


@dataclass(frozen=True, slots=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass(slots=True)
class FakeReceiver(LocalServer):
    statuses: list[int] = field(default_factory=list)  # answered in turn, then ``otherwise``
    otherwise: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hooks"

    async def start(self) -> FakeReceiver:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        await self._serve(app)
        return self

    async def stop(self) -> None:
        await self._shutdown()

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        status = self.statuses.pop(0) if self.statuses else self.otherwise
        self.received.append(Received(dict(request.headers), body, status))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=status, text="ok")

    def delivered(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]
