"""Orders of products: ``order acme 2x SKU-1, 1x "Blue mug" @ 9.50`` read into lines, each
product named by SKU or by name, priced from the catalog unless a price is given."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
        return list_price(item.quantity, product)
    parsed = parse_amount(item.price)
    if parsed is None or parsed[0] <= 0:
        raise UserError(f"{item.price!r} is not a price like 12.50.", usage=LINES_USAGE)
    return parsed[0], parsed[1] or product.currency


def list_price(quantity: int, product: ProductRecord) -> tuple[int, str]:
    """(unit price in cents, currency) of a line that gives no price: the catalog's."""
    if product.price_cents is None:
        raise UserError(
            f"{readable(product)} has no list price; give one: `{quantity}x {product.sku} @ 12.50`.",
            usage=LINES_USAGE,
        )
    return product.price_cents, product.currency


def one_currency(currencies: set[str]) -> str:
    if len(currencies) > 1:
        raise UserError(
            f"The lines are in different currencies ({', '.join(sorted(currencies))}); "
            "one order, one currency."
        )
    return currencies.pop()


def check_total(total: int) -> None:
    if total >= MAX_AMOUNT_CENTS:
        raise UserError("That order is too large.", usage=LINES_USAGE)


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
    currency = one_currency({currency for *_, currency in priced})
    total = sum(item.quantity * cents for item, _, cents, _ in priced)
    check_total(total)
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


# -- orders given as data (the HTTP API): the same rules, many orders in one transaction -----------


@dataclass(frozen=True, slots=True)
class LineDraft:
    sku: str
    quantity: int
    unit_price_cents: int | None = None  # None: the catalog's list price


@dataclass(frozen=True, slots=True)
class OrderDraft:
    customer_id: int
    lines: tuple[LineDraft, ...]
    external_ref: str | None = None
    ordered_at: datetime | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why draft ``order`` (its line ``line``, when one is at fault) cannot be recorded."""

    order: int
    line: int | None
    field: str
    message: str


class OrderProblems(UserError):
    """Every problem found in a batch of drafts; none of them was recorded."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the orders; none was recorded.")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Recorded:
    order_id: int
    created: bool  # False: an order with this external_ref was already in the book


def _draft_problems(
    index: int, draft: OrderDraft, products: dict[str, ProductRecord]
) -> tuple[list[Problem], list[tuple[int, int, int]], str]:
    """(problems, lines as (product id, quantity, unit cents), currency) of one draft."""
    problems: list[Problem] = []
    lines: list[tuple[int, int, int]] = []
    currencies: set[str] = set()
    if not draft.lines:
        problems.append(Problem(index, None, "lines", "an order needs at least one line"))
    if len(draft.lines) > MAX_LINES:
        problems.append(Problem(index, None, "lines", f"at most {MAX_LINES} lines in one order"))
    for n, line in enumerate(draft.lines):
        if not 1 <= line.quantity <= MAX_QUANTITY:
            problems.append(Problem(index, n, "quantity", f"a quantity must be 1 to {MAX_QUANTITY:,}"))
            continue
        product = products.get(line.sku)
        if product is None:
            problems.append(Problem(index, n, "sku", f"no product with the SKU {line.sku!r}"))
            continue
        try:
            if line.unit_price_cents is None:
                cents, currency = list_price(line.quantity, product)
            elif not 0 < line.unit_price_cents < MAX_AMOUNT_CENTS:
                raise UserError("a price must be above zero")
            else:
                cents, currency = line.unit_price_cents, product.currency
        except UserError as exc:
            problems.append(Problem(index, n, "unit_price_cents", exc.message))
            continue
        currencies.add(currency)
        lines.append((product.id, line.quantity, cents))
    if problems:
        return problems, [], ""
    try:
        currency = one_currency(currencies)
        check_total(sum(q * cents for _, q, cents in lines))
    except UserError as exc:
        return [Problem(index, None, "lines", exc.message)], [], ""
    return [], lines, currency


async def record_orders(ctx: Context, drafts: Sequence[OrderDraft]) -> list[Recorded]:
    """Record orders of catalog products (by SKU, any case) in ONE transaction, priced and
    checked as `order acme 2x SKU-1` is: all of them or, on any problem, none (OrderProblems
    lists them all). A draft whose external_ref is already in the book is not recorded again:
    it answers that order's id with ``created`` False."""
    refs = [d.external_ref for d in drafts if d.external_ref]
    repeated = {r for r in refs if refs.count(r) > 1} if len(set(refs)) != len(refs) else set()
    problems = [
        Problem(i, None, "external_ref", "given to more than one order in this request")
        for i, d in enumerate(drafts)
        if d.external_ref in repeated
    ]
    async with ctx.store.write(ctx.actor.key) as tx:
        existing = await tx.orders.ids_by_external_ref(refs)
        fresh = [(i, d) for i, d in enumerate(drafts) if d.external_ref not in existing]
        customers = await tx.customers.get_many(sorted({d.customer_id for _, d in fresh}))
        skus = {line.sku for _, d in fresh for line in d.lines}
        found = await tx.catalog.ids_by_sku(skus)
        missing = [s for s in skus if s not in found]
        for sku in missing:  # another case than the catalog's (few): as `order` finds them
            product = await tx.catalog.product_by_sku(sku)
            if product is not None:
                found[sku] = product.id
        records = await tx.catalog.get_many(found.values())
        products = {sku: records[pid] for sku, pid in found.items()}
        priced: dict[int, tuple[list[tuple[int, int, int]], str]] = {}
        for i, draft in fresh:
            customer = customers.get(draft.customer_id)
            if customer is None or customer.deleted_at is not None:
                problems.append(Problem(i, None, "customer", f"there is no customer #{draft.customer_id}"))
                continue
            if not ctx.scope.allows(customer.id, customer.owner_rep_id):
                problems.append(Problem(i, None, "customer", f"customer #{customer.id} is not in your book"))
                continue
            found_problems, lines, currency = _draft_problems(i, draft, products)
            problems.extend(found_problems)
            priced[i] = (lines, currency)
        if problems:
            raise OrderProblems(sorted(problems, key=lambda p: (p.order, -1 if p.line is None else p.line)))
        results: list[Recorded] = []
        for i, draft in enumerate(drafts):
            if draft.external_ref in existing:
                results.append(Recorded(existing[draft.external_ref], False))
                continue
            lines, currency = priced[i]
            order_id = await tx.orders.add_with_lines(
                customer_id=draft.customer_id,
                rep_id=ctx.actor.rep_id,
                currency=currency,
                lines=lines,
                ordered_at=draft.ordered_at,
                external_ref=draft.external_ref,
                note=draft.note,
            )
            results.append(Recorded(order_id, True))
    return results
