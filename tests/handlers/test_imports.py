"""CSV import and export: bad rows by line number, good rows in one transaction, --strict, the
four defects of issue 13 (swallowed line, semicolons, non-ASCII emails, export -> import)."""

from __future__ import annotations

import csv
import io

import pytest

from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import customers as customers_table
from handlers.exports import export
from handlers.imports import ImportReport, import_customers, import_orders

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
        (6, "a customer with this email already exists; row skipped (--upsert-by email updates it)"),
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


async def _book(store: Store) -> list[tuple[object, ...]]:
    async with store.read() as tx:
        return [
            (c.name, c.company, c.email, c.phone, c.status, c.tags, c.custom, c.external_ref, c.country)
            async for c in tx.customers.iter_all()
        ]


def _accounted(report: ImportReport) -> int:
    return report.imported + report.updated + report.unchanged + report.rejected


async def test_a_malformed_line_does_not_swallow_the_next_one(store: Store) -> None:
    text = (
        'name,email\n"Acme Corp,ops@acme.example\nGlobex,hank@globex.example\nInitech,bill@initech.example\n'
    )
    report = await import_customers(store, text, actor="cli:test")
    assert report.errors == [(2, 'a quote (") opened on this line is never closed; line skipped')]
    assert [row[0] for row in await _book(store)] == ["Globex", "Initech"]
    assert report.rows == 3 and _accounted(report) == 3


async def test_a_quoted_line_break_is_one_cell_and_too_many_values_name_the_line(store: Store) -> None:
    text = (
        'name,email,note\n"Acme\nCorp",ops@acme.example,"two\nlines"\n'
        "Globex,hank@globex.example,a,b\nInitech,,\n"
    )
    report = await import_customers(store, text, actor="cli:test")
    assert report.errors == [(5, "4 values for 3 columns; row skipped")]
    book = await _book(store)
    assert [(row[0], row[6]) for row in book] == [("Acme Corp", {"note": "two\nlines"}), ("Initech", {})]


async def test_a_semicolon_file_imports_every_row(store: Store) -> None:
    text = (
        "name;email;company;industry\n"
        "Acme Corp;ops@acme.example;Acme, Inc.;logistics\nGlobex;hank@globex.example;;retail\n"
    )
    report = await import_customers(store, text, actor="cli:test")
    assert (report.imported, report.errors, report.delimiter) == (2, [], ";")
    assert (await _book(store))[0][1:3] == ("Acme, Inc.", "ops@acme.example")


async def test_a_tab_file_with_blank_lines_accounts_for_them(store: Store) -> None:
    text = "\ufeffname\temail\n\nAcme Corp\tops@acme.example\n\n"
    report = await import_customers(store, text, actor="cli:test")
    assert (report.imported, report.blank, report.delimiter) == (1, 2, "\t")


async def test_non_ascii_and_idna_emails_are_addresses(store: Store) -> None:
    text = (
        "name,email\nChloé,chloé@exemple.fr\nBücher,info@bücher.example\n"
        "Puny,a@xn--bcher-kva.example\nBad,chloé@\n"
    )
    report = await import_customers(store, text, actor="cli:test")
    assert report.imported == 3 and [line for line, _ in report.errors] == [5]
    assert [row[2] for row in await _book(store)] == [
        "chloé@exemple.fr",
        "info@bücher.example",
        "a@xn--bcher-kva.example",
    ]


async def test_what_export_writes_imports_again_into_the_same_book(store: Store, db_url: str) -> None:
    await import_customers(store, CUSTOMERS, actor="cli:test")
    async with store.write("t") as tx:
        await tx.customers.add(name="=SUM(A1)", email="f@x.example", external_ref="ERP-7", country="France")
        await tx.customers.add(name="Multi", company="Two, Words", custom={"note": 'say "hi";\nbye'})
    before = await _book(store)
    out = io.StringIO()
    await export(store, "customers", out)
    again = await import_customers(store, out.getvalue(), actor="cli:test")
    assert (again.imported, again.updated, again.unchanged, again.errors) == (0, 0, 4, [])
    assert await _book(store) == before
    # Into an empty book: the same customers again.
    async with store.write("t") as tx:
        for c in [c async for c in tx.customers.iter_all()]:
            await tx.customers.soft_delete(c.id, reason="test")
    async with store.write("t") as tx:
        await tx.conn.execute(customers_table.update().values(external_ref=None))
    fresh = await import_customers(store, out.getvalue(), actor="cli:test")
    assert (fresh.imported, fresh.errors) == (4, [])
    assert await _book(store) == before


async def test_upsert_by_email_updates_and_dry_run_writes_nothing(store: Store) -> None:
    await import_customers(store, "name,email,industry\nAcme,ops@acme.example,retail\n", actor="cli:test")
    text = (
        "name,email,industry,phone\nAcme,OPS@acme.example,logistics,\n"
        "New One,new@x.example,,\nNew One,new@x.example,,+1 555 0100\n"
    )
    dry = await import_customers(store, text, actor="cli:test", upsert_by="email", dry_run=True)
    assert (dry.imported, dry.updated, dry.unchanged, dry.errors) == (1, 2, 0, [])
    assert "nothing was written" in dry.summary()
    assert [row[6] for row in await _book(store)] == [{"industry": "retail"}]
    done = await import_customers(store, text, actor="cli:test", upsert_by="email")
    assert (done.imported, done.updated, done.errors) == (1, 2, [])
    assert [(row[0], row[3], row[6]) for row in await _book(store)] == [
        ("Acme", "", {"industry": "logistics"}),
        ("New One", "+15550100", {}),
    ]


async def test_an_id_of_someone_else_never_overwrites_them_and_external_ref_upserts(store: Store) -> None:
    async with store.write("t") as tx:
        await tx.customers.add(name="Globex", email="hank@globex.example")
        gone = await tx.customers.add(name="Gone", external_ref="ERP-9")
        await tx.customers.soft_delete(gone.id, reason="test")
    text = (
        "id,name,email,external_ref,country\n"
        "1,Initech,bill@initech.example,ERP-1,\n"  # id 1 is Globex: not this customer
        ",Initech Ltd,,ERP-1,Germany\n"  # the same external_ref: an update of the row above
        ",Nobody,,ERP-9,\n"  # a deleted customer's reference
        ",No Ref,,,\n"
    )
    dry = await import_customers(store, text, actor="cli:test", upsert_by="external_ref", dry_run=True)
    assert (dry.imported, dry.updated) == (1, 1)
    report = await import_customers(store, text, actor="cli:test", upsert_by="external_ref")
    assert (report.imported, report.updated, report.unchanged) == (1, 1, 0)
    assert report.errors == [
        (4, "external_ref ERP-9 belongs to a deleted customer; row skipped"),
        (5, "no external_ref to match on (--upsert-by external_ref); row skipped"),
    ]
    assert dry.errors == report.errors
    book = await _book(store)
    assert [(row[0], row[2], row[7], row[8]) for row in book] == [
        ("Globex", "hank@globex.example", None, ""),
        ("Initech Ltd", "bill@initech.example", "ERP-1", "Germany"),
    ]


async def test_strict_rolls_back_rows_already_written_in_earlier_batches(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("handlers.imports.IMPORT_CHUNK", 2)
    text = "name,email\nA,a@x.example\nB,b@x.example\nC,c@x.example\nD,not-an-email\n"
    report = await import_customers(store, text, actor="cli:test", strict=True)
    assert report.strict_aborted and report.errors[0][0] == 5
    async with store.read() as tx:
        assert await tx.customers.count() == 0
    done = await import_customers(store, text, actor="cli:test")
    assert (done.imported, done.rows, done.rejected) == (3, 4, 1)


async def test_the_round_trip_and_upserts_work_on_postgres(pg_url: str) -> None:
    pg = Store.open(pg_url)
    try:
        await upgrade(pg.engine)
        text = CUSTOMERS + "Chloé,chloé@exemple.fr,,Café,,,\n"
        first = await import_customers(pg, text, actor="cli:test")
        assert (first.imported, first.rejected) == (3, 4)
        out = io.StringIO()
        await export(pg, "customers", out)
        again = await import_customers(pg, out.getvalue(), actor="cli:test")
        assert (again.imported, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])
        moved = await import_customers(
            pg, "name,email,city\nChloé,CHLOÉ@exemple.fr,Lyon\n", actor="cli:test", upsert_by="email"
        )
        assert (moved.imported, moved.updated) == (0, 1)
        assert (await _book(pg))[2][6] == {"city": "Lyon"}
    finally:
        await pg.close()


async def test_a_reference_held_by_another_customer_is_refused_not_crashed_on(store: Store) -> None:
    async with store.write("t") as tx:
        await tx.customers.add(name="Acme", email="ops@acme.example")
        await tx.customers.add(name="Globex", external_ref="ERP-2")
    text = "name,email,external_ref\nAcme,ops@acme.example,ERP-2\nInitech,bill@initech.example,\n"
    report = await import_customers(store, text, actor="cli:test", upsert_by="email")
    assert report.errors == [(2, "external_ref ERP-2 belongs to customer #2; row skipped")]
    assert (report.imported, report.updated) == (1, 0)
