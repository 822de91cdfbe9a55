"""The product commands (add, find, show with its sales and top buyers) and naming a product by
SKU or by name, typos forgiven when only one product fits."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from rapidfuzz import fuzz, process, utils

from crm_store.records import ProductRecord
from crm_store.store import Tx
from handlers import actions
from handlers.context import Context
from handlers.errors import Forbidden, NotFound, UsageError, UserError
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import CURRENCIES, MAX_AMOUNT_CENTS, format_money, parse_amount
from handlers.quotes import plain_quotes
from handlers.registry import Area, ButtonVerb, Command

PRODUCT_USAGE = (
    "product add <sku> <name> [price=… category=… currency=…] | product find <text> | product show <sku|name>"
)
ADD_USAGE = "product add <sku> <name> [price=12.50 category=kitchen currency=USD]"
SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,63}$")
MAX_NAME = 200
MAX_CATEGORY = 100
FIND_LIMIT = 10
TOP_BUYERS = 5
# A name is taken without asking when it scores this well and clearly beats the runner-up.
SURE_SCORE = 88.0
CLEAR_MARGIN = 8.0
# Below this a WRatio score is mostly a shared short word part ("zebra" ~ "bracelet": 72).
NEAR_SCORE = 75.0


@dataclass(frozen=True, slots=True)
class ProductMatch:
    """The product a text names, or the close ones when none is certain."""

    product: ProductRecord | None
    near: tuple[ProductRecord, ...] = ()


def readable(product: ProductRecord) -> str:
    return f"{product.name} ({product.sku})"


def _scored(text: str, names: list[tuple[int, str, str]], limit: int) -> list[tuple[int, float]]:
    """(product id, score) of the names closest to ``text``, best first."""
    choices = {pid: name for pid, _, name in names}
    found = process.extract(text, choices, scorer=fuzz.WRatio, processor=utils.default_process, limit=limit)
    return [(int(key), float(score)) for _, score, key in found]


async def resolve_product(tx: Tx, text: str, *, by_sku: bool = True) -> ProductMatch:
    """The product ``text`` names: an exact SKU (case aside; skipped without ``by_sku``, as for a
    quoted name), ``#id``, a name equal to it, or the one name clearly closest to it."""
    text = " ".join(text.split())
    if not text:
        return ProductMatch(None)
    if text.startswith("#") and text[1:].isdecimal():
        return ProductMatch(await tx.catalog.get(int(text[1:])))
    if by_sku:
        found = await tx.catalog.product_by_sku(text)
        if found is not None:
            return ProductMatch(found)
    names = await tx.catalog.all_names()
    exact = [pid for pid, _, name in names if name.casefold() == text.casefold()]
    if len(exact) == 1:
        return ProductMatch(await tx.catalog.get(exact[0]))
    scored = _scored(text, names, limit=5)
    if exact:
        scored = [(pid, 100.0) for pid in exact]
    close = [(pid, s) for pid, s in scored if s >= NEAR_SCORE]
    if (
        not exact
        and close
        and close[0][1] >= SURE_SCORE
        and (len(close) == 1 or close[0][1] - close[1][1] >= CLEAR_MARGIN)
    ):
        return ProductMatch(await tx.catalog.get(close[0][0]))
    products = await tx.catalog.get_many(pid for pid, _ in close[:3])
    return ProductMatch(None, tuple(products[pid] for pid, _ in close[:3] if pid in products))


def unknown_product(text: str, match: ProductMatch) -> UserError:
    """The clear answer to a product nobody can be sure of: which ones come close, if any."""
    if match.near:
        close = "; ".join(readable(p) for p in match.near)
        return NotFound(f"No single product matches {text!r}. Close: {close}. Use the SKU or the exact name.")
    return NotFound(f"No product matches {text!r}. `product find <text>` searches the catalog.")


def _words(text: str, usage: str) -> list[str]:
    try:
        return shlex.split(plain_quotes(text))
    except ValueError:
        raise UsageError("A quote is not closed.", usage=usage) from None


def _fields(pairs: list[tuple[str, str]]) -> tuple[int | None, str | None, str]:
    """(price in cents, currency, category) from ``key=value`` words."""
    price: int | None = None
    currency: str | None = None
    category = ""
    for key, value in pairs:
        if key == "price":
            parsed = parse_amount(value)
            if parsed is None or not 0 <= parsed[0] < MAX_AMOUNT_CENTS:
                raise UserError(f"price {value!r} is not an amount like 12.50.", usage=ADD_USAGE)
            price, symbol = parsed
            if symbol is not None:
                if currency is not None and currency != symbol:
                    raise UserError("The price and the currency name different currencies.", usage=ADD_USAGE)
                currency = symbol
        elif key == "currency":
            code = value.upper()
            if code not in CURRENCIES:
                raise UserError(f"currency {value!r} is not one of {', '.join(sorted(CURRENCIES))}.")
            if currency is not None and currency != code:
                raise UserError("The price and the currency name different currencies.", usage=ADD_USAGE)
            currency = code
        elif key == "category":
            if len(value) > MAX_CATEGORY:
                raise UserError(f"The category is too long (at most {MAX_CATEGORY} characters).")
            category = value
        else:
            raise UserError(
                f"{key!r} is not a product field; use price, category or currency.", usage=ADD_USAGE
            )
    return price, currency, category


async def _add(ctx: Context, rest: str) -> Reply:
    words = _words(rest, ADD_USAGE)
    if len(words) < 2:
        raise UsageError("Give the SKU and the product's name.", usage=ADD_USAGE)
    sku = words[0]
    pairs: list[tuple[str, str]] = []
    name_words = list(words[1:])
    while name_words and "=" in name_words[-1]:
        key, _, value = name_words.pop().partition("=")
        pairs.insert(0, (key.strip().lower(), value.strip()))
    name = " ".join(" ".join(name_words).split())
    if not name:
        raise UsageError("Give the product's name after its SKU.", usage=ADD_USAGE)
    price, currency, category = _fields(pairs)
    product_id, _ = await save_product(
        ctx, sku=sku, name=name, price_cents=price, currency=currency, category=category, upsert=False
    )
    priced = "" if price is None else f" at {format_money(price, currency or 'USD')}"
    return Reply(
        text=f"Added product {name} ({sku}){priced}.",
        buttons=(Button("Show", actions.encode("product", product_id)),),
    )


def product_problems(
    *, sku: str, name: str, category: str | None, currency: str | None, price_cents: int | None
) -> list[tuple[str, str]]:
    """(field, why) for each value a product may not have; the rules `product add` applies."""
    problems = []
    if not SKU.match(sku):
        problems.append(
            ("sku", f"{sku[:70]!r} is not a SKU: letters, digits and . _ / - only, at most 64 characters.")
        )
    if not name.strip():
        problems.append(("name", "The name can't be empty."))
    elif len(name) > MAX_NAME:
        problems.append(("name", f"The name is too long (at most {MAX_NAME} characters)."))
    if category is not None and len(category) > MAX_CATEGORY:
        problems.append(("category", f"The category is too long (at most {MAX_CATEGORY} characters)."))
    if currency is not None and currency not in CURRENCIES:
        problems.append(("currency", f"currency {currency!r} is not one of {', '.join(sorted(CURRENCIES))}."))
    if price_cents is not None and not 0 <= price_cents < MAX_AMOUNT_CENTS:
        problems.append(("price_cents", "A price must be 0 or more, and less than 10 billion."))
    return problems


async def save_product(
    ctx: Context,
    *,
    sku: str,
    name: str,
    price_cents: int | None,
    currency: str | None,
    category: str | None,
    upsert: bool,
) -> tuple[int, bool]:
    """(product id, created): a new product (`product add`, the HTTP API), or with ``upsert``
    the one with this SKU updated (fields given as None stay). Managers and admins only."""
    if not ctx.actor.is_manager:
        raise Forbidden("Adding products is for managers and admins; ask one.")
    name = " ".join(name.split())
    problems = product_problems(
        sku=sku, name=name, category=category, currency=currency, price_cents=price_cents
    )
    if problems:
        raise UserError(problems[0][1], usage=ADD_USAGE)
    async with ctx.store.write(ctx.actor.key) as tx:
        taken = await tx.catalog.product_by_sku(sku)
        if taken is not None and not upsert:
            raise UserError(
                f"SKU {taken.sku} is already {taken.name!r}; `product show {taken.sku}` shows it."
            )
        if taken is not None:
            product_id = await tx.catalog.upsert_product(
                sku=taken.sku, name=name, category=category, price_cents=price_cents, currency=currency
            )
            return product_id, False
        product_id = await tx.catalog.add_product(
            sku=sku, name=name, category=category or "", price_cents=price_cents, currency=currency or "USD"
        )
        return product_id, True


def _item(product: ProductRecord) -> ListItem:
    price = (
        "no list price"
        if product.price_cents is None
        else format_money(product.price_cents, product.currency)
    )
    detail = " · ".join(x for x in (product.category, price) if x)
    return ListItem(
        readable(product), detail, buttons=(Button("Show", actions.encode("product", product.id)),)
    )


async def _find(ctx: Context, text: str) -> Reply:
    text = " ".join(plain_quotes(text).replace('"', " ").split())
    if not text:
        raise UsageError("What should I look for?", usage="product find <text>")
    async with ctx.store.read() as tx:
        names = await tx.catalog.all_names()
        by_sku = [pid for pid, sku, _ in names if sku.upper().startswith(text.upper())]
        # Names holding every word, best scored first; only when none does, names that look alike.
        words = text.casefold().split()
        holding = [(pid, sku, name) for pid, sku, name in names if all(w in name.casefold() for w in words)]
        found = [pid for pid, _ in _scored(text, holding, limit=FIND_LIMIT)]
        if not found:
            found = [pid for pid, score in _scored(text, names, limit=FIND_LIMIT) if score >= NEAR_SCORE]
        ids = list(dict.fromkeys(by_sku + found))[:FIND_LIMIT]
        products = await tx.catalog.get_many(ids)
    if not ids:
        raise NotFound(f"No product matches {text!r}. Managers add one with `{ADD_USAGE}`.")
    return Reply(
        title=f"Products matching {text!r}",
        text=f"{len(ids)} found:" if len(ids) > 1 else "1 found:",
        items=tuple(_item(products[pid]) for pid in ids),
    )


async def _show(ctx: Context, text: str) -> Reply:
    words = _words(text, "product show <sku|name>")
    wanted = " ".join(words)
    if not wanted:
        raise UsageError("Which product?", usage="product show <sku|name>")
    quoted = plain_quotes(text).strip().startswith('"')
    async with ctx.store.read() as tx:
        match = await resolve_product(tx, wanted, by_sku=not quoted)
        if match.product is None:
            raise unknown_product(wanted, match)
        summary = await tx.catalog.product_summary(
            match.product.id, visible_to_rep=ctx.scope.owner_filter, top=TOP_BUYERS
        )
    assert summary is not None
    product = summary.product
    money = product.currency
    price = "none" if product.price_cents is None else format_money(product.price_cents, money)
    scope = " (your customers and unowned ones)" if ctx.scope.owner_filter is not None else ""
    return Reply(
        title=readable(product),
        text=f"Sales of {product.name}{scope}, net of returns.",
        fields=(
            Field("Category", product.category or "none"),
            Field("List price", price),
            Field("Units sold", str(summary.units)),
            Field("Revenue", format_money(summary.revenue_cents, money)),
            Field("Orders", str(summary.orders)),
            Field("Returns", f"{summary.returns} ({summary.returned_units} units)"),
            Field("Buyers", str(summary.buyers)),
        ),
        items=tuple(
            ListItem(
                f"{b.name} (#{b.customer_id})",
                f"{b.units} unit{'s' if b.units != 1 else ''} · {format_money(b.revenue_cents, money)}",
                buttons=(Button("Open", actions.encode("show", b.customer_id)),),
            )
            for b in summary.top_buyers
        ),
        context="Top buyers by revenue." if summary.top_buyers else "Nobody has bought it yet.",
    )


async def product(ctx: Context) -> Reply:
    verb, _, rest = ctx.args.strip().partition(" ")
    verb = verb.lower()
    if verb == "add":
        return await _add(ctx, rest)
    if verb == "find":
        return await _find(ctx, rest)
    if verb == "show":
        return await _show(ctx, rest)
    raise UsageError("Add, find or show a product?", usage=PRODUCT_USAGE)


COMMANDS = (
    Command(
        "product",
        product,
        PRODUCT_USAGE,
        "Add a product (managers), find products, or show one's sales and top buyers.",
        "product show 85123A",
        aliases=("products",),
        needs_args=True,
    ),
)
BUTTONS = (ButtonVerb("product", "staff", command="product show #{}"),)
AREA = Area(COMMANDS, BUTTONS)
