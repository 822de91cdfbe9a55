"""Importing a shop's order lines: the shipped retail sample imports with the counts the CSV itself
gives, a second import writes nothing, and every odd line gets its reason."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import audit_log, customers, order_lines, orders, products
from handlers.errors import UserError
from handlers.order_import import MAP_EXAMPLE, customer_ref, import_order_lines, parse_mapping, readable_name

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "retail" / "online_retail_sample.csv"
MAPPING = parse_mapping(MAP_EXAMPLE)


@pytest.fixture
def book_url(db_url: str) -> str:
    """This run's database: tests/conftest.py runs each test on SQLite and on PostgreSQL."""
    return db_url


@pytest.fixture
async def book(book_url: str) -> AsyncIterator[Store]:
    store = Store.open(book_url)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


async def _counts(store: Store) -> dict[str, int]:
    async with store.read() as tx:
        return {
            name: int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())
            for name, table in (
                ("customers", customers),
                ("orders", orders),
                ("lines", order_lines),
                ("products", products),
                ("audit", audit_log),
            )
        }


def _expected() -> dict[str, int]:
    """The counts read straight from the CSV, independently of the importer."""
    with SAMPLE.open(encoding="latin-1", newline="") as handle:
        rows = list(csv.DictReader(handle))
    kept = [r for r in rows if r["CustomerID"].strip()]
    return {
        "lines": len(rows),
        "guest": len(rows) - len(kept),
        "imported": len(kept),
        "orders": len({r["InvoiceNo"] for r in kept}),
        "customers": len({r["CustomerID"] for r in kept}),
        "products": len({r["StockCode"].strip().upper() for r in kept}),
        "returns": sum(1 for r in kept if r["InvoiceNo"].startswith("C") or int(r["Quantity"]) < 0),
        "revenue": sum(round(int(r["Quantity"]) * float(r["UnitPrice"]) * 100) for r in kept),
    }


async def test_the_retail_sample_imports_cleanly_and_only_once(book: Store) -> None:
    store = book
    text = SAMPLE.read_text(encoding="latin-1")
    want = _expected()
    report = await import_order_lines(
        store, text, actor="t", mapping=MAPPING, create_customers=True, currency="GBP"
    )
    assert report.errors == []
    assert (
        report.lines_read,
        report.lines_imported,
        report.orders,
        report.customers_created,
        report.customers_matched,
        report.products_created,
        report.returns,
        report.skipped_guest,
    ) == (
        want["lines"],
        want["imported"],
        want["orders"],
        want["customers"],
        0,
        want["products"],
        want["returns"],
        want["guest"],
    )
    assert (want["lines"], want["orders"], want["customers"]) == (10_000, 444, 323)  # the README's
    after_first = await _counts(store)
    assert {k: after_first[k] for k in ("customers", "orders", "lines", "products")} == {
        "customers": want["customers"],
        "orders": want["orders"],
        "lines": want["imported"],
        "products": want["products"],
    }
    async with store.read() as tx:
        total = (await tx.conn.execute(select(func.sum(orders.c.amount_cents)))).scalar_one()
        by_lines = (await tx.conn.execute(select(func.sum(order_lines.c.line_cents)))).scalar_one()
        neg = (await tx.conn.execute(select(func.count()).where(order_lines.c.quantity < 0))).scalar_one()
        acme = await tx.customers.get((await tx.customers.ids_by_external_ref(["17850"]))["17850"])
        mug = await tx.catalog.product_by_sku("85123A")
    assert total == by_lines == want["revenue"] and neg == want["returns"]
    assert acme is not None and (acme.name, acme.country, acme.source) == (
        "Customer 17850",
        "United Kingdom",
        "import",
    )
    assert mug is not None and (mug.name, mug.price_cents, mug.currency) == (
        "White hanging heart t-light holder",
        255,
        "GBP",
    )

    again = await import_order_lines(
        store, text, actor="t", mapping=MAPPING, create_customers=True, currency="GBP"
    )
    assert (again.lines_imported, again.orders, again.customers_created, again.products_created) == (
        0,
        0,
        0,
        0,
    )
    assert (again.already_imported_orders, again.already_imported_lines) == (want["orders"], want["imported"])
    assert "Nothing new" in again.summary()[-1]
    assert await _counts(store) == after_first  # not even an audit entry


async def test_known_customers_are_matched_and_unknown_ones_skipped_without_the_flag(store: Store) -> None:
    async with store.write("t") as tx:
        await tx.customers.add(name="Acme", external_ref="17850")
    text = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A1,  BLUE   MUG ,2,2010-12-01 08:26:00,2.5,17850.0,United Kingdom\n"
        "1,a1,BLUE MUG,1,2010-12-01 08:26:00,2.5,17850.0,United Kingdom\n"
        "2,B2,Tea,1,2010-12-01 09:00:00,1,99999.0,France\n"
        "2,B2,Tea,3,2010-12-01 09:00:00,1,99999.0,France\n"
        "3,A1,BLUE MUG,1,2010-12-01 10:00:00,2.5,,United Kingdom\n"
    )
    report = await import_order_lines(store, text, actor="t", mapping=MAPPING)
    assert (report.lines_read, report.lines_imported, report.orders, report.skipped_guest) == (5, 2, 1, 1)
    assert (report.customers_matched, report.customers_created, report.skipped_unknown_customer) == (1, 0, 2)
    assert report.errors == [
        (4, "no customer with reference 99999 (2 lines skipped); --create-customers creates it")
    ]
    async with store.read() as tx:
        (order,) = await tx.orders.for_customer(1)
        mug = await tx.catalog.product_by_sku("A1")
        assert await tx.catalog.product_by_sku("B2") is None
    assert (order.amount_cents, order.currency, order.external_ref) == (750, "USD", "1")
    assert mug is not None and mug.name == "Blue mug"


async def test_bad_lines_are_skipped_with_their_line_numbers(store: Store) -> None:
    text = (
        "Invoice,Code,Name,Qty,When,Price,Customer,Country\n"
        "1,A1,Mug,2,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,A1,Mug,two,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,A1,Mug,0,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,A1,Mug,1.5,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,A1,Mug,1,2010-12-01 08:26:00,-1,7,UK\n"
        "1,A1,Mug,1,yesterday,2.5,7,UK\n"
        ",A1,Mug,1,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,,,1,2010-12-01 08:26:00,2.5,7,UK\n"
        "1,A1,Mug,1,2010-12-01 08:26:00,2.5,8,UK\n"
        "C2,A1,Mug,1,12/2/2010 9:30,2.5,7,UK\n"
    )
    mapping = parse_mapping(
        "order_ref=Invoice,sku=Code,product=Name,quantity=Qty,ordered_at=When,unit_price=Price,"
        "customer_ref=Customer,country=Country"
    )
    report = await import_order_lines(store, text, actor="t", mapping=mapping, create_customers=True)
    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 7, 8, 9, 10]
    reasons = dict(report.errors)
    assert "'two' is not a whole number" in reasons[3] and reasons[4] == "quantity is 0"
    assert "negative" in reasons[6] and "is not like 2010-12-01" in reasons[7]
    assert reasons[10] == "order 1 is customer 7's (line 2)"
    assert (report.lines_imported, report.orders, report.returns) == (2, 2, 1)
    async with store.read() as tx:
        refund = (
            await tx.conn.execute(select(orders.c.amount_cents).where(orders.c.external_ref == "C2"))
        ).scalar_one()
    assert refund == -250


@pytest.mark.parametrize(
    ("mapping", "text", "needle"),
    [
        ("order_ref=InvoiceNo,colour=Red", "InvoiceNo\n1\n", "'colour' is not a field"),
        ("order_ref InvoiceNo", "InvoiceNo\n1\n", "field=Column pairs"),
        ("order_ref=InvoiceNo", "InvoiceNo\n1\n", "Map quantity, unit_price, customer_ref, sku or product"),
        (MAP_EXAMPLE, "InvoiceNo,StockCode\n1,A\n", "The file has no column 'Description'"),
        (MAP_EXAMPLE, "", "empty"),
    ],
)
async def test_a_file_or_mapping_that_does_not_fit_is_refused_and_changes_nothing(
    store: Store, mapping: str, text: str, needle: str
) -> None:
    before = await _counts(store)
    with pytest.raises(UserError, match=needle):
        await import_order_lines(store, text, actor="t", mapping=parse_mapping(mapping))
    with pytest.raises(UserError, match="currency"):
        await import_order_lines(store, "a\n", actor="t", mapping=MAPPING, currency="XYZ")
    assert await _counts(store) == before


def test_references_and_names_are_tidied() -> None:
    assert customer_ref(" 17850.0 ") == "17850" and customer_ref("C-17") == "C-17"
    assert readable_name("  WHITE   HANGING HEART ") == "White hanging heart"
    assert readable_name("Blue Mug") == "Blue Mug"


async def test_strict_writes_nothing_when_a_line_is_skipped(store: Store) -> None:
    text = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A1,Mug,2,2010-12-01 08:26:00,2.5,7,UK\n"
        "2,A1,Mug,lots,2010-12-01 08:26:00,2.5,7,UK\n"
    )
    before = await _counts(store)
    report = await import_order_lines(
        store, text, actor="t", mapping=MAPPING, create_customers=True, strict=True
    )
    assert report.strict_aborted and report.errors == [(3, "quantity 'lots' is not a whole number")]
    assert report.summary()[-1] == "Nothing imported: lines were skipped and --strict was given."
    assert await _counts(store) == before


async def test_a_deleted_customer_gets_no_new_orders_and_is_not_created_again(store: Store) -> None:
    async with store.write("t") as tx:
        gone = (await tx.customers.add(name="Gone Ltd", external_ref="7")).id
        await tx.customers.soft_delete(gone, reason="test")
    text = (
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A1,Mug,2,2010-12-01 08:26:00,2.5,7.0,UK\n"
        "2,A1,Mug,1,2010-12-01 09:26:00,2.5,8.0,UK\n"
    )
    report = await import_order_lines(store, text, actor="t", mapping=MAPPING, create_customers=True)
    assert report.errors == [(2, "customer 7 was deleted from the book (1 lines skipped)")]
    assert (
        report.lines_imported,
        report.orders,
        report.customers_created,
        report.skipped_unknown_customer,
    ) == (
        1,
        1,
        1,
        1,
    )
    async with store.read() as tx:
        assert await tx.orders.for_customer(gone) == []
