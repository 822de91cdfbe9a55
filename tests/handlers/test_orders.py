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


async def test_unknown_currency_code_is_refused_with_the_known_ones(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    for text, code in (
        ("order acme 1200 XYZ", "XYZ"),
        ("order acme 1200 VAT included", "VAT"),
        ("order acme 2k ABC for the pilot", "ABC"),
    ):
        reply = await chat.say(text)
        assert reply.is_error, (text, reply.text)
        assert reply.text == (
            f"{code} is not a currency I know; use one of AUD, CAD, CHF, DKK, EUR, GBP, JPY, NOK, SEK, "
            f"USD. A note that starts with three capitals goes after the currency: `<amount> USD {code} …`."
        )
    async with store.read() as tx:
        assert await tx.orders.for_customer(1) == []


async def test_a_note_starting_with_capitals_follows_the_currency(chat: Chat, store: Store) -> None:
    """Three capitals after the amount are a currency code; after a currency (a code or a symbol)
    they are the note, and so are lower-case words that name no currency."""
    await chat.say("add Acme Corp")
    for text in (
        "order acme 1200 USD VAT included",
        "order acme $1,200 VAT included",
        "order acme 1200 eur VAT included",
        "order acme 1200 vat included",
    ):
        assert (await chat.say(text)).text.startswith("Recorded order"), text
    async with store.read() as tx:
        orders = await tx.orders.for_customer(1)
    assert sorted((o.currency, o.note) for o in orders) == [
        ("EUR", "VAT included"),
        ("USD", "VAT included"),
        ("USD", "VAT included"),
        ("USD", "vat included"),
    ]
