"""/api/v1/customers/{id}/recommendations and /forecast: the figures `recommend` and `forecast`
give in chat; 503 with Retry-After while the next-product model is being built; clear 404s."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from crm_store.store import Store
from handlers.context import Services
from tests.bot.api.conftest import AUTH
from tests.conftest import Chat
from tests.handlers.test_forecast import seed_book
from tests.handlers.test_recommend import seed_shop


async def test_recommendations_wait_for_the_model_then_match_chat(
    api: httpx.AsyncClient, store: Store, services: Services, chat: Chat
) -> None:
    ids = await seed_shop(store)
    waiting = await api.get(f"/customers/{ids['ann']}/recommendations", headers=AUTH)
    assert waiting.status_code == 503, waiting.text
    assert waiting.headers["Retry-After"] == "30" and waiting.json()["error"]["code"] == "not_ready"
    for _ in range(100):  # the 503 started the build
        if services.recommender.model is not None:
            break
        await asyncio.sleep(0.05)
    response = await api.get(f"/customers/{ids['ann']}/recommendations", params={"limit": 3}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(o["rank"], o["sku"], o["kind"]) for o in body["items"]] == [
        (1, "POT", "similar"),
        (2, "TEA", "similar"),
        (3, body["items"][2]["sku"], "best_seller"),
    ]
    assert body["items"][0]["reason"] == "bought by 10 of the 11 customers who bought Blue mug"
    assert body["model_products"] == 5 and body["built_at"] is not None
    said = await chat.say(f"recommend #{ids['ann']} 3")
    assert [i.detail for i in said.items] == [o["reason"] for o in body["items"]]
    assert (await api.get("/customers/999/recommendations", headers=AUTH)).status_code == 404
    too_many = await api.get(f"/customers/{ids['ann']}/recommendations", params={"limit": 21}, headers=AUTH)
    assert too_many.status_code == 422 and too_many.json()["error"]["fields"][0]["field"] == "limit"


async def test_forecast_as_in_chat(api: httpx.AsyncClient, store: Store, chat: Chat) -> None:
    await seed_book(store)
    response = await api.get("/customers/4/forecast", params={"horizon_days": 60}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["horizon_days"] == 60 and body["model"] == "regression"
    assert 0.7 <= body["p_active"] <= 1.0 and body["expected_orders"] > 2
    assert body["revenue_low_cents"] <= body["expected_revenue_cents"] <= body["revenue_high_cents"]
    said = await chat.say("forecast steady 3 co 60")
    assert f"{body['expected_orders']:.1f} orders" in said.text
    assert f"${body['expected_revenue_cents'] / 100:,.0f}" in said.text
    lapsed = (await api.get("/customers/41/forecast", headers=AUTH)).json()
    assert lapsed["horizon_days"] == 90 and lapsed["p_active"] <= 0.2


@pytest.mark.parametrize("days", ["6", "366", "x"])
async def test_forecast_horizon_is_checked(api: httpx.AsyncClient, days: str) -> None:
    response = await api.get("/customers/1/forecast", params={"horizon_days": days}, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "horizon_days"


async def test_no_orders_no_forecast(api: httpx.AsyncClient, store: Store) -> None:
    async with store.write("test") as tx:
        lead = await tx.customers.add(name="Lead Only")
    empty = await api.get(f"/customers/{lead.id}/forecast", headers=AUTH)
    assert empty.status_code == 404 and empty.json()["error"]["code"] == "no_forecast"
    await seed_book(store)
    response = await api.get(f"/customers/{lead.id}/forecast", headers=AUTH)
    assert response.status_code == 404 and "no orders" in response.json()["error"]["message"]
    assert (await api.get(f"/customers/{2**64}/forecast", headers=AUTH)).status_code == 404
