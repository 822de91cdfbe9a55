"""The catalog repo and orders with lines, on SQLite and PostgreSQL: products by SKU, upserts,
orders whose amount is the sum of their lines, bulk writes, and a product's sales figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import order_lines, orders
from tests.conftest import T0, FakeClock


@pytest.fixture
def book_url(db_url: str) -> str:
    """This run's database: tests/conftest.py runs each test on SQLite and on PostgreSQL."""
    return db_url


@pytest.fixture
async def book(book_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = Store.open(book_url, clock=clock)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


async def test_add_product_and_find_it_by_sku_case_aside(book: Store) -> None:
    async with book.write("t") as tx:
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug", category="kitchen", price_cents=1250)
    async with book.read() as tx:
        found = await tx.catalog.product_by_sku("MUG-1")
        assert found is not None and found.id == mug
        assert (found.name, found.category, found.price_cents, found.currency) == (
            "Blue mug",
            "kitchen",
            1250,
            "USD",
        )
        lower = await tx.catalog.product_by_sku("mug-1")
        assert lower is not None and lower.id == mug
        assert await tx.catalog.product_by_sku("MUG-2") is None
        assert await tx.catalog.all_names() == [(mug, "MUG-1", "Blue mug")]


async def test_a_second_product_with_the_same_sku_is_refused(book: Store) -> None:
    async with book.write("t") as tx:
        await tx.catalog.add_product(sku="MUG-1", name="Blue mug")
    with pytest.raises(IntegrityError):
        async with book.write("t") as tx:
            await tx.catalog.add_product(sku="MUG-1", name="Red mug")
    async with book.read() as tx:
        assert await tx.catalog.count() == 1


async def test_upsert_updates_the_given_fields_and_keeps_the_rest(book: Store) -> None:
    async with book.write("t") as tx:
        first = await tx.catalog.upsert_product(sku="TEA", name="Tea", category="food", price_cents=300)
        again = await tx.catalog.upsert_product(sku="TEA", name="Green tea", price_cents=None)
    assert first == again
    async with book.read() as tx:
        tea = await tx.catalog.get(first)
    assert tea is not None
    assert (tea.name, tea.category, tea.price_cents) == ("Green tea", "food", 300)


async def test_an_order_with_lines_costs_the_sum_of_its_lines(book: Store) -> None:
    async with book.write("t") as tx:
        acme = (await tx.customers.add(name="Acme", external_ref="17850", country="United Kingdom")).id
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug")
        tea = await tx.catalog.add_product(sku="TEA", name="Tea")
        order = await tx.orders.add_with_lines(
            customer_id=acme, lines=[(mug, 2, 1250), (tea, 3, 300)], external_ref="536365", currency="GBP"
        )
    async with book.read() as tx:
        (record,) = await tx.orders.for_customer(acme)
        lines = await tx.orders.lines(order)
        customer = await tx.customers.get(acme)
    assert (record.id, record.amount_cents, record.currency, record.external_ref) == (
        order,
        3400,
        "GBP",
        "536365",
    )
    assert [(ln.product_id, ln.quantity, ln.unit_price_cents, ln.line_cents) for ln in lines] == [
        (mug, 2, 1250, 2500),
        (tea, 3, 300, 900),
    ]
    assert all(ln.customer_id == acme and ln.ordered_at == T0 for ln in lines)
    assert customer is not None and (customer.external_ref, customer.country) == ("17850", "United Kingdom")


async def test_an_order_without_lines_is_refused(book: Store) -> None:
    async with book.write("t") as tx:
        acme = (await tx.customers.add(name="Acme")).id
        with pytest.raises(ValueError):
            await tx.orders.add_with_lines(customer_id=acme, lines=[])


async def test_bulk_orders_with_lines_keep_each_order_with_its_own_lines(
    book: Store, clock: FakeClock
) -> None:
    async with book.write("t") as tx:
        await tx.customers.add_many(
            [{"name": f"Customer {n}", "external_ref": str(n), "country": "France"} for n in (1, 2)],
            source="t",
        )
        ids = await tx.customers.ids_by_external_ref(["1", "2", "3"])
        made = await tx.catalog.add_many(
            [{"sku": "A", "name": "Apple"}, {"sku": "B", "name": "Bag"}], source="t"
        )
        rows = [
            {
                "customer_id": ids[str(n % 2 + 1)],
                "external_ref": f"INV{n}",
                "ordered_at": T0 - timedelta(days=n),
                "lines": [(made["A"], n + 1, 100), (made["B"], -1, 50)]
                if n % 3 == 0
                else [(made["B"], 1, 50)],
            }
            for n in range(40)
        ]
        assert await tx.orders.add_many_with_lines(rows, source="t") == 40
    assert set(ids) == {"1", "2"}
    async with book.read() as tx:
        assert await tx.orders.existing_refs(f"INV{n}" for n in range(45)) == {f"INV{n}" for n in range(40)}
        amounts = dict((await tx.conn.execute(select(orders.c.external_ref, orders.c.amount_cents))).all())
        per_order = dict(
            (
                await tx.conn.execute(
                    select(orders.c.external_ref, func.sum(order_lines.c.line_cents))
                    .join(order_lines, order_lines.c.order_id == orders.c.id)
                    .group_by(orders.c.external_ref)
                )
            ).all()
        )
        line_customers = (
            await tx.conn.execute(
                select(func.count())
                .select_from(order_lines.join(orders, orders.c.id == order_lines.c.order_id))
                .where(order_lines.c.customer_id != orders.c.customer_id)
            )
        ).scalar_one()
    assert amounts == per_order
    assert amounts["INV3"] == 4 * 100 - 50 and amounts["INV4"] == 50
    assert line_customers == 0


async def test_product_summary_counts_sales_returns_and_top_buyers_within_scope(book: Store) -> None:
    async with book.write("t") as tx:
        ann = await tx.people.add_rep(display_name="Ann", role="rep")
        bob = await tx.people.add_rep(display_name="Bob", role="rep")
        mine = (await tx.customers.add(name="Mine Ltd", owner_rep_id=ann.id)).id
        theirs = (await tx.customers.add(name="Theirs Ltd", owner_rep_id=bob.id)).id
        shared = (await tx.customers.add(name="Shared Ltd")).id
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug")
        tea = await tx.catalog.add_product(sku="TEA", name="Tea")
        await tx.orders.add_with_lines(customer_id=mine, lines=[(mug, 5, 100), (tea, 1, 10)])
        await tx.orders.add_with_lines(customer_id=mine, lines=[(mug, -2, 100)])  # a return
        await tx.orders.add_with_lines(customer_id=theirs, lines=[(mug, 10, 100)])
        await tx.orders.add_with_lines(customer_id=shared, lines=[(mug, 1, 100)])
    async with book.read() as tx:
        whole = await tx.catalog.product_summary(mug)
        scoped = await tx.catalog.product_summary(mug, visible_to_rep=ann.id)
        nothing = await tx.catalog.product_summary(999)
    assert nothing is None
    assert whole is not None and scoped is not None
    assert (
        whole.units,
        whole.revenue_cents,
        whole.orders,
        whole.returned_units,
        whole.returns,
        whole.buyers,
    ) == (
        14,
        1400,
        3,
        2,
        1,
        3,
    )
    assert [(b.name, b.units, b.revenue_cents) for b in whole.top_buyers] == [
        ("Theirs Ltd", 10, 1000),
        ("Mine Ltd", 3, 300),
        ("Shared Ltd", 1, 100),
    ]
    assert (scoped.units, scoped.orders, scoped.buyers) == (4, 2, 2)
    assert [b.name for b in scoped.top_buyers] == ["Mine Ltd", "Shared Ltd"]
