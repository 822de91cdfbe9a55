"""The HTTP server: Starlette (POST /slack/events, POST /telegram/webhook, GET /healthz) served by
uvicorn on the bot's loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.health import Health

_LOGGER = logging.getLogger(__name__)
SlackEndpoint = Callable[[Request], Awaitable[Response]]
TelegramEndpoint = Callable[[Request], Awaitable[Response]]


def build_asgi(
    *,
    slack: SlackEndpoint | None = None,
    telegram: TelegramEndpoint | None = None,
    health: Health | None = None,
) -> Starlette:
    """The routes that are configured; Slack's only when it has a signing secret to check,
    Telegram's only in webhook mode (the endpoint checks the secret header itself)."""

    async def healthz(_: Request) -> Response:
        if health is not None and not health.healthy:
            # 503 so a load balancer or orchestrator notices, with the reasons for the operator.
            return JSONResponse({"ok": False, "problems": health.problems()}, status_code=503)
        return JSONResponse({"ok": True})

    routes = [Route("/healthz", healthz, methods=["GET"])]
    if slack is not None:
        # The endpoint refuses what is not a signed Slack request itself, one log line each.
        routes.append(Route("/slack/events", slack, methods=["POST"]))
    if telegram is not None:
        routes.append(Route("/telegram/webhook", telegram, methods=["POST"]))
    return Starlette(routes=routes)


class _Server(uvicorn.Server):
    """A SIGINT or SIGTERM ends serving, and nothing more. uvicorn raises the signal again once it
    has shut down, and a SIGTERM then ended the process at once, before App.serve had stopped the
    scheduler, delivery (which gives back the outbox rows it claimed) and the front ends (the
    poller its lease): the rows stayed claimed until their lease ran out."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach only that one
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class HttpServer:
    """uvicorn on the running event loop (never ``uvicorn.run``, which would own the loop)."""

    def __init__(self, app: Starlette, *, host: str, port: int) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        self.server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Serve in the background; returns the URL actually bound (port 0 picks a free one)."""
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken, ...)
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def wait(self) -> None:
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
