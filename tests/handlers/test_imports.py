"""CSV import and export: bad rows by line number, good rows in one transaction, --strict."""

from __future__ import annotations

import csv
import io

from crm_store.store import Store
from handlers.exports import export
from handlers.imports import import_customers, import_orders

CUSTOMERS = """name,email,phone,company,status,tags,industry
Acme Corp,ops@acme.example,+1 555 0100,Acme Corp,active,"vip,enterprise",logistics
Broken Email,not-an-email,,,,,
Globex,hank@globex.example,,Globex,prospect,,retail
,nobody@x.example,,,,,
Dup Of Acme,OPS@acme.example,,,,,
Bad Status,b@s.example,,,vip,,
"""


async def test_import_customers_reports_bad_rows_and_imports_good(store: Store) -> None:
    report = await import_customers(store, CUSTOMERS, actor="cli:test")
    assert report.imported == 2
    assert sorted(report.errors) == [
        (3, "'not-an-email' is not an email address (like name@example.com)."),
        (5, "name is empty"),
        (6, "a customer with this email already exists; row skipped"),
        (7, "status must be one of lead, prospect, active, inactive, churned; got 'vip'."),
    ]
    async with store.read() as tx:
        customers = [c async for c in tx.customers.iter_all()]
        audit = await tx.audit.recent(entity="customer")
    assert [(c.name, c.tags, c.custom) for c in customers] == [
        ("Acme Corp", ("enterprise", "vip"), {"industry": "logistics"}),
        ("Globex", (), {"industry": "retail"}),
    ]
    assert audit[0].action == "import" and audit[0].detail["rows"] == 2


async def test_strict_imports_nothing_on_any_bad_row(store: Store) -> None:
    report = await import_customers(store, CUSTOMERS, actor="cli:test", strict=True)
    assert report.strict_aborted and report.imported == 0
    async with store.read() as tx:
        assert await tx.customers.count() == 0


async def test_import_orders_by_id_and_email_with_dedupe(store: Store) -> None:
    await import_customers(store, CUSTOMERS, actor="cli:test")
    orders = """customer_id,customer_email,amount,currency,ordered_at,note,external_ref
1,,1200.50,USD,2026-10-01,licence,ERP-1
,hank@globex.example,$99,,2026-10-02T10:00:00+02:00,,ERP-2
,hank@globex.example,abc,,,,ERP-3
99,,10,,,,ERP-4
1,,10,XYZ,,,ERP-5
1,,10,,yesterday,,ERP-6
1,,5,,,,ERP-1
"""
    report = await import_orders(store, orders, actor="cli:test")
    assert report.imported == 2
    assert [line for line, _ in sorted(report.errors)] == [4, 5, 6, 7, 8]
    again = await import_orders(store, orders, actor="cli:test")
    assert again.imported == 0  # external_ref makes re-imports safe
    async with store.read() as tx:
        globex = await tx.orders.for_customer(2)
    assert globex[0].amount_cents == 9900 and globex[0].ordered_at.hour == 8


async def test_export_customers_csv_roundtrip_and_formula_guard(store: Store) -> None:
    await import_customers(store, CUSTOMERS, actor="cli:test")
    async with store.write("t") as tx:
        await tx.customers.add(name='=HYPERLINK("http://evil")', email="evil@x.example")
    out = io.StringIO()
    assert await export(store, "customers", out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["name"] == "Acme Corp" and rows[0]["industry"] == "logistics"
    assert rows[0]["phone"] == "+15550100"  # a plain number is safe as it is
    assert rows[2]["name"].startswith("'=")


async def test_export_interactions_and_tickets(store: Store) -> None:
    async with store.write("t") as tx:
        c = await tx.customers.add(name="Acme")
        await tx.interactions.add(customer_id=c.id, rep_id=None, channel="console", kind="call", text="hi")
        await tx.tickets.open(customer_id=c.id, subject="Help", source="console")
    for kind, header in (("interactions", "kind"), ("tickets", "subject")):
        out = io.StringIO()
        assert await export(store, kind, out) == 1
        assert header in out.getvalue().splitlines()[0]


async def test_import_orders_names_ids_beyond_64_bits_as_missing(store: Store) -> None:
    await import_customers(store, CUSTOMERS, actor="cli:test")
    orders = """customer_id,customer_email,amount,currency,ordered_at,note,external_ref
99999999999999999999,,10,,,,ERP-1
1234567890123,,10,,,,ERP-2
-1,ops@acme.example,10,,,,ERP-3
1,,10,,,,ERP-4
"""
    report = await import_orders(store, orders, actor="cli:test")
    assert report.imported == 1
    assert sorted(report.errors) == [
        (2, "There is no customer #99999999999999999999."),
        (3, "no single customer #1234567890123; row skipped"),
        (4, "There is no customer #-1."),
    ]
