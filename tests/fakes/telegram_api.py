"""A fake Telegram Bot API on 127.0.0.1 (ephemeral port): getMe, webhooks, setMyCommands, queued
getUpdates, sendMessage, editMessageText, answerCallbackQuery, sendPhoto; records calls with
timestamps, can answer 429 with parameters.retry_after (the next few calls of a method, or a storm:
some calls out of every N) or 409 Conflict, or leave a call unanswered; unknown methods get 400,
never 404."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import Call, RecordingServer
from tests.fakes.storm import Storm, storm_of

TOKEN = "123456:TEST-token"
BOT_ID = 123456
BOT_USERNAME = "crm_test_bot"
_JSON_FIELDS = (
    "reply_markup",
    "allowed_updates",
    "commands",
    "link_preview_options",
    "scope",
    "reply_parameters",
)


@dataclass(slots=True)
class _Failure:
    status: int
    description: str
    times: int | None  # None: until cleared
    parameters: dict[str, Any] | None = None


@dataclass(slots=True)
class FakeTelegramApi(RecordingServer):
    """``url`` is the Bot API base that ptb appends the token to (TELEGRAM_API_URL). ``clock``
    timestamps calls; tests with a fake clock pass theirs."""

    clock: Callable[[], float] = time.monotonic
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: dict[str, _Failure] = field(default_factory=dict)
    _storms: dict[str, Storm] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    held: list[Call] = field(default_factory=list)  # calls left unanswered (see ``hold``)
    _hold: dict[str, asyncio.Event] = field(default_factory=dict)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    async def start(self) -> FakeTelegramApi:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        await self._serve(app)
        return self

    async def stop(self) -> None:
        self._stopping.set()  # held calls end first: the server's cleanup waits for them
        await self._shutdown()

    # -- what tests use ---------------------------------------------------------------------

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 2) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``retry_after``."""
        self._failures[method] = _Failure(
            429, f"Too Many Requests: retry after {retry_after}", times, {"retry_after": retry_after}
        )

    def storm(
        self, method: str, *, every: int, burst: int = 1, retry_after: int | Sequence[int] = 1
    ) -> Storm:
        """Answer ``burst`` consecutive calls of ``method`` out of every ``every`` with 429 and
        ``parameters.retry_after`` (after ``rate_limit``'s calls, if any), until
        ``clear_failures``; the Storm counts what it served."""
        self._storms[method] = storm_of(every, burst, retry_after)
        return self._storms[method]

    def refuse(self, method: str, *, status: int, description: str, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status`` (403 "Forbidden: bot was
        blocked by the user", as Telegram does for a chat that blocked the bot)."""
        self._failures[method] = _Failure(status, description, times)

    def conflict(self) -> None:
        """Answer getUpdates with 409, as Telegram does while another poller uses the token,
        until ``clear_failures``."""
        self._failures["getUpdates"] = _Failure(
            409,
            "Conflict: terminated by other getUpdates request; "
            "make sure that only one bot instance is running",
            None,
        )

    def hold(self, method: str) -> asyncio.Event:
        """Leave the next call of ``method`` unanswered until the fake stops, as a send in flight
        when the bot is killed: it is listed in ``held``, never among the answered calls. The
        event is set when that call has arrived."""
        self._hold[method] = asyncio.Event()
        return self._hold[method]

    def clear_failures(self) -> None:
        self._failures.clear()
        self._storms.clear()

    def queue(self, update: dict[str, Any]) -> dict[str, Any]:
        self.updates.append(update)
        self._changed.set()
        return update

    def message_update(
        self,
        user_id: int,
        text: str = "",
        *,
        name: str = "Carla",
        photo: bool = False,
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """An Update as Telegram sends it for a private-chat message (not queued)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": {"id": user_id, "is_bot": False, "first_name": name},
        }
        if photo:
            message["photo"] = [
                {"file_id": "small-id", "file_unique_id": "s", "width": 90, "height": 90, "file_size": 1000},
                {
                    "file_id": "large-id",
                    "file_unique_id": "l",
                    "width": 800,
                    "height": 800,
                    "file_size": 90000,
                },
            ]
            if text:
                message["caption"] = text
        else:
            message["text"] = text
            if text.startswith("/"):
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}
                ]
        return {"update_id": update_id or next(self._update_ids), "message": message}

    def group_update(
        self,
        chat_id: int,
        user_id: int,
        text: str = "",
        *,
        name: str = "Carla",
        mention: bool = False,
        reply_to: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A message in the group ``chat_id`` (not queued): ``mention`` marks each @bot in the
        text as a mention entity, ``reply_to`` makes it a reply to the bot's message with that id;
        ``extra`` adds fields (new_chat_members, migrate_to_chat_id, ...)."""
        update = self.message_update(user_id, text, name=name)
        message = update["message"]
        message["chat"] = {
            "id": chat_id,
            "type": "supergroup" if chat_id < -(10**12) else "group",
            "title": "Acme",
        }
        if mention:
            tag = f"@{BOT_USERNAME}"
            message["entities"] = [
                {"type": "mention", "offset": at, "length": len(tag)}
                for at in range(len(text))
                if text.startswith(tag, at)
            ]
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": message["chat"],
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "CRM", "username": BOT_USERNAME},
                "text": "Added to ticket #1.",
            }
        message.update(extra)
        return update

    def member_update(self, chat_id: int, *, old: str, new: str, by: int = 42) -> dict[str, Any]:
        """my_chat_member: the bot's own membership in ``chat_id`` went from ``old`` to ``new``."""
        bot = {"id": BOT_ID, "is_bot": True, "first_name": "CRM", "username": BOT_USERNAME}
        return {
            "update_id": next(self._update_ids),
            "my_chat_member": {
                "chat": {"id": chat_id, "type": "group", "title": "Acme"},
                "from": {"id": by, "is_bot": False, "first_name": "Ann"},
                "date": int(time.time()),
                "old_chat_member": {"user": bot, "status": old},
                "new_chat_member": {
                    "user": bot,
                    "status": new,
                    **({"until_date": 0} if new == "kicked" else {}),
                },
            },
        }

    def callback_update(
        self, user_id: int, data: str, *, message_id: int, name: str = "Carla"
    ) -> dict[str, Any]:
        """A button press on the bot's message ``message_id`` in a private chat (not queued)."""
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": f"cq-{next(self._message_ids)}",
                "from": {"id": user_id, "is_bot": False, "first_name": name},
                "chat_instance": "ci",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private", "first_name": name},
                    "from": {"id": BOT_ID, "is_bot": True, "first_name": "CRM"},
                    "text": "How did we do?",
                },
            },
        }

    # -- the server ---------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        # ptb sends form fields whose values are JSON (and multipart when a file goes along).
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = value if isinstance(value, web.FileField) else str(value)
        for key in _JSON_FIELDS:
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params

    def _record(
        self, method: str, params: dict[str, Any], status: int, *, retry_after: int | None = None
    ) -> None:
        call = Call(method=method, params=params, at=self.clock(), status=status, retry_after=retry_after)
        self.calls.append(call)
        self._changed.set()

    def _too_many(self, method: str, params: dict[str, Any], retry_after: int) -> web.Response:
        """What the Bot API answers when flood control kicks in."""
        self._record(method, params, 429, retry_after=retry_after)
        body = {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {retry_after}",
            "parameters": {"retry_after": retry_after},
        }
        return web.json_response(body, status=429)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        if request.match_info["token"] != TOKEN:
            self._record(method, params, 401)
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        arrived = self._hold.pop(method, None)
        if arrived is not None:
            self.held.append(Call(method=method, params=params, at=self.clock(), status=0))
            arrived.set()
            await self._stopping.wait()
            return web.json_response({"ok": False, "error_code": 503, "description": "stopped"}, status=503)
        failure = self._failures.get(method)
        if failure is not None and (failure.times is None or failure.times > 0):
            if failure.times is not None:
                failure.times -= 1
            retry_after = (failure.parameters or {}).get("retry_after")
            self._record(method, params, failure.status, retry_after=retry_after)
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.parameters:
                body["parameters"] = failure.parameters
            return web.json_response(body, status=failure.status)
        storm = self._storms.get(method)
        wait = storm.next_call() if storm is not None else None
        if wait is not None:
            return self._too_many(method, params, wait)
        if method == "getUpdates":
            return await self._get_updates(params)
        self._record(method, params, 200)
        result = self._answer(method, params)
        if result is None:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: method {method} not found"},
                status=400,
            )
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        # Confirmed updates are forgotten, as Telegram does.
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            # A short long-poll keeps tests quick and shutdown prompt.
            self._changed.clear()
            wait = min(float(params.get("timeout") or 0), 0.3)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)
        served = list(self.updates)
        self._record("getUpdates", params, 200)
        return web.json_response({"ok": True, "result": served})

    def _message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params.get("chat_id") or 0)
        return {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group", "title": "g"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "CRM", "username": BOT_USERNAME},
            **extra,
        }

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "CRM",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        if method in ("deleteWebhook", "setWebhook", "setMyCommands", "answerCallbackQuery"):
            return True
        if method in ("sendMessage", "editMessageText"):
            return self._message(params, text=str(params.get("text", "")))
        if method == "sendPhoto":
            photo = [{"file_id": "sent-photo", "file_unique_id": "p", "width": 1, "height": 1}]
            return self._message(params, photo=photo)
        return None
