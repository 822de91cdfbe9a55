"""Getting requests to the API: 413 for bodies over 1 MB (declared or streamed) before parsing;
the API on the bot's loop when the server has a thread of its own, and on the same loop too;
anything unexpected a 500 in the error shape, its Idempotency-Key not kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.api import customers
from bot.api.app import build_api
from bot.http import HttpServer, build_asgi
from crm_store.store import Store
from handlers.context import Services
from tests.bot.api.conftest import ADMIN, AUTH

BIG = b'{"name": "' + b"x" * 1_000_000 + b'"}'


async def _chunks() -> AsyncIterator[bytes]:
    for start in range(0, len(BIG), 64_000):
        yield BIG[start : start + 64_000]


async def test_bodies_over_a_megabyte_are_413_declared_or_streamed(
    api: httpx.AsyncClient, store: Store
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    declared = await api.post("/customers", content=BIG, headers=headers)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"
    streamed = await api.post("/customers", content=_chunks(), headers=headers)
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    lying = await api.post("/customers", content=BIG, headers={**headers, "Content-Length": "10"})
    assert lying.status_code == 413  # the bytes are counted, whatever the header says
    async with store.read() as tx:
        assert await tx.customers.count() == 0
    fits = await api.post("/customers", json={"name": "Acme", "custom": {"note": "y" * 400}}, headers=AUTH)
    assert fits.status_code == 201


@pytest.mark.parametrize("threaded", [True, False], ids=["own-thread", "bot-loop"])
async def test_a_real_server_runs_the_api_on_the_bots_loop(
    services: Services, threaded: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    loops: list[bool] = []
    real = customers.new_customer

    async def recording(*args: Any, **kwargs: Any) -> Any:
        loops.append(asyncio.get_running_loop() is loop)
        return await real(*args, **kwargs)

    monkeypatch.setattr(customers, "new_customer", recording)
    app = build_asgi(api=build_api(services, env_token=ADMIN), loop=loop if threaded else None)
    server = HttpServer(app, host="127.0.0.1", port=0, threaded=threaded)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url + "/api/v1", trust_env=False, headers=AUTH) as http:
            made = await http.post("/customers", json={"name": "Acme Corp"})
            assert made.status_code == 201, made.text
            assert (await http.get(f"/customers/{made.json()['id']}")).json()["name"] == "Acme Corp"
            big = await http.post(
                "/customers", content=_chunks(), headers={"Content-Type": "application/json"}
            )
            assert big.status_code == 413
            big = await http.post("/customers", content=BIG, headers={"Content-Type": "application/json"})
            assert big.status_code == 413
            assert (await http.get("/openapi.json")).status_code == 200
        assert loops == [True]
    finally:
        await server.stop()


async def test_a_crash_is_a_500_in_the_error_shape_and_its_key_is_released(
    api: httpx.AsyncClient, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(customers, "new_customer", broken)
    headers = {**AUTH, "Idempotency-Key": "retry-me"}
    crashed = await api.post("/customers", json={"name": "Acme"}, headers=headers)
    assert crashed.status_code == 500
    assert crashed.json() == {
        "error": {
            "code": "internal",
            "message": "Something went wrong on our side; it was logged.",
            "fields": [],
        }
    }
    monkeypatch.undo()
    retried = await api.post("/customers", json={"name": "Acme"}, headers=headers)
    assert retried.status_code == 201
