"""Importing order lines from a shop's export (a CSV with a column mapping): products and
customers matched or created, cancellations kept as returns, guest lines skipped, and nothing
written twice (an order is known by its invoice number)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from crm_store.store import Store
from handlers.cleaning import clean_input
from handlers.errors import UserError
from handlers.parsing import CURRENCIES, MAX_AMOUNT_CENTS

FIELDS = ("order_ref", "sku", "product", "quantity", "unit_price", "ordered_at", "customer_ref", "country")
REQUIRED = ("order_ref", "quantity", "unit_price", "customer_ref")
MAP_EXAMPLE = (
    "order_ref=InvoiceNo,sku=StockCode,product=Description,quantity=Quantity,unit_price=UnitPrice,"
    "ordered_at=InvoiceDate,customer_ref=CustomerID,country=Country"
)
MAX_LINES = 5_000_000
MAX_QUANTITY = 10_000_000
ORDERS_PER_WRITE = 2_000  # one transaction per this many orders: short turns for other writers
MAX_REF = 64
_FLOAT_ID = re.compile(r"^(\d+)\.0*$")
_NOT_SKU = re.compile(r"[^A-Z0-9]+")
_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M", "%m/%d/%Y")


@dataclass(slots=True)
class LinesReport:
    lines_read: int = 0
    lines_imported: int = 0
    orders: int = 0
    returns: int = 0  # imported lines with a negative quantity
    customers_created: int = 0
    customers_matched: int = 0
    products_created: int = 0
    skipped_guest: int = 0
    skipped_unknown_customer: int = 0
    already_imported_orders: int = 0
    already_imported_lines: int = 0
    strict_aborted: bool = False  # --strict and a line was skipped for a reason: nothing written
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def skipped_bad(self) -> int:
        return len(self.errors)

    def summary(self) -> list[str]:
        """The report as lines of text (the CLI prints them; tests read them)."""
        out = [
            f"Lines read: {self.lines_read}",
            f"Lines imported: {self.lines_imported}",
            f"Orders: {self.orders}",
            f"Returns (cancelled lines): {self.returns}",
            f"Customers created: {self.customers_created}",
            f"Customers matched: {self.customers_matched}",
            f"Products created: {self.products_created}",
            f"Skipped guest lines (no customer): {self.skipped_guest}",
        ]
        if self.skipped_unknown_customer:
            out.append(f"Skipped lines of unknown or deleted customers: {self.skipped_unknown_customer}")
        if self.already_imported_orders:
            out.append(
                f"Already imported before: {self.already_imported_orders} orders "
                f"({self.already_imported_lines} lines), not written again"
            )
        out.append(f"Skipped bad lines: {self.skipped_bad}")
        if self.strict_aborted:
            out.append("Nothing imported: lines were skipped and --strict was given.")
        if not self.lines_imported and self.already_imported_orders and not self.strict_aborted:
            out.append("Nothing new: every order in the file was imported before; nothing was written.")
        return out


@dataclass(slots=True)
class _Line:
    number: int
    order_ref: str
    sku: str
    name: str
    quantity: int
    unit_cents: int
    ordered_at: datetime | None
    customer_ref: str
    country: str


def parse_mapping(text: str | None) -> dict[str, str]:
    """``order_ref=InvoiceNo,sku=StockCode,…`` -> {field: column}; without a mapping the columns
    are named as the fields."""
    if not text or not text.strip():
        return {name: name for name in FIELDS}
    mapping: dict[str, str] = {}
    for part in text.split(","):
        key, sep, column = part.partition("=")
        key, column = key.strip().lower(), column.strip()
        if not sep or not key or not column:
            raise UserError(f"--map needs field=Column pairs separated by commas, like {MAP_EXAMPLE}")
        if key not in FIELDS:
            raise UserError(f"{key!r} is not a field to map; the fields are {', '.join(FIELDS)}.")
        if key in mapping:
            raise UserError(f"{key!r} is mapped twice.")
        mapping[key] = column
    return mapping


def customer_ref(text: str) -> str:
    """A shop's customer number as the book keeps it: ``17850.0`` (a float export) -> ``17850``."""
    text = text.strip()
    whole = _FLOAT_ID.match(text)
    return whole.group(1) if whole else text


def readable_name(text: str) -> str:
    """A product name as people read it: spaces tidied, an all-capitals name in sentence case."""
    name = " ".join(text.split())
    if name.isupper():
        return name[:1] + name[1:].lower()
    return name


def _sku_from_name(name: str) -> str:
    return _NOT_SKU.sub("-", name.upper()).strip("-")[:MAX_REF] or "ITEM"


def _when(text: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        else:
            raise UserError(f"date {text[:40]!r} is not like 2010-12-01 08:26:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _quantity(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UserError(f"quantity {text[:20]!r} is not a whole number") from None
    if value != value.to_integral_value():
        raise UserError(f"quantity {text[:20]!r} is not a whole number")
    quantity = int(value)
    if quantity == 0:
        raise UserError("quantity is 0")
    if abs(quantity) > MAX_QUANTITY:
        raise UserError(f"quantity {quantity} is beyond {MAX_QUANTITY:,}")
    return quantity


def _cents(text: str) -> int:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise UserError(f"unit price {text[:20]!r} is not a number like 2.55") from None
    if not value.is_finite() or value < 0:
        raise UserError(f"unit price {text[:20]!r} is negative or not a number")
    cents = int((value * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if cents >= MAX_AMOUNT_CENTS:
        raise UserError(f"unit price {text[:20]!r} is too large")
    return cents


def _line(number: int, get: Callable[[str], str]) -> _Line | None:
    """One CSV line read through the mapping; None for a guest line (no customer)."""
    ref = customer_ref(get("customer_ref"))
    if not ref:
        return None
    order_ref = get("order_ref").strip()
    if not order_ref:
        raise UserError("the order reference is empty")
    if len(order_ref) > MAX_REF or len(ref) > MAX_REF:
        raise UserError(f"an order or customer reference is longer than {MAX_REF} characters")
    sku = get("sku").strip().upper()
    name = readable_name(get("product"))
    if not sku and not name:
        raise UserError("the line has neither a SKU nor a product name")
    if len(sku) > MAX_REF:
        raise UserError(f"SKU {sku[:20]!r}… is longer than {MAX_REF} characters")
    quantity = _quantity(get("quantity").strip())
    if order_ref.upper().startswith("C"):  # a cancelled invoice: its lines are returns
        quantity = -abs(quantity)
    return _Line(
        number=number,
        order_ref=order_ref,
        sku=sku,
        name=name[:200],
        quantity=quantity,
        unit_cents=_cents(get("unit_price").strip()),
        ordered_at=_when(get("ordered_at").strip()),
        customer_ref=ref,
        country=" ".join(get("country").split())[:64],
    )


def _read(text: str, mapping: Mapping[str, str], report: LinesReport) -> list[_Line]:
    reader = csv.reader(io.StringIO(clean_input(text)))
    header = next(reader, None)
    if not header:
        raise UserError("The file is empty or has no header row.")
    columns = {name.strip().lower(): i for i, name in enumerate(header)}
    missing = [f for f in REQUIRED if f not in mapping]
    if "sku" not in mapping and "product" not in mapping:
        missing.append("sku or product")
    if missing:
        raise UserError(f"Map {', '.join(missing)} with --map, like {MAP_EXAMPLE}")
    absent = [column for column in mapping.values() if column.strip().lower() not in columns]
    if absent:
        raise UserError(
            f"The file has no column {', '.join(repr(a) for a in absent)}; "
            f"its columns are {', '.join(header)}."
        )
    at = {key: columns[column.strip().lower()] for key, column in mapping.items()}
    lines: list[_Line] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append((reader.line_num, f"unreadable CSV: {exc}"))
            break
        if not any(cell.strip() for cell in row):
            continue
        report.lines_read += 1
        if report.lines_read > MAX_LINES:
            report.errors.append((reader.line_num, f"more than {MAX_LINES} lines; the rest was not read"))
            break

        def get(key: str, row: list[str] = row) -> str:
            index = at.get(key)
            return row[index] if index is not None and index < len(row) else ""

        try:
            line = _line(reader.line_num, get)
        except UserError as exc:
            report.errors.append((reader.line_num, exc.message))
            continue
        if line is None:
            report.skipped_guest += 1
        else:
            lines.append(line)
    return lines


def _orders(lines: list[_Line], report: LinesReport) -> dict[str, list[_Line]]:
    """Lines grouped by order; a line naming another customer than its order's first is bad."""
    orders: dict[str, list[_Line]] = {}
    for line in lines:
        group = orders.setdefault(line.order_ref, [])
        if group and group[0].customer_ref != line.customer_ref:
            report.errors.append(
                (
                    line.number,
                    f"order {line.order_ref} is customer {group[0].customer_ref}'s (line {group[0].number})",
                )
            )
            continue
        group.append(line)
    return orders


async def import_order_lines(
    store: Store,
    text: str,
    *,
    actor: str,
    mapping: Mapping[str, str],
    create_customers: bool = False,
    currency: str = "USD",
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> LinesReport:
    """Import a shop's order lines; see the module's docstring. Safe to run again: orders
    already in the book (by order reference) are counted and left alone."""
    currency = currency.upper()
    if currency not in CURRENCIES:
        raise UserError(f"currency {currency!r} is not one of {', '.join(sorted(CURRENCIES))}")
    report = LinesReport()
    orders = _orders(_read(text, mapping, report), report)
    async with store.read() as tx:
        done = await tx.orders.existing_refs(orders)
        for ref in done:
            report.already_imported_orders += 1
            report.already_imported_lines += len(orders.pop(ref))
        known = await tx.customers.ids_by_external_ref(group[0].customer_ref for group in orders.values())
        # A deleted customer keeps its reference (it stays taken) but gets no new orders.
        found = await tx.customers.get_many(sorted(set(known.values())))
        deleted = {ref for ref, cid in known.items() if cid not in found or found[cid].deleted_at is not None}
        wanted_skus = {ln.sku for group in orders.values() for ln in group if ln.sku}
        products = await tx.catalog.ids_by_sku(wanted_skus)
        by_name: dict[str, int] = {}
        if any(not ln.sku for group in orders.values() for ln in group):
            by_name = {name.casefold(): pid for pid, _, name in await tx.catalog.all_names()}
    new_customers: dict[str, dict[str, Any]] = {}
    unknown: dict[str, list[_Line]] = {}
    gone: dict[str, list[_Line]] = {}
    for ref, group in list(orders.items()):
        who = group[0].customer_ref
        if who in deleted:
            gone.setdefault(who, []).extend(orders.pop(ref))
            continue
        if who in known:
            continue
        if create_customers:
            new_customers.setdefault(
                who, {"name": f"Customer {who}", "external_ref": who, "country": group[0].country}
            )
        else:
            unknown.setdefault(who, []).extend(orders.pop(ref))
    for who, skipped in unknown.items():
        report.skipped_unknown_customer += len(skipped)
        report.errors.append(
            (
                skipped[0].number,
                f"no customer with reference {who} ({len(skipped)} lines skipped); "
                "--create-customers creates it",
            )
        )
    for who, skipped in gone.items():
        report.skipped_unknown_customer += len(skipped)
        report.errors.append(
            (skipped[0].number, f"customer {who} was deleted from the book ({len(skipped)} lines skipped)")
        )
    new_products: dict[str, dict[str, Any]] = {}
    for group in orders.values():
        for ln in group:
            if not ln.sku:
                ln.sku = _sku_from_name(ln.name) if ln.name.casefold() not in by_name else ""
            if ln.sku and ln.sku not in products:
                entry = new_products.setdefault(
                    ln.sku, {"sku": ln.sku, "name": ln.name, "price_cents": None, "currency": currency}
                )
                if not entry["name"] and ln.name:
                    entry["name"] = ln.name  # a later line may name what the first left blank
                if entry["price_cents"] is None and ln.quantity > 0 and ln.unit_cents > 0:
                    entry["price_cents"] = ln.unit_cents  # the list price: the first sale's
    for entry in new_products.values():
        entry["name"] = entry["name"] or entry["sku"]
    report.errors.sort()
    if strict and report.errors:
        report.strict_aborted = True
        return report
    if not orders:
        return report
    if new_customers or new_products:
        async with store.write(actor) as tx:
            if new_customers:
                await tx.customers.add_many(new_customers.values(), source="import")
                known.update(await tx.customers.ids_by_external_ref(new_customers))
            if new_products:
                products.update(await tx.catalog.add_many(new_products.values(), source="import"))
    report.customers_created = len(new_customers)
    report.customers_matched = len({g[0].customer_ref for g in orders.values()} - set(new_customers))
    report.products_created = len(new_products)
    rows: list[dict[str, Any]] = []
    for ref, group in orders.items():
        when = next((ln.ordered_at for ln in group if ln.ordered_at is not None), None)
        lines = [
            (products[ln.sku] if ln.sku else by_name[ln.name.casefold()], ln.quantity, ln.unit_cents)
            for ln in group
        ]
        rows.append(
            {
                "customer_id": known[group[0].customer_ref],
                "external_ref": ref,
                "ordered_at": when,
                "currency": currency,
                "lines": lines,
            }
        )
        report.lines_imported += len(group)
        report.returns += sum(1 for ln in group if ln.quantity < 0)
    for start in range(0, len(rows), ORDERS_PER_WRITE):
        chunk = rows[start : start + ORDERS_PER_WRITE]
        async with store.write(actor) as tx:
            report.orders += await tx.orders.add_many_with_lines(chunk, source="import")
        if progress:
            progress(sum(len(r["lines"]) for r in chunk))
    return report
