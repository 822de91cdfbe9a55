"""/api/v1/products: create with `product add`'s rules, upsert by SKU, get, list in pages."""

from __future__ import annotations

import httpx

from crm_store.store import Store
from tests.bot.api.conftest import AUTH


async def test_create_upsert_get_and_list_products(api: httpx.AsyncClient, store: Store) -> None:
    made = await api.post(
        "/products",
        json={"sku": "MUG-1", "name": " Blue   mug ", "price_cents": 950, "currency": "eur"},
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["name"], made.json()["currency"], made.json()["price_cents"]) == (
        "Blue mug",
        "EUR",
        950,
    )
    taken = await api.post("/products", json={"sku": "mug-1", "name": "Other"}, headers=AUTH)
    assert taken.status_code == 422 and "already" in taken.json()["error"]["message"]
    updated = await api.put(
        "/products/by-sku/mug-1", json={"name": "Blue mug XL", "price_cents": 1200}, headers=AUTH
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["id"], updated.json()["sku"], updated.json()["price_cents"]) == (
        made.json()["id"],
        "MUG-1",
        1200,
    )
    assert updated.json()["currency"] == "EUR"  # not sent: stays
    created = await api.put("/products/by-sku/KIT/2", json={"name": "Kitchen kit"}, headers=AUTH)
    assert created.status_code == 201 and created.json()["sku"] == "KIT/2"
    got = await api.get(f"/products/{made.json()['id']}", headers=AUTH)
    assert got.json()["name"] == "Blue mug XL"
    assert (await api.get("/products/999", headers=AUTH)).status_code == 404
    assert (await api.get(f"/products/{2**70}", headers=AUTH)).status_code == 404
    first = await api.get("/products", params={"limit": 1}, headers=AUTH)
    assert [p["sku"] for p in first.json()["items"]] == ["MUG-1"]
    second = await api.get(
        "/products", params={"limit": 1, "cursor": first.json()["next_cursor"]}, headers=AUTH
    )
    assert [p["sku"] for p in second.json()["items"]] == ["KIT/2"] and second.json()["next_cursor"] is None
    async with store.read() as tx:
        assert {(e.actor, e.action) for e in await tx.audit.recent(entity="product")} == {
            ("api:env", "create"),
            ("api:env", "update"),
        }


async def test_bad_product_fields_are_each_named(api: httpx.AsyncClient, store: Store) -> None:
    response = await api.post(
        "/products", json={"sku": "bad sku!", "name": "  ", "currency": "XYZ", "price_cents": 5}, headers=AUTH
    )
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"sku", "name", "currency"}
    negative = await api.post("/products", json={"sku": "A", "name": "A", "price_cents": -1}, headers=AUTH)
    assert negative.status_code == 422 and negative.json()["error"]["fields"][0]["field"] == "price_cents"
    async with store.read() as tx:
        assert await tx.catalog.count() == 0
