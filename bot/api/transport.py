"""Getting a request to the API: bodies over the limit refused with 413 before anything parses
them, and, for a server on its own thread, the request run on the bot's loop (where the store is)."""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1_000_000


class TooLarge(Exception):
    pass


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, or TooLarge as soon as the declared length or the bytes received pass
    ``limit`` (a client may send no Content-Length, or a false one)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = 0
            if declared > limit:
                raise TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A receive that gives ``body`` once, then a disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": f"The body is over {limit:,} bytes.",
                "fields": [],
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: the body read whole (up to ``limit``) before the app sees it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(scope, receive, self.limit)
        except TooLarge:
            await too_large(send, self.limit)
            return
        await self.app(scope, replay(body), send)


def on_loop(app: ASGIApp, loop: asyncio.AbstractEventLoop, limit: int = MAX_BODY) -> ASGIApp:
    """``app`` run on ``loop`` (the bot's) for a server on another thread: the body is read (and
    an oversized one refused) here, the app runs there, and its answer, plain data, comes back."""

    async def forwarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        try:
            body = await read_body(scope, receive, limit)
        except TooLarge:
            await too_large(send, limit)
            return
        sent: list[Message] = []

        async def collect(message: Message) -> None:
            sent.append(message)

        inner = dict(scope)
        run = app(inner, replay(body), collect)
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run, loop))  # type: ignore[arg-type]
        if "route" in inner:  # the route matched, for bot.metrics to count by its template
            scope["route"] = inner["route"]
        for message in sent:
            await send(message)

    return forwarded
