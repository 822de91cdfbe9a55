"""A Telegram Bot API stand-in on 127.0.0.1 for benches: answers getMe, sendMessage and what
`crm-bot run` calls in webhook mode (setMyCommands, setWebhook, editMessageText,
answerCallbackQuery), and timestamps every message it receives, as Telegram counts them."""

from __future__ import annotations

import itertools
import time
from collections import deque
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
    method: str = "sendMessage"


@dataclass(slots=True)
class BotApiSink:
    """``url`` is the Bot API base ptb appends the token to; ``received`` the messages, in order."""

    received: list[Received] = field(default_factory=list)
    # Telegram's limits kept as Telegram keeps them: a sendMessage past 30 in the last second, or
    # to a chat that got one in the last second, is refused with 429 (counted in ``refused``).
    limits: bool = False
    refused: int = 0
    _recent: deque[float] = field(default_factory=deque)
    _last_in_chat: dict[str, float] = field(default_factory=dict)
    # editMessageText calls, and answerCallbackQuery: callback_query_id -> arrival times.
    edits: list[Received] = field(default_factory=list)
    callbacks: dict[str, list[float]] = field(default_factory=dict)
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
        if method in ("setMyCommands", "setWebhook", "deleteWebhook"):
            return web.json_response({"ok": True, "result": True})
        if method == "answerCallbackQuery":
            self.callbacks.setdefault(str(params.get("callback_query_id", "")), []).append(at)
            return web.json_response({"ok": True, "result": True})
        if method not in ("sendMessage", "editMessageText"):
            return _error(400, f"Bad Request: method {method} not found")  # never 404: ptb reads InvalidToken
        chat_id, text = str(params.get("chat_id", "")), str(params.get("text", ""))
        if self.limits and method == "sendMessage" and self._over_limit(chat_id, at):
            self.refused += 1
            body = {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }
            return web.json_response(body, status=429)
        arrived = Received(chat_id=chat_id, text=text, at=at, method=method)
        (self.received if method == "sendMessage" else self.edits).append(arrived)
        message = {
            "message_id": int(params.get("message_id") or 0) or next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id or 0), "type": "private"},
            "from": _BOT,
            "text": text,
        }
        return web.json_response({"ok": True, "result": message})

    def _over_limit(self, chat_id: str, at: float) -> bool:
        while self._recent and self._recent[0] <= at - 1.0:
            self._recent.popleft()
        if len(self._recent) >= 30 or at - self._last_in_chat.get(chat_id, -1e9) < 1.0:
            return True
        self._recent.append(at)
        self._last_in_chat[chat_id] = at
        return False


def _error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": status, "description": description}, status=status)
