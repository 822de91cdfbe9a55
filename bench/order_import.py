"""Benchmark `crm-bot import order-lines` on SQLite; prints one JSON object.

Imports the retail sample (data/retail/online_retail_sample.csv, 10,000 real lines) into a fresh
migrated SQLite file through handlers.order_import (the function the CLI calls), then again (the
second run must write nothing), then a file ``--copies`` times as long (the sample repeated
with new invoice and customer numbers). The baseline writes the same orders of the first import
the simple way: one write transaction per order through ``tx.orders.add_with_lines``.

Run from the repository root: ``.venv/bin/python bench/order_import.py [--copies 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from crm_store.tables import order_lines  # noqa: E402
from handlers.order_import import MAP_EXAMPLE, LinesReport, import_order_lines, parse_mapping  # noqa: E402

SAMPLE = ROOT / "data" / "retail" / "online_retail_sample.csv"


async def _fresh(path: Path) -> Store:
    store = Store.open(f"sqlite+aiosqlite:///{path}")
    await upgrade(store.engine)
    return store


async def _import(store: Store, text: str) -> tuple[float, LinesReport]:
    started = time.perf_counter()
    report = await import_order_lines(
        store, text, actor="bench", mapping=parse_mapping(MAP_EXAMPLE), create_customers=True, currency="GBP"
    )
    return time.perf_counter() - started, report


def _copies(text: str, copies: int) -> str:
    """The sample ``copies`` times, each copy with its own invoice and customer numbers."""
    rows = list(csv.DictReader(io.StringIO(text)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for k in range(copies):
        for row in rows:
            invoice = row["InvoiceNo"]
            cancelled = invoice.startswith("C")
            number = f"{k}{invoice.removeprefix('C')}"
            customer = row["CustomerID"]
            writer.writerow(
                {
                    **row,
                    "InvoiceNo": f"C{number}" if cancelled else number,
                    "CustomerID": f"{k}{customer}" if customer else "",
                }
            )
    return out.getvalue()


async def _baseline(store: Store, first: Store) -> float:
    """The orders the first import wrote, written again one transaction per order."""
    async with first.read() as tx:
        rows = (
            await tx.conn.execute(
                select(
                    order_lines.c.order_id,
                    order_lines.c.customer_id,
                    order_lines.c.product_id,
                    order_lines.c.quantity,
                    order_lines.c.unit_price_cents,
                ).order_by(order_lines.c.id)
            )
        ).all()
        customer_rows = await tx.customers.get_many(sorted({r[1] for r in rows}))
        products = await tx.catalog.get_many({r[2] for r in rows})
    async with store.write("bench") as tx:  # the same customers and products, set up untimed
        await tx.customers.add_many(
            [{"name": c.name, "external_ref": c.external_ref} for c in customer_rows.values()], source="bench"
        )
        await tx.catalog.add_many(
            [{"sku": p.sku, "name": p.name, "currency": p.currency} for p in products.values()],
            source="bench",
        )
        customer_ids = await tx.customers.ids_by_external_ref(
            c.external_ref for c in customer_rows.values() if c.external_ref
        )
        product_ids = await tx.catalog.ids_by_sku(p.sku for p in products.values())
    orders: dict[int, list[Any]] = {}
    for order_id, customer_id, product_id, quantity, cents in rows:
        orders.setdefault(order_id, []).append((customer_id, product_id, quantity, cents))
    started = time.perf_counter()
    for lines in orders.values():
        customer = customer_rows[lines[0][0]]
        async with store.write("bench") as tx:
            await tx.orders.add_with_lines(
                customer_id=customer_ids[str(customer.external_ref)],
                lines=[(product_ids[products[p].sku], q, c) for _, p, q, c in lines],
                currency="GBP",
            )
    return time.perf_counter() - started


async def main(copies: int) -> dict[str, Any]:
    text = SAMPLE.read_text(encoding="latin-1")
    with tempfile.TemporaryDirectory() as tmp:
        store = await _fresh(Path(tmp) / "a.db")
        first_s, first = await _import(store, text)
        second_s, second = await _import(store, text)
        async with store.read() as tx:
            stored = (await tx.conn.execute(select(func.count()).select_from(order_lines))).scalar_one()
        baseline_store = await _fresh(Path(tmp) / "b.db")
        baseline_s = await _baseline(baseline_store, store)
        big_store = await _fresh(Path(tmp) / "c.db")
        big_text = _copies(text, copies)
        big_s, big = await _import(big_store, big_text)
        for s in (store, baseline_store, big_store):
            await s.close()
    return {
        "sample_lines_read": first.lines_read,
        "sample_lines_imported": first.lines_imported,
        "sample_orders": first.orders,
        "sample_customers_created": first.customers_created,
        "sample_products_created": first.products_created,
        "sample_returns": first.returns,
        "sample_skipped_guest": first.skipped_guest,
        "sample_import_s": round(first_s, 3),
        "sample_lines_per_s": round(first.lines_read / first_s),
        "second_run_s": round(second_s, 3),
        "second_run_lines_imported": second.lines_imported,
        "lines_stored_after_two_runs": stored,
        "baseline_one_tx_per_order_s": round(baseline_s, 3),
        "speedup_vs_baseline": round(baseline_s / first_s, 1),
        "big_lines_read": big.lines_read,
        "big_lines_imported": big.lines_imported,
        "big_import_s": round(big_s, 3),
        "big_lines_per_s": round(big.lines_read / big_s),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.copies))))
