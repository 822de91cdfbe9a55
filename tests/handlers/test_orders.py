"""The order command."""

from __future__ import annotations

from crm_store.store import Store
from tests.conftest import Chat


async def test_order_amount_forms(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    assert (await chat.say("order acme 1200 annual licence")).text.startswith(
        "Recorded order #1 of $1,200.00"
    )
    assert "€99.50" in (await chat.say("order acme €99.50")).text
    assert "2,500.00 CHF" in (await chat.say("order acme corp 2,500 CHF support")).text
    assert "$3,000.00" in (await chat.say("order acme 3k")).text
    async with store.read() as tx:
        orders = await tx.orders.for_customer(1)
    assert sorted((o.amount_cents, o.currency) for o in orders) == [
        (9950, "EUR"),
        (120000, "USD"),
        (250000, "CHF"),
        (300000, "USD"),
    ]
    assert {o.note for o in orders} >= {"annual licence", "support"}


async def test_order_refusals(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    for text, needle in [
        ("order acme", "Usage: order"),
        ("order acme lots", "Usage: order"),
        ("order acme 0", "more than zero"),
        ("order acme 99999999999", "too large"),
        ("order acme $5 EUR", "different currencies"),
        ("order nobodyknown 100", "No customer matches"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        assert await tx.orders.for_customer(1) == []
