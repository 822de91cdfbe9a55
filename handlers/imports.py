"""CSV imports of customers and orders: every line of the file accounted for by its line number."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from crm_store.store import Store
from handlers.cleaning import clean_input
from handlers.csv_read import delimiter_name, records
from handlers.customer_import import CustomerPlan
from handlers.errors import UserError
from handlers.import_map import resolve
from handlers.parsing import CURRENCIES, MAX_AMOUNT_CENTS, id_in, parse_amount

MAX_ROWS = 2_000_000
IMPORT_CHUNK = 5_000


@dataclass(slots=True)
class ImportReport:
    """Where every line of the file went: created, updated, unchanged, blank, or skipped (why)."""

    imported: int = 0  # rows created
    updated: int = 0
    unchanged: int = 0
    blank: int = 0
    rows: int = 0  # data records read (a quoted cell may span lines)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    strict_aborted: bool = False
    dry_run: bool = False
    delimiter: str = ","
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)

    def summary(self, encoding: str = "") -> str:
        """``Read 3 rows (semicolon-separated, cp1252): created 2, updated 0, unchanged 0, skipped 1.``"""
        how = delimiter_name(self.delimiter) + "-separated" + (f", {encoding}" if encoding else "")
        would = "would be " if self.dry_run else ""
        text = (
            f"Read {self.rows} row(s) ({how}): {would}created {self.imported}, {would}updated "
            f"{self.updated}, unchanged {self.unchanged}, skipped {self.rejected}"
        )
        if self.blank:
            text += f"; {self.blank} blank line(s)"
        return text + ("; nothing was written (--dry-run)." if self.dry_run else ".")


class _StrictAbort(Exception):
    """Rolls back a --strict import that met a bad row."""


def _lines(source: str | Iterable[str]) -> Iterable[str]:
    return io.StringIO(source, newline="") if isinstance(source, str) else source


def _unguarded(value: str) -> str:
    """A cell as typed: our export's leading quote before =, +, -, @ (the formula guard) goes."""
    if len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


def _rows(source: str | Iterable[str], report: ImportReport) -> Iterator[tuple[int, list[str]]]:
    """(line, cells) for the header and each data record; unreadable and blank lines are
    recorded in ``report`` and not yielded."""
    for record in records(_lines(source)):
        if record.error:
            report.rows += 1
            report.errors.append((record.line, record.error))
        elif not record.cells:
            report.blank += 1
        else:
            report.delimiter = record.delimiter
            cells = [_unguarded(clean_input(c).strip()) for c in record.cells]
            if record.line == 1 and cells:
                cells[0] = cells[0].lstrip("\ufeff")  # a byte order mark read as text
            yield record.line, cells


def _dict_rows(source: str | Iterable[str], report: ImportReport) -> Iterator[tuple[int, dict[str, str]]]:
    rows = _rows(source, report)
    header = next(rows, None)
    if header is None:
        raise UserError("The file is empty or has no header row.")
    names = [h.strip().lower() for h in header[1]]
    for line, cells in rows:
        report.rows += 1
        if len(cells) > len(names):
            report.errors.append((line, f"{len(cells)} values for {len(names)} columns; row skipped"))
            continue
        yield line, {k: v for k, v in zip(names, cells, strict=False) if k}


def _validated(
    text: str | Iterable[str], check: Callable[[dict[str, str]], dict[str, Any]], report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    good: list[tuple[int, dict[str, Any]]] = []
    for line, row in _dict_rows(text, report):
        if report.rows > MAX_ROWS:
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
    strict: bool,
    progress: Callable[[int], None] | None,
) -> ImportReport:
    """All good rows in one transaction, or none with ``strict`` when any row was bad."""
    report.errors.sort()
    if strict and report.errors:
        report.strict_aborted = True
        return report
    async with store.write(actor) as tx:
        for start in range(0, len(good), IMPORT_CHUNK):
            chunk = good[start : start + IMPORT_CHUNK]
            report.imported += await tx.orders.add_many(chunk, source="import")
            if progress:
                progress(len(chunk))
    return report


async def import_customers(
    store: Store,
    source: str | Iterable[str],
    *,
    actor: str,
    strict: bool = False,
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
    preset: str | None = None,
    upsert_by: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Customers from CSV text or lines, read in batches (memory stays flat): a row whose id
    (with the same email or name) or external_ref is in the book updates that customer, with
    ``upsert_by="email"`` one with its email does too; other rows are created. Empty cells
    change nothing on an update. ``dry_run`` reports what would happen and writes nothing."""
    if upsert_by not in (None, "email", "external_ref"):
        raise UserError("--upsert-by is email or external_ref.")
    report = ImportReport(dry_run=dry_run)
    rows = _rows(source, report)
    header = next(rows, None)
    if header is None:
        raise UserError("The file is empty or has no header row.")
    headers = header[1]
    cmap = resolve(headers, mapping=mapping or {}, preset=preset)
    report.ignored_columns = cmap.ignored
    plan = CustomerPlan(cmap, width=len(headers), upsert_by=upsert_by, dry_run=dry_run)
    opener = store.read() if dry_run else store.write(actor)
    try:
        async with opener as tx:
            await plan.load_reps(tx)
            batch: list[tuple[int, list[str]]] = []
            for line, cells in rows:
                report.rows += 1
                batch.append((line, cells))
                if len(batch) >= IMPORT_CHUNK:
                    await plan.apply(tx, batch, report, write=not (strict and report.errors))
                    if progress:
                        progress(len(batch))
                    batch = []
            await plan.apply(tx, batch, report, write=not (strict and report.errors))
            if progress and batch:
                progress(len(batch))
            if strict and report.errors:
                raise _StrictAbort
    except _StrictAbort:
        report.strict_aborted = True
        report.imported = report.updated = report.unchanged = 0
    report.errors.sort()
    return report


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
    return await _commit(store, actor, good, report, strict=strict, progress=progress)
