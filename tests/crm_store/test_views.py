"""The published crm_v1_* views: readable on both stores, stable columns, soft-deleted rows left
out, and migrations that alter the tables beneath them still run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from crm_store.engine import create_engine
from crm_store.migrate import alembic_config, head_revision, upgrade
from crm_store.store import Store
from crm_store.views import COLUMNS

# The interface as published in the README: a change here is a new version (crm_v2_*), not an edit.
PUBLISHED = {
    "crm_v1_customers": (
        "id", "name", "company", "email", "phone", "status", "source", "country", "external_ref",
        "timezone", "owner_rep_id", "owner_name", "tags", "custom_fields", "erased", "created_at",
        "updated_at",
    ),
    "crm_v1_orders": (
        "id", "customer_id", "external_ref", "rep_id", "amount_cents", "currency", "note",
        "is_return", "line_count", "ordered_at", "created_at",
    ),
    "crm_v1_order_lines": (
        "id", "order_id", "order_external_ref", "customer_id", "product_id", "sku", "product_name",
        "category", "quantity", "unit_price_cents", "line_cents", "currency", "ordered_at",
    ),
    "crm_v1_tickets": (
        "id", "customer_id", "subject", "status", "priority", "source", "assignee_rep_id",
        "assignee_name", "csat_rating", "breach_kind", "created_at", "updated_at",
        "first_response_at", "resolved_at", "breached_at",
    ),
    "crm_v1_interactions": (
        "id", "customer_id", "rep_id", "channel", "kind", "direction", "text", "sentiment_label",
        "sentiment_score", "occurred_at", "created_at",
    ),
}  # fmt: skip

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_published_columns_do_not_drift() -> None:
    assert COLUMNS == PUBLISHED


async def _fill(store: Store) -> tuple[int, int]:
    async with store.write("test") as tx:
        kept = (await tx.customers.add(name="Acme Corp", email="ops@acme.example", external_ref="A-1")).id
        gone = (await tx.customers.add(name="Gone Ltd")).id
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug", price_cents=450)
        for customer in (kept, gone):
            await tx.orders.add_with_lines(
                customer_id=customer, lines=[(mug, 2, 450)], ordered_at=WHEN, external_ref=f"INV-{customer}"
            )
    return kept, gone


async def _rows(store: Store, view: str) -> list[dict[str, Any]]:
    async with store.engine.connect() as conn:
        result = await conn.execute(sa.text(f"SELECT * FROM {view} ORDER BY id"))
        assert tuple(result.keys()) == PUBLISHED[view]
        return [dict(row._mapping) for row in result]


async def _check(url: str) -> None:
    store = Store.open(url)
    try:
        await upgrade(store.engine)
        kept, gone = await _fill(store)
        async with store.engine.begin() as conn:  # a soft delete as `delete` leaves it
            await conn.execute(
                sa.text("UPDATE customers SET deleted_at = :at WHERE id = :id"), {"at": WHEN, "id": gone}
            )
        customers = await _rows(store, "crm_v1_customers")
        assert [(c["id"], c["name"], c["external_ref"]) for c in customers] == [(kept, "Acme Corp", "A-1")]
        orders = await _rows(store, "crm_v1_orders")
        assert [(o["customer_id"], o["amount_cents"], o["line_count"]) for o in orders] == [(kept, 900, 1)]
        lines = await _rows(store, "crm_v1_order_lines")
        assert [(ln["sku"], ln["product_name"], ln["quantity"], ln["line_cents"]) for ln in lines] == [
            ("MUG-1", "Blue mug", 2, 900)
        ]
        assert await _rows(store, "crm_v1_tickets") == []
        assert await _rows(store, "crm_v1_interactions") == []
    finally:
        await store.close()


async def test_views_read_on_sqlite(db_url: str) -> None:
    await _check(db_url)


async def test_views_read_on_postgres(pg_url: str) -> None:
    await _check(pg_url)


@pytest.mark.parametrize("target", ["0014_index", "base"])
async def test_migrations_down_and_up_again_with_views(tmp_path: Any, target: str) -> None:
    """Views name the tables that batch migrations copy and rename: going down and up again
    (which re-runs those migrations) still works, and the views are back at head."""
    url = f"sqlite+aiosqlite:///{tmp_path}/views.db"
    engine = create_engine(url)
    await upgrade(engine)

    def _down(sync_conn: sa.Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.downgrade(cfg, target)

    async with engine.begin() as conn:
        await conn.run_sync(_down)
        views = await conn.run_sync(lambda c: sa.inspect(c).get_view_names())
    assert views == []
    assert await upgrade(engine) == head_revision()
    async with engine.connect() as conn:
        views = await conn.run_sync(lambda c: sa.inspect(c).get_view_names())
    assert sorted(views) == sorted(PUBLISHED)
    await engine.dispose()
