"""The HTTP server: Starlette (POST /slack/events, POST /telegram/webhook, the API under /api/v1,
GET /healthz, GET /metrics) served by uvicorn, on the bot's loop or on a thread of its own that hands
the chat and API requests to the bot's loop and answers /healthz and /metrics itself, however busy
that loop is."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message

from bot.health import Health
from bot.metrics import CONTENT_TYPE, Metrics, MetricsMiddleware

_LOGGER = logging.getLogger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]
SlackEndpoint = Endpoint
TelegramEndpoint = Endpoint


def on_loop(endpoint: Endpoint, loop: asyncio.AbstractEventLoop) -> Endpoint:
    """``endpoint`` run on ``loop`` (the bot's), for a server on another thread: the body is read
    here, the request rebuilt there over it, and the finished response (plain data) handed back."""

    async def forwarded(request: Request) -> Response:
        body = await request.body()
        scope = dict(request.scope)

        async def handle() -> Response:
            sent = False

            async def receive() -> Message:
                nonlocal sent
                if sent:
                    return {"type": "http.disconnect"}
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return await endpoint(Request(scope, receive))

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(handle(), loop))

    return forwarded


def build_asgi(
    *,
    slack: SlackEndpoint | None = None,
    telegram: TelegramEndpoint | None = None,
    health: Health | None = None,
    metrics: Metrics | None = None,
    loop: asyncio.AbstractEventLoop | None = None,
    api: ASGIApp | None = None,
) -> Starlette:
    """The routes that are configured; Slack's only when it has a signing secret to check,
    Telegram's only in webhook mode (the endpoint checks the secret header itself); ``api`` (from
    bot.api.app.build_api) at /api/v1. With ``loop``, the chat endpoints and the API run on that
    loop (see ``on_loop``); /healthz and /metrics where it is served (the metrics are read from
    memory, never from the store or the bot's loop). ``metrics``: every request is counted by
    route and status (MetricsMiddleware), the API's too."""
    if loop is not None:
        slack = on_loop(slack, loop) if slack is not None else None
        telegram = on_loop(telegram, loop) if telegram is not None else None
        if api is not None:
            from bot.api.transport import on_loop as api_on_loop

            api = api_on_loop(api, loop)

    async def healthz(_: Request) -> Response:
        if health is not None and not health.healthy:
            # 503 so a load balancer or orchestrator notices, with the reasons for the operator.
            return JSONResponse({"ok": False, "problems": health.problems()}, status_code=503)
        return JSONResponse({"ok": True})

    async def scrape(_: Request) -> Response:
        assert metrics is not None
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    if metrics is not None:
        routes.append(Route("/metrics", scrape, methods=["GET"]))
    if slack is not None:
        # The endpoint refuses what is not a signed Slack request itself, one log line each.
        routes.append(Route("/slack/events", slack, methods=["POST"]))
    if telegram is not None:
        routes.append(Route("/telegram/webhook", telegram, methods=["POST"]))
    middleware = [Middleware(MetricsMiddleware, metrics=metrics)] if metrics is not None else []
    if api is not None:
        from bot.api.app import PREFIX, outside_not_found

        routes.append(Mount(PREFIX, app=api))
        # A path the mount cannot take (a newline in it) is answered here: in the API's shape.
        return Starlette(routes=routes, middleware=middleware, exception_handlers={404: outside_not_found})
    return Starlette(routes=routes, middleware=middleware)


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
    """uvicorn on the running event loop (never ``uvicorn.run``, which would own the loop), or with
    ``threaded`` on a thread and loop of its own (build the app with ``loop=`` the bot's loop); then
    SIGINT and SIGTERM, which only the main thread receives, are caught on the bot's loop."""

    def __init__(self, app: Starlette, *, host: str, port: int, threaded: bool = False) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        self.server = _Server(config)
        self.threaded = threaded
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._failed: BaseException | None = None
        self._signals: list[int] = []

    async def start(self) -> str:
        """Serve in the background; returns the URL actually bound (port 0 picks a free one)."""
        if self.threaded:
            return await self._start_thread()
        self._task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start (port taken, ...)
                raise RuntimeError("the HTTP server stopped during start-up")
            await asyncio.sleep(0.02)
        return self._url()

    async def _start_thread(self) -> str:
        def serve() -> None:
            try:
                asyncio.run(self.server.serve())
            except BaseException as exc:
                self._failed = exc

        self._thread = threading.Thread(target=serve, name="http", daemon=True)
        self._thread.start()
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the HTTP server stopped during start-up") from self._failed
            await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._exit)
                self._signals.append(sig)
        return self._url()

    def _exit(self) -> None:
        self.server.should_exit = True

    def _url(self) -> str:
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def wait(self) -> None:
        if self._task is not None:
            await self._task
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task
            self._task = None
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        loop = asyncio.get_running_loop()
        for sig in self._signals:
            loop.remove_signal_handler(sig)
        self._signals = []
