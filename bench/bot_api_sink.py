"""A Telegram Bot API stand-in on 127.0.0.1 for the fan-out bench: answers getMe and sendMessage
and timestamps every message it receives, as Telegram counts them against its limits."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:BENCH-token"
_BOT = {"id": 123456, "is_bot": True, "first_name": "CRM", "username": "crm_bench_bot"}


@dataclass(frozen=True, slots=True)
class Received:
    chat_id: str
    text: str
    at: float  # time.monotonic() on arrival


@dataclass(slots=True)
class BotApiSink:
    """``url`` is the Bot API base ptb appends the token to; ``received`` the messages, in order."""

    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    async def start(self) -> BotApiSink:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _api(self, request: web.Request) -> web.Response:
        at = time.monotonic()
        method = request.match_info["method"]
        # ptb posts JSON or form fields depending on the method and its arguments.
        params: dict[str, Any] = (
            dict(await request.json())
            if request.content_type == "application/json"
            else {k: str(v) for k, v in (await request.post()).items()}
        )
        if request.match_info["token"] != TOKEN:
            return _error(401, "Unauthorized")
        if method == "getMe":
            return web.json_response({"ok": True, "result": _BOT})
        if method != "sendMessage":
            return _error(400, f"Bad Request: method {method} not found")  # never 404: ptb reads InvalidToken
        chat_id, text = str(params.get("chat_id", "")), str(params.get("text", ""))
        self.received.append(Received(chat_id=chat_id, text=text, at=at))
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id or 0), "type": "private"},
            "from": _BOT,
            "text": text,
        }
        return web.json_response({"ok": True, "result": message})


def _error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)
