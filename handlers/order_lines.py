"""Orders of products: ``order acme 2x SKU-1, 1x "Blue mug" @ 9.50`` read into lines, each
product named by SKU or by name, priced from the catalog unless a price is given."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm_store.records import ProductRecord
from handlers.catalog import readable, resolve_product, unknown_product
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.messages import Reply
from handlers.parsing import MAX_AMOUNT_CENTS, format_money, parse_amount
from handlers.quotes import plain_quotes

LINES_USAGE = 'order <customer> 2x SKU-1, 1x "Blue mug" [@ price]'
MAX_LINES = 50
MAX_QUANTITY = 100_000
# The first word of an order line: a count and an x (2x, 2X, 2×), the product may follow at once.
_LINE_START = re.compile(r"^\d+[x×]", re.IGNORECASE)
_ITEM = re.compile(r"^(\d+)\s*[x×]\s*(.+?)(?:\s*@\s*(\S+))?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Item:
    quantity: int
    product: str
    quoted: bool
    price: str | None


def first_line_word(words: list[str]) -> int | None:
    """The index of the word that starts the order lines (never the first: that names the
    customer), or None when the words hold no ``2x``."""
    return next((i for i, w in enumerate(words) if i > 0 and _LINE_START.match(w)), None)


def _split_items(text: str) -> list[str]:
    """Comma-separated items; commas inside double quotes belong to a name."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if quoted:
        raise UsageError("A quote is not closed.", usage=LINES_USAGE)
    items.append("".join(current))
    return [i.strip() for i in items if i.strip()]


def _items(text: str) -> list[_Item]:
    parsed = []
    for raw in _split_items(text):
        match = _ITEM.match(raw)
        if match is None:
            raise UsageError(f'{raw[:60]!r} is not a line like 2x SKU-1 or 1x "Blue mug".', usage=LINES_USAGE)
        count, product, price = match.groups()
        quantity = int(count)
        if not 1 <= quantity <= MAX_QUANTITY:
            raise UserError(f"A quantity must be 1 to {MAX_QUANTITY:,}, not {count}.", usage=LINES_USAGE)
        quoted = product.startswith('"') and product.endswith('"') and len(product) > 1
        parsed.append(_Item(quantity, product.strip('"').strip(), quoted, price))
    if not parsed:
        raise UsageError("Which products?", usage=LINES_USAGE)
    if len(parsed) > MAX_LINES:
        raise UserError(f"At most {MAX_LINES} lines in one order.")
    return parsed


def _price(item: _Item, product: ProductRecord) -> tuple[int, str]:
    """(unit price in cents, currency) of one line."""
    if item.price is None:
        if product.price_cents is None:
            raise UserError(
                f"{readable(product)} has no list price; give one: `{item.quantity}x {product.sku} @ 12.50`.",
                usage=LINES_USAGE,
            )
        return product.price_cents, product.currency
    parsed = parse_amount(item.price)
    if parsed is None or parsed[0] <= 0:
        raise UserError(f"{item.price!r} is not a price like 12.50.", usage=LINES_USAGE)
    return parsed[0], parsed[1] or product.currency


async def order_with_lines(ctx: Context, *, who: str, lines_text: str) -> Reply:
    """Record an order of products for the customer ``who`` names; an unknown or unclear
    product is answered with the close ones, and nothing is written."""
    text = plain_quotes(lines_text)
    items = _items(text)
    resolved: list[tuple[_Item, ProductRecord]] = []
    async with ctx.store.read() as tx:
        for item in items:
            match = await resolve_product(tx, item.product, by_sku=not item.quoted)
            if match.product is None:
                raise unknown_product(item.product, match)
            resolved.append((item, match.product))
    priced = [(item, product, *_price(item, product)) for item, product in resolved]
    currencies = {currency for *_, currency in priced}
    if len(currencies) > 1:
        raise UserError(
            f"The lines are in different currencies ({', '.join(sorted(currencies))}); "
            "one order, one currency."
        )
    currency = currencies.pop()
    total = sum(item.quantity * cents for item, _, cents, _ in priced)
    if total >= MAX_AMOUNT_CENTS:
        raise UserError("That order is too large.", usage=LINES_USAGE)
    found = await pick_customer(ctx, who, rerun=lambda ref: f"order {ref} {lines_text}", usage=LINES_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        order_id = await tx.orders.add_with_lines(
            customer_id=found.id,
            rep_id=ctx.actor.rep_id,
            currency=currency,
            lines=[(product.id, item.quantity, cents) for item, product, cents, _ in priced],
        )
    detail = "; ".join(
        f"{item.quantity} × {readable(product)} at {format_money(cents, currency)}"
        for item, product, cents, _ in priced
    )
    return Reply(
        text=f"Recorded order #{order_id} of {format_money(total, currency)} for {describe(found)}: {detail}."
    )
