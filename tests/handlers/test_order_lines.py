"""Orders of products: lines by SKU or name, prices from the catalog or given, and refusals that
write nothing."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat


@pytest.fixture
async def shop(router: Router, manager: Actor) -> Chat:
    chat = Chat(router, manager)
    for text in (
        "product add SKU-1 Widget price=2.50",
        "product add MUG-1 Blue mug price=12",
        "product add MUG-2 Red mug price=11",
        "product add TEA-1 Green tea price=€4",
        "product add FREE Sample",
    ):
        assert not (await chat.say(text)).is_error, text
    await chat.say("add Acme Corp")
    return chat


async def _orders(store: Store) -> list[tuple[int, str, list[tuple[int, int, int]]]]:
    async with store.read() as tx:
        orders = await tx.orders.for_customer(1)
        out = []
        for o in sorted(orders, key=lambda o: o.id):
            lines = await tx.orders.lines(o.id)
            out.append(
                (
                    o.amount_cents,
                    o.currency,
                    [(ln.product_id, ln.quantity, ln.unit_price_cents) for ln in lines],
                )
            )
    return out


async def test_an_order_of_products_by_sku_and_name(shop: Chat, store: Store) -> None:
    reply = await shop.say('order acme 2x SKU-1, 1x "Blue mug"')
    assert not reply.is_error, reply.text
    assert reply.text == (
        "Recorded order #1 of $17.00 for Acme Corp (#1): "
        "2 × Widget (SKU-1) at $2.50; 1 × Blue mug (MUG-1) at $12.00."
    )
    assert not (await shop.say("order acme corp 3x red mugg, 1X sku-1 @ 2")).is_error  # a typo, a given price
    assert not (await shop.say("order acme 1× “Blue mug”")).is_error  # a phone's quotes
    assert await _orders(store) == [
        (1700, "USD", [(1, 2, 250), (2, 1, 1200)]),
        (3500, "USD", [(3, 3, 1100), (1, 1, 200)]),
        (1200, "USD", [(2, 1, 1200)]),
    ]


async def test_plain_amounts_still_work_beside_lines(shop: Chat, store: Store) -> None:
    assert (await shop.say("order acme 1200 USD annual licence")).text.startswith(
        "Recorded order #1 of $1,200.00"
    )
    assert (await shop.say("order acme 50 for 2x widgets")).text.startswith("Recorded order #2 of $50.00")
    async with store.read() as tx:
        orders = await tx.orders.for_customer(1)
        assert [await tx.orders.lines(o.id) for o in orders] == [[], []]


async def test_refusals_write_nothing(shop: Chat, store: Store) -> None:
    for text, needle in [
        ("order acme 2x zebra", "No product matches 'zebra'"),
        ("order acme 2x mug", "Close: Blue mug (MUG-1); Red mug (MUG-2)"),
        ("order acme 2x SKU-1, 1x teapot", "No product matches 'teapot'"),
        ("order acme 1x FREE", "has no list price; give one: `1x FREE @ 12.50`"),
        ("order acme 1x SKU-1, 1x TEA-1", "different currencies"),
        ("order acme 0x SKU-1", "quantity must be 1 to"),
        ("order acme 2x SKU-1 @ free", "is not a price"),
        ('order acme 2x "Blue mug', "quote is not closed"),
        ("order acme 2x SKU-1, lots of tea", "is not a line like"),
        ("order nobodyknown 2x SKU-1", "No customer matches"),
    ]:
        reply = await shop.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    assert await _orders(store) == []


async def test_a_quoted_name_is_a_name_not_a_sku(shop: Chat, store: Store) -> None:
    await shop.say("product add WIDGET Gadget price=1")
    assert "Widget (SKU-1)" in (await shop.say('order acme 1x "Widget"')).text
    assert "Gadget (WIDGET)" in (await shop.say("order acme 1x widget")).text
