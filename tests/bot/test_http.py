"""The HTTP server on its own thread: /healthz answers while the bot's loop is busy, and the chat
endpoints run on the bot's loop with the body as sent."""

from __future__ import annotations

import asyncio
import time
import urllib.request

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.health import Health
from bot.http import HttpServer, build_asgi

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str) -> tuple[int, float]:
    started = time.monotonic()
    with _NO_PROXY.open(url, timeout=10) as response:
        response.read()
        return response.status, time.monotonic() - started


async def test_healthz_answers_while_the_bots_loop_is_busy_and_chat_requests_run_on_that_loop() -> None:
    loop = asyncio.get_running_loop()
    seen: list[tuple[bool, bytes, str]] = []

    async def slack(request: Request) -> Response:
        seen.append((asyncio.get_running_loop() is loop, await request.body(), request.headers["x-probe"]))
        return JSONResponse({"ok": True}, headers={"Retry-After": "2"})

    app = build_asgi(slack=slack, health=Health(), loop=loop)
    server = HttpServer(app, host="127.0.0.1", port=0, threaded=True)
    url = await server.start()
    try:
        probe = loop.run_in_executor(None, _get, url + "/healthz")
        end = time.monotonic() + 1.5
        while time.monotonic() < end:  # the bot's loop doing CPU work, holding it for 1.5 s
            pass
        status, took = await probe
        assert status == 200 and took < 0.5

        def post() -> tuple[int, str, str]:
            request = urllib.request.Request(
                url + "/slack/events", data=b"command=%2Fcrm", headers={"X-Probe": "p1"}, method="POST"
            )
            with _NO_PROXY.open(request, timeout=10) as response:
                return response.status, response.read().decode(), response.headers["Retry-After"]

        assert await loop.run_in_executor(None, post) == (200, '{"ok":true}', "2")
        assert seen == [(True, b"command=%2Fcrm", "p1")]
    finally:
        await server.stop()
