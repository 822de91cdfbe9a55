"""A fake Slack Web API on 127.0.0.1 (ephemeral port): answers like Slack, records calls, can answer 429
(the next few calls of a method, or a storm: some calls out of every N until the test ends); with a
FakeSocketMode attached, apps.connections.open hands out its Socket Mode links."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.local_server import Call, RecordingServer
from tests.fakes.storm import Storm, storm_of

BOT_USER_ID = "UBOT"
TEAM_ID = "T0001"


@dataclass(slots=True)
class FakeSlackApi(RecordingServer):
    """``url`` is the Web API base (give it to AsyncWebClient/SLACK_API_URL); ``response_url(n)``
    makes a slash command's response_url that lands here too (method ``response_url``). ``clock``
    timestamps calls; tests with a fake clock pass theirs."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)  # file id -> bytes (files.uploadV2 step 2)
    clock: Callable[[], float] = time.monotonic
    # Socket Mode: apps.connections.open asks this for a link, given the app token (FakeSocketMode sets it).
    socket_link: Callable[[str], str] | None = None
    # conversations.list serves these, paged by its limit and cursor (add_channel).
    channels: list[dict[str, Any]] = field(default_factory=list)
    _limits: dict[str, list[int]] = field(default_factory=dict)  # method -> [times left, retry_after]
    _failures: dict[str, list[str]] = field(default_factory=dict)  # method -> errors to answer next
    _storms: dict[str, Storm] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/api/"

    def response_url(self, key: str = "1") -> str:
        return f"http://127.0.0.1:{self._port}/respond/{key}"

    def add_user(self, user_id: str, name: str, tz: str = "Europe/Berlin") -> None:
        self.users[user_id] = {
            "id": user_id,
            "name": name.lower(),
            "real_name": name,
            "tz": tz,
            "profile": {"display_name": name, "real_name": name},
        }

    def add_channel(self, channel_id: str, name: str, *, is_member: bool = True) -> None:
        self.channels.append(
            {"id": channel_id, "name": name, "is_channel": True, "is_archived": False, "is_member": is_member}
        )

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with ``{"ok": false, "error": error}``
        (HTTP 200, as Slack does); the call is recorded with ``error`` among its params."""
        self._failures.setdefault(method, []).extend([error] * times)

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        self._limits[method] = [times, retry_after]

    def storm(
        self, method: str, *, every: int, burst: int = 1, retry_after: int | Sequence[int] = 1
    ) -> Storm:
        """Answer ``burst`` consecutive calls of ``method`` out of every ``every`` with 429 (after
        ``rate_limit``'s calls, if any), until the fake stops; the Storm counts what it served."""
        self._storms[method] = storm_of(every, burst, retry_after)
        return self._storms[method]

    async def start(self) -> FakeSlackApi:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # users.info and a few others are GETs
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        await self._serve(app)
        return self

    async def stop(self) -> None:
        await self._shutdown()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        # slack_sdk sends JSON for chat.* and views.*, forms for others: accept both.
        if request.method == "GET":
            return dict(request.query)
        if request.content_type == "application/json":
            data = await request.json()
            return dict(data) if isinstance(data, dict) else {}
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            text = str(value)
            if key in ("blocks", "view", "attachments") and text[:1] in "[{":
                params[key] = json.loads(text)
            else:
                params[key] = text
        params.update({k: v for k, v in request.query.items() if k not in params})
        return params

    def _record(
        self, method: str, params: dict[str, Any], status: int, *, retry_after: int | None = None
    ) -> None:
        call = Call(method=method, params=params, at=self.clock(), status=status, retry_after=retry_after)
        self.calls.append(call)
        self._changed.set()

    def _limited(self, method: str, params: dict[str, Any]) -> web.Response | None:
        limit = self._limits.get(method)
        if limit and limit[0] > 0:
            limit[0] -= 1
            wait: int | None = limit[1]
        else:
            storm = self._storms.get(method)
            wait = storm.next_call() if storm is not None else None
        if wait is None:
            return None
        self._record(method, params, 429, retry_after=wait)
        return web.json_response(
            {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(wait)}
        )

    async def _respond(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        params["response_key"] = request.match_info["key"]
        limited = self._limited("response_url", params)
        if limited is not None:
            return limited
        self._record("response_url", params, 200)
        return web.Response(text="ok")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        self._record("upload", {"file_id": file_id, "size": len(self.uploads[file_id])}, 200)
        return web.Response(text=f"OK - {len(self.uploads[file_id])}")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") and "token" not in params:
            self._record(method, params, 200)
            return web.json_response({"ok": False, "error": "not_authed"})
        limited = self._limited(method, params)
        if limited is not None:
            return limited
        if self._failures.get(method):
            error = self._failures[method].pop(0)
            self._record(method, {**params, "error": error}, 200)
            return web.json_response({"ok": False, "error": error})
        self._record(method, params, 200)
        if method == "apps.connections.open":
            # Like Slack: only an app-level token (xapp-) may open a Socket Mode link.
            token = auth.removeprefix("Bearer ") or str(params.get("token", ""))
            if self.socket_link is None or not token.startswith("xapp-"):
                return web.json_response({"ok": False, "error": "not_allowed_token_type"})
            return web.json_response({"ok": True, "url": self.socket_link(token)})
        answer = self._answer(method, params)
        if answer is None:
            # Like Slack: unknown methods are an error, never a silent success.
            return web.json_response({"ok": False, "error": "unknown_method"}, status=400)
        return web.json_response({"ok": True, **answer})

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any] | None:
        ts = f"{time.time():.6f}"
        if method == "auth.test":
            return {
                "user_id": BOT_USER_ID,
                "bot_id": "BBOT",
                "team_id": TEAM_ID,
                "user": "crm-bot",
                "team": "T",
            }
        if method == "users.info":
            user = self.users.get(str(params.get("user")))
            return {"user": user} if user else {"user": {"id": params.get("user"), "name": "someone"}}
        if method == "conversations.open":
            return {"channel": {"id": f"D{params.get('users', 'X')}"}}
        if method in ("chat.postMessage", "chat.update"):
            return {"channel": params.get("channel"), "ts": params.get("ts") or ts}
        if method == "chat.postEphemeral":
            return {"message_ts": ts}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.uploads) + len(self.of('files.getUploadURLExternal')):06d}"
            return {"upload_url": f"http://127.0.0.1:{self._port}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = params.get("files")
            listed = json.loads(files) if isinstance(files, str) else files or []
            return {"files": [{"id": f.get("id"), "title": f.get("title")} for f in listed]}
        if method == "conversations.list":
            start, size = int(params.get("cursor") or 0), int(params.get("limit") or 100)
            rest = start + size < len(self.channels)
            return {
                "channels": self.channels[start : start + size],
                "response_metadata": {"next_cursor": str(start + size) if rest else ""},
            }
        if method in ("views.open", "views.publish", "views.update"):
            return {"view": {"id": "V1", **(params.get("view") or {})}}
        return None
