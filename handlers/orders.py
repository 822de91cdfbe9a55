"""The order command: record an amount, or products by SKU or name, against a customer."""

from __future__ import annotations

import re

from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.messages import MAX_TEXT, Reply
from handlers.order_lines import LINES_USAGE, first_line_word, order_with_lines
from handlers.parsing import MAX_AMOUNT_CENTS, currency_after_amount, format_money, parse_amount
from handlers.registry import Area, Command

ORDER_USAGE = f"order <customer> <amount> [currency] [note] | {LINES_USAGE}"


async def order(ctx: Context) -> Reply:
    words = ctx.args.split()
    lines_at = first_line_word(words)
    amount_at = next((i for i, w in enumerate(words) if i > 0 and parse_amount(w) is not None), None)
    if lines_at is not None and (amount_at is None or lines_at < amount_at):
        # "order acme 2x SKU-1, 1x Blue mug": the raw text after the customer keeps its quotes.
        tokens = list(re.finditer(r"\S+", ctx.args))
        start = tokens[lines_at].start()
        return await order_with_lines(ctx, who=ctx.args[:start].strip(), lines_text=ctx.args[start:].strip())
    # The customer is everything before the first amount-looking word (names may hold digits
    # only after the first word, e.g. "3M 1200" still finds "3M").
    at = amount_at
    if at is None:
        raise UsageError(
            "Give the customer and an amount, like 1200 or $1,200.50, or products, like 2x SKU-1.",
            usage=ORDER_USAGE,
        )
    parsed = parse_amount(words[at])
    assert parsed is not None
    cents, currency = parsed
    rest = words[at + 1 :]
    named = currency_after_amount(rest[0], given=currency) if rest else None
    if named is not None:
        currency = named
        rest = rest[1:]
    if cents <= 0:
        raise UserError("The amount must be more than zero.", usage=ORDER_USAGE)
    if cents >= MAX_AMOUNT_CENTS:
        raise UserError("That amount is too large to be an order.", usage=ORDER_USAGE)
    note = " ".join(rest)
    if len(note) > MAX_TEXT:
        raise UserError(f"The note is too long (at most {MAX_TEXT} characters).")
    who = " ".join(words[:at])
    currency = currency or "USD"
    found = await pick_customer(
        ctx, who, rerun=lambda ref: f"order {ref} {' '.join(words[at:])}", usage=ORDER_USAGE
    )
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        order_id = await tx.orders.add(
            customer_id=found.id, rep_id=ctx.actor.rep_id, amount_cents=cents, currency=currency, note=note
        )
    return Reply(text=f"Recorded order #{order_id} of {format_money(cents, currency)} for {describe(found)}.")


COMMANDS = (
    Command(
        "order",
        order,
        ORDER_USAGE,
        "Record an order for a customer: an amount, or products by SKU or name.",
        "order acme 1200 annual licence",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
