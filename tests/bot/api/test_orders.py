"""/api/v1/orders: one order priced as `order` prices it, idempotent by external_ref; up to
1,000 in one transaction (all or none, every problem named); a customer's orders in pages."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from crm_store.orders import OrderRepo
from crm_store.store import Store
from tests.bot.api.conftest import AUTH


@pytest.fixture
async def book(api: httpx.AsyncClient) -> dict[str, int]:
    for body in (
        {"sku": "MUG-1", "name": "Blue mug", "price_cents": 950},
        {"sku": "TEA-2", "name": "Green tea", "price_cents": 400},
        {"sku": "FREE-0", "name": "Unpriced thing"},
        {"sku": "EURO-1", "name": "Euro thing", "price_cents": 100, "currency": "EUR"},
    ):
        assert (await api.post("/products", json=body, headers=AUTH)).status_code == 201
    made = await api.put("/customers/by-ref/C-1", json={"name": "Acme Corp"}, headers=AUTH)
    other = await api.post("/customers", json={"name": "Globex"}, headers=AUTH)
    return {"acme": made.json()["id"], "globex": other.json()["id"]}


async def _count(store: Store) -> tuple[int, int]:
    async with store.read() as tx:
        orders = await tx.conn.exec_driver_sql("SELECT count(*) FROM orders")
        lines = await tx.conn.exec_driver_sql("SELECT count(*) FROM order_lines")
        return int(orders.scalar_one()), int(lines.scalar_one())


async def test_one_order_priced_from_the_catalog_and_idempotent_by_external_ref(
    api: httpx.AsyncClient, store: Store, book: dict[str, int]
) -> None:
    body = {
        "customer_external_ref": "C-1",
        "external_ref": "SO-1",
        "ordered_at": "2026-11-20T10:00:00+01:00",
        "lines": [{"sku": "MUG-1", "quantity": 2}, {"sku": "tea-2", "quantity": 1, "unit_price_cents": 350}],
    }
    made = await api.post("/orders", json=body, headers=AUTH)
    assert made.status_code == 201, made.text
    order = made.json()
    assert (order["customer_id"], order["amount_cents"], order["currency"], order["created"]) == (
        book["acme"],
        2 * 950 + 350,
        "USD",
        True,
    )
    assert [(ln["sku"], ln["quantity"], ln["line_cents"]) for ln in order["lines"]] == [
        ("MUG-1", 2, 1900),
        ("TEA-2", 1, 350),
    ]
    assert order["ordered_at"].startswith("2026-11-20T09:00:00")
    again = await api.post("/orders", json=body, headers=AUTH)
    assert again.status_code == 200 and again.json() == {**order, "created": False}
    assert await _count(store) == (1, 2)
    assert (await api.get(f"/orders/{order['id']}", headers=AUTH)).json() == {
        k: v for k, v in order.items() if k != "created"
    }
    async with store.read() as tx:
        assert [(e.actor, e.action) for e in await tx.audit.recent(entity="order")] == [("api:env", "create")]


async def test_an_order_breaking_the_rules_names_each_field(
    api: httpx.AsyncClient, store: Store, book: dict[str, int]
) -> None:
    line = [{"sku": "MUG-1", "quantity": 1}]
    cases: list[tuple[dict[str, Any], set[str]]] = [
        ({"customer_id": book["acme"], "lines": [{"sku": "NOPE", "quantity": 1}]}, {"lines.0.sku"}),
        (
            {"customer_id": book["acme"], "lines": [{"sku": "FREE-0", "quantity": 1}]},
            {"lines.0.unit_price_cents"},
        ),
        (
            {
                "customer_id": book["acme"],
                "lines": [{"sku": "MUG-1", "quantity": 1}, {"sku": "EURO-1", "quantity": 1}],
            },
            {"lines"},
        ),
        ({"customer_id": 424242, "lines": [{"sku": "MUG-1", "quantity": 1}]}, {"customer"}),
        (
            {"customer_external_ref": "C-404", "lines": [{"sku": "MUG-1", "quantity": 1}]},
            {"customer_external_ref"},
        ),
        ({"customer_id": book["acme"], "lines": [{"sku": "MUG-1", "quantity": 0}]}, {"lines.0.quantity"}),
        ({"lines": [{"sku": "MUG-1", "quantity": 1}]}, {"customer_id"}),
        ({"customer_id": book["acme"], "lines": []}, {"lines"}),
        ({"customer_id": book["acme"], "ordered_at": "2026-01-01T10:00:00", "lines": line}, {"ordered_at"}),
        (
            {"customer_id": book["acme"], "ordered_at": "0001-01-01T00:00:00+02:00", "lines": line},
            {"ordered_at"},
        ),
    ]
    for body, fields in cases:
        response = await api.post("/orders", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        assert {f["field"] for f in response.json()["error"]["fields"]} == fields, body
    assert await _count(store) == (0, 0)


async def test_a_thousand_orders_in_one_transaction_and_a_bad_line_rolls_back_all(
    api: httpx.AsyncClient, store: Store, book: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    def orders(n: int, prefix: str) -> list[dict[str, Any]]:
        return [
            {
                "customer_id": book["acme"] if i % 2 else book["globex"],
                "external_ref": f"{prefix}-{i}",
                "lines": [{"sku": "MUG-1", "quantity": 1 + i % 3}, {"sku": "TEA-2", "quantity": 1}],
            }
            for i in range(n)
        ]

    too_many = await api.post("/orders/bulk", json={"orders": orders(1001, "X")}, headers=AUTH)
    assert too_many.status_code == 422 and too_many.json()["error"]["fields"][0]["field"] == "orders"
    batch = orders(1000, "B")
    batch[500]["lines"][1]["sku"] = "GONE"
    batch[700]["lines"][0]["quantity"] = 100_001
    refused = await api.post("/orders/bulk", json={"orders": batch}, headers=AUTH)
    assert refused.status_code == 422
    assert [f["field"] for f in refused.json()["error"]["fields"]] == ["orders.700.lines.0.quantity"]
    batch[700]["lines"][0]["quantity"] = 1
    refused = await api.post("/orders/bulk", json={"orders": batch}, headers=AUTH)
    assert [f["field"] for f in refused.json()["error"]["fields"]] == ["orders.500.lines.1.sku"]
    assert await _count(store) == (0, 0)

    # A failure in the middle of the writes: the first 600 orders written are rolled back too.
    real = OrderRepo.add_with_lines
    calls = 0

    async def failing(self: OrderRepo, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 600:
            raise RuntimeError("the disk filled up")
        return await real(self, **kwargs)

    batch[500]["lines"][1]["sku"] = "TEA-2"
    monkeypatch.setattr(OrderRepo, "add_with_lines", failing)
    crashed = await api.post("/orders/bulk", json={"orders": batch}, headers=AUTH)
    assert crashed.status_code == 500
    assert await _count(store) == (0, 0)
    monkeypatch.undo()

    done = await api.post("/orders/bulk", json={"orders": batch}, headers=AUTH)
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["existing"]) == (1000, 0)
    assert await _count(store) == (1000, 2000)
    mixed = orders(1002, "B")[2:]  # 998 already in, 2 new
    again = await api.post("/orders/bulk", json={"orders": mixed}, headers=AUTH)
    assert (again.json()["created"], again.json()["existing"]) == (2, 998)
    assert [r["created"] for r in again.json()["results"][-3:]] == [False, True, True]
    assert again.json()["results"][0]["id"] == done.json()["results"][2]["id"]
    twice = await api.post("/orders/bulk", json={"orders": orders(2, "D") + orders(1, "D")}, headers=AUTH)
    assert twice.status_code == 422
    assert {f["field"] for f in twice.json()["error"]["fields"]} == {
        "orders.0.external_ref",
        "orders.2.external_ref",
    }
    assert await _count(store) == (1002, 2004)


async def test_a_customers_orders_in_pages(api: httpx.AsyncClient, book: dict[str, int]) -> None:
    for n in range(3):
        body = {"customer_id": book["acme"], "lines": [{"sku": "MUG-1", "quantity": n + 1}]}
        assert (await api.post("/orders", json=body, headers=AUTH)).status_code == 201
    other = {"customer_id": book["globex"], "lines": [{"sku": "TEA-2", "quantity": 1}]}
    assert (await api.post("/orders", json=other, headers=AUTH)).status_code == 201
    first = await api.get(f"/customers/{book['acme']}/orders", params={"limit": 2}, headers=AUTH)
    assert [o["amount_cents"] for o in first.json()["items"]] == [950, 1900]
    rest = await api.get(
        f"/customers/{book['acme']}/orders",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=AUTH,
    )
    assert [o["amount_cents"] for o in rest.json()["items"]] == [2850] and rest.json()["next_cursor"] is None
    assert (await api.get("/customers/999/orders", headers=AUTH)).status_code == 404
    assert (await api.get(f"/customers/{2**64}/orders", headers=AUTH)).status_code == 404
    assert (await api.get(f"/orders/{2**64}", headers=AUTH)).status_code == 404
    assert (await api.get("/orders/77", headers=AUTH)).status_code == 404
