"""Read-only SQL views (crm_v1_*) for BI tools and ERPs that read the database directly.

The views are a published interface: their names and columns stay the same whatever the
tables beneath them become (a new interface gets new names, crm_v2_*). Soft-deleted customers
and everything that belongs to them are left out; erased customers stay as their anonymous
stubs so totals still add up.

SQLite renames tables when a migration alters them by copy, and refuses the rename while a view
names the table; so the migrations environment drops the views before any migration runs and
creates them again once the store is at the head revision (``crm_store/migrations/env.py``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Select, func, inspect, select, text
from sqlalchemy.sql import and_

from crm_store.tables import customers, interactions, order_lines, orders, products, reps, tickets

_LIVE = customers.c.deleted_at.is_(None)


def _customers() -> Select[tuple[object, ...]]:
    return (
        select(
            customers.c.id,
            customers.c.name,
            customers.c.company,
            customers.c.email,
            customers.c.phone,
            customers.c.status,
            customers.c.source,
            customers.c.country,
            customers.c.external_ref,
            customers.c.timezone,
            customers.c.owner_rep_id,
            reps.c.display_name.label("owner_name"),
            customers.c.tags,
            customers.c.custom.label("custom_fields"),
            customers.c.erased_at.is_not(None).label("erased"),
            customers.c.created_at,
            customers.c.updated_at,
        )
        .select_from(customers.outerjoin(reps, reps.c.id == customers.c.owner_rep_id))
        .where(_LIVE)
    )


def _orders() -> Select[tuple[object, ...]]:
    line_count = (
        select(func.count())
        .where(order_lines.c.order_id == orders.c.id)
        .correlate(orders)
        .scalar_subquery()
        .label("line_count")
    )
    return (
        select(
            orders.c.id,
            orders.c.customer_id,
            orders.c.external_ref,
            orders.c.rep_id,
            orders.c.amount_cents,
            orders.c.currency,
            orders.c.note,
            (orders.c.amount_cents < 0).label("is_return"),
            line_count,
            orders.c.ordered_at,
            orders.c.created_at,
        )
        .select_from(orders.join(customers, customers.c.id == orders.c.customer_id))
        .where(_LIVE)
    )


def _order_lines() -> Select[tuple[object, ...]]:
    return (
        select(
            order_lines.c.id,
            order_lines.c.order_id,
            orders.c.external_ref.label("order_external_ref"),
            order_lines.c.customer_id,
            order_lines.c.product_id,
            products.c.sku,
            products.c.name.label("product_name"),
            products.c.category,
            order_lines.c.quantity,
            order_lines.c.unit_price_cents,
            order_lines.c.line_cents,
            orders.c.currency,
            order_lines.c.ordered_at,
        )
        .select_from(
            order_lines.join(orders, orders.c.id == order_lines.c.order_id)
            .join(products, products.c.id == order_lines.c.product_id)
            .join(customers, customers.c.id == order_lines.c.customer_id)
        )
        .where(_LIVE)
    )


def _tickets() -> Select[tuple[object, ...]]:
    return (
        select(
            tickets.c.id,
            tickets.c.customer_id,
            tickets.c.subject,
            tickets.c.status,
            tickets.c.priority,
            tickets.c.source,
            tickets.c.assignee_rep_id,
            reps.c.display_name.label("assignee_name"),
            tickets.c.csat_rating,
            tickets.c.breach_kind,
            tickets.c.created_at,
            tickets.c.updated_at,
            tickets.c.first_response_at,
            tickets.c.resolved_at,
            tickets.c.breached_at,
        )
        .select_from(
            tickets.join(customers, customers.c.id == tickets.c.customer_id).outerjoin(
                reps, reps.c.id == tickets.c.assignee_rep_id
            )
        )
        .where(_LIVE)
    )


def _interactions() -> Select[tuple[object, ...]]:
    return select(
        interactions.c.id,
        interactions.c.customer_id,
        interactions.c.rep_id,
        interactions.c.channel,
        interactions.c.kind,
        interactions.c.direction,
        interactions.c.text,
        interactions.c.sentiment_label,
        interactions.c.sentiment_score,
        interactions.c.occurred_at,
        interactions.c.created_at,
    ).select_from(interactions.join(customers, and_(customers.c.id == interactions.c.customer_id, _LIVE)))


VIEWS = {
    "crm_v1_customers": _customers,
    "crm_v1_orders": _orders,
    "crm_v1_order_lines": _order_lines,
    "crm_v1_tickets": _tickets,
    "crm_v1_interactions": _interactions,
}

# The published columns, in order. A test holds the views to this list: changing it is a new
# interface version, not an edit.
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(column.name for column in build().selected_columns) for name, build in VIEWS.items()
}


def drop_views(conn: Connection) -> None:
    for name in VIEWS:
        conn.execute(text(f"DROP VIEW IF EXISTS {name}"))


def create_views(conn: Connection, *, only_missing: bool = False) -> None:
    present = set(inspect(conn).get_view_names()) if only_missing else set()
    for name, build in VIEWS.items():
        if name in present:
            continue
        query = build().compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
        conn.execute(text(f"CREATE VIEW {name} AS {query}"))
