"""CSV imports of customers and orders: validate every row, report bad ones by line number."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_store.store import Store
from handlers.cleaning import clean_input
from handlers.errors import UserError
from handlers.fields import parse_fields
from handlers.parsing import CURRENCIES, MAX_AMOUNT_CENTS, id_in, parse_amount

MAX_ROWS = 2_000_000
IMPORT_CHUNK = 5_000


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    strict_aborted: bool = False

    @property
    def rejected(self) -> int:
        return len(self.errors)


def _rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    # The whole file is cleaned as typed text is (a NUL or an escape sequence in a cell must
    # not reach the store); line breaks inside quoted cells stay.
    reader = csv.DictReader(io.StringIO(clean_input(text)))
    if not reader.fieldnames:
        raise UserError("The file is empty or has no header row.")
    headers = [(h or "").strip().lower() for h in reader.fieldnames]
    reader.fieldnames = headers
    for row in reader:
        # line_num is the physical line the row ended on (quoted fields may span lines).
        extra = row.pop(None, None)
        if extra:
            raise ValueError(f"line {reader.line_num}: more values than columns")
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def _validated(
    text: str, check: Callable[[dict[str, str]], dict[str, Any]], report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    good: list[tuple[int, dict[str, Any]]] = []
    rows = _rows(text)
    while True:
        try:
            line, row = next(rows)
        except StopIteration:
            break
        except (ValueError, csv.Error) as exc:
            report.errors.append((0, str(exc)))
            break
        if len(good) + report.rejected >= MAX_ROWS:
            report.errors.append((line, f"more than {MAX_ROWS} rows; the rest was not read"))
            break
        try:
            good.append((line, check(row)))
        except UserError as exc:
            report.errors.append((line, exc.message))
    return good


async def _commit(
    store: Store,
    actor: str,
    good: list[dict[str, Any]],
    report: ImportReport,
    *,
    kind: str,
    strict: bool,
    progress: Callable[[int], None] | None,
) -> ImportReport:
    """All good rows in one transaction, or none with ``strict`` when any row was bad."""
    report.errors.sort()
    if strict and report.errors:
        report.strict_aborted = True
        return report
    async with store.write(actor) as tx:
        add = tx.customers.add_many if kind == "customers" else tx.orders.add_many
        for start in range(0, len(good), IMPORT_CHUNK):
            chunk = good[start : start + IMPORT_CHUNK]
            report.imported += await add(chunk, source="import")
            if progress:
                progress(len(chunk))
    return report


def _customer_row(row: dict[str, str]) -> dict[str, Any]:
    if not row.get("name"):
        raise UserError("name is empty")
    pairs = [(k, v) for k, v in row.items() if v and k != "owner"]
    changes = parse_fields(pairs)
    values: dict[str, Any] = dict(changes.builtin)
    values["custom"] = {k: v for k, v in changes.custom.items() if v is not None}
    return values


async def import_customers(
    store: Store,
    text: str,
    *,
    actor: str,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    rows = _validated(text, _customer_row, report)
    async with store.read() as tx:
        taken = set(await tx.customers.ids_by_email(r.get("email", "") for _, r in rows))
    seen: set[str] = set()
    good = []
    for line, row in rows:
        email = row.get("email", "")
        if email and (email in taken or email in seen):
            report.errors.append((line, "a customer with this email already exists; row skipped"))
            continue
        seen.add(email)
        good.append(row)
    return await _commit(store, actor, good, report, kind="customers", strict=strict, progress=progress)


def _order_row(row: dict[str, str]) -> dict[str, Any]:
    ref = row.get("customer_id") or row.get("customer") or ""
    email = row.get("customer_email", "").lower()
    customer_id = id_in(ref, kind="customer")
    if customer_id is None and not email:
        raise UserError("needs customer_id (a number) or customer_email")
    parsed = parse_amount(row.get("amount", ""))
    if parsed is None:
        raise UserError(f"amount {row.get('amount', '')!r} is not a number like 1200.50")
    cents, symbol_currency = parsed
    if not 0 < cents < MAX_AMOUNT_CENTS:
        raise UserError("amount must be more than zero and less than 10 billion")
    currency = (row.get("currency") or symbol_currency or "USD").upper()
    if currency not in CURRENCIES:
        raise UserError(f"currency {currency!r} is not one of {', '.join(sorted(CURRENCIES))}")
    ordered_at = None
    if row.get("ordered_at"):
        try:
            ordered_at = datetime.fromisoformat(row["ordered_at"])
        except ValueError:
            raise UserError(f"ordered_at {row['ordered_at']!r} is not a date like 2026-11-01") from None
        if ordered_at.tzinfo is None:
            ordered_at = ordered_at.replace(tzinfo=UTC)
    return {
        "customer_id": customer_id,
        "customer_email": email,
        "amount_cents": cents,
        "currency": currency,
        "ordered_at": ordered_at,
        "note": row.get("note", "")[:4000],
        "external_ref": row.get("external_ref") or None,
    }


async def import_orders(
    store: Store,
    text: str,
    *,
    actor: str,
    strict: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    rows = _validated(text, _order_row, report)
    good = []
    async with store.read() as tx:
        ids = {r["customer_id"] for _, r in rows if r["customer_id"] is not None}
        known = await tx.customers.get_many(sorted(ids)) if ids else {}
        owners = await tx.customers.ids_by_email(
            r["customer_email"] for _, r in rows if r["customer_id"] is None
        )
        by_email = {email: ids[0] for email, ids in owners.items() if len(ids) == 1}
        refs = await tx.orders.existing_refs(r["external_ref"] for _, r in rows if r["external_ref"])
    seen_refs: set[str] = set()
    for line, row in rows:
        customer_id = (
            row["customer_id"] if row["customer_id"] in known else by_email.get(row["customer_email"])
        )
        if customer_id is None:
            who = f"#{row['customer_id']}" if row["customer_id"] is not None else row["customer_email"]
            report.errors.append((line, f"no single customer {who}; row skipped"))
            continue
        ref = row["external_ref"]
        if ref and (ref in refs or ref in seen_refs):
            report.errors.append((line, f"order {ref} was imported before; row skipped"))
            continue
        if ref:
            seen_refs.add(ref)
        good.append({**row, "customer_id": customer_id})
    return await _commit(store, actor, good, report, kind="orders", strict=strict, progress=progress)
