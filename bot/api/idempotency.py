"""``Idempotency-Key`` on writes: the first answer is stored, and a retry with the same key and
the same request gets it again without running anything; the same key on another request is a
422. A key whose first request is still running (or was cut off mid-way) answers 409."""

from __future__ import annotations

import hashlib
import logging

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.auth import ApiState, identify
from bot.api.errors import ApiError, FieldError, error_json
from bot.api.transport import read_body, replay

_LOGGER = logging.getLogger(__name__)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_KEY = 255


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if scope["type"] != "http" or scope["method"] not in WRITES or key is None:
            await self.app(scope, receive, send)
            return
        if not key.strip() or len(key) > MAX_KEY:
            field = FieldError(field="Idempotency-Key", message=f"1 to {MAX_KEY} characters")
            await error_json(422, "invalid", "The Idempotency-Key header is not valid.", [field])(
                scope, receive, send
            )
            return
        state: ApiState = scope["app"].state.api
        try:
            caller = await identify(state, headers)
        except ApiError:
            await self.app(scope, receive, send)  # the endpoint answers the 401 the usual way
            return
        body = await read_body(scope, receive, state.max_body)
        query = scope.get("query_string", b"").decode("latin-1")
        request = f"{scope['method']} {scope['path']}" + (f"?{query}" if query else "")
        digest = hashlib.sha256(body).hexdigest()
        store = state.services.store
        async with store.write(caller.actor_key) as tx:
            claimed = await tx.api_tokens.claim_key(caller.name, key, request=request, request_hash=digest)
            earlier = None if claimed else await tx.api_tokens.answer(caller.name, key)
        if earlier is not None:
            await self._earlier(earlier.request == request and earlier.request_hash == digest, earlier)(
                scope, receive, send
            )
            return
        sent: list[Message] = []

        async def collect(message: Message) -> None:
            sent.append(message)

        try:
            await self.app(scope, replay(body), collect)
        except BaseException:
            async with store.write(caller.actor_key) as tx:
                await tx.api_tokens.release_key(caller.name, key)
            raise
        start = next(m for m in sent if m["type"] == "http.response.start")
        status = int(start["status"])
        async with store.write(caller.actor_key) as tx:
            if status >= 500 or status == 429:
                # Not an answer to keep: the retry should run the request again.
                await tx.api_tokens.release_key(caller.name, key)
            else:
                answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
                await tx.api_tokens.save_answer(caller.name, key, status=status, body=answer.decode())
        for message in sent:
            await send(message)

    @staticmethod
    def _earlier(same: bool, earlier: object) -> Response:
        from crm_store.api_tokens import StoredAnswer

        assert isinstance(earlier, StoredAnswer)
        if not same:
            field = FieldError(field="Idempotency-Key", message="already used for another request")
            return error_json(
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request (method, path or body); "
                "use a new key for a new request.",
                [field],
            )
        if earlier.status is None:
            return error_json(
                409,
                "idempotency_in_progress",
                "The first request with this Idempotency-Key has not finished (or was cut off); "
                "retry later, or check the resource before sending it again under a new key.",
                headers={"Retry-After": "1"},
            )
        return Response(
            earlier.body or "",
            status_code=earlier.status,
            media_type="application/json",
            headers={"Idempotent-Replayed": "true"},
        )


class Crashes:
    """Anything unexpected answers 500 in the error shape (logged with its traceback here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            _LOGGER.exception("API request %s %s failed", scope.get("method"), scope.get("path"))
            if not started:
                await error_json(500, "internal", "Something went wrong on our side; it was logged.")(
                    scope, receive, send
                )
