"""What webhook events carry: the event types, and each object's shape (versioned, stable)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_store.tables import campaigns, customers, order_lines, orders, tickets

# Bumped only when a field is removed or changes meaning; new fields may appear in any version.
SCHEMA_VERSION = 1

EVENT_TYPES = (
    "ticket.created",
    "ticket.resolved",
    "customer.created",
    "customer.updated",
    "order.created",
    "loyalty.alert",
    "campaign.finished",
)
PING = "ping"  # `webhook test`: sent to one endpoint, whatever it subscribes to

# Audit records (action, entity) that are events. campaign.finished: the campaigns repository's
# ``finish`` records ("finish", "campaign", id) when a campaign's sending is done.
AUDIT_EVENTS: dict[tuple[str, str], str] = {
    ("create", "ticket"): "ticket.created",
    ("resolve", "ticket"): "ticket.resolved",
    ("create", "customer"): "customer.created",
    ("update", "customer"): "customer.updated",
    ("create", "order"): "order.created",
    ("alert", "loyalty"): "loyalty.alert",
    ("finish", "campaign"): "campaign.finished",
}


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def customer_shape(r: Any) -> dict[str, Any]:
    return {
        "object": "customer",
        "id": r["id"],
        "name": r["name"],
        "company": r["company"],
        "email": r["email"],
        "phone": r["phone"],
        "status": r["status"],
        "tags": list(r["tags"] or []),
        "custom": dict(r["custom"] or {}),
        "owner_rep_id": r["owner_rep_id"],
        "external_ref": r["external_ref"],
        "country": r["country"],
        "timezone": r["timezone"],
        "created_at": _time(r["created_at"]),
        "updated_at": _time(r["updated_at"]),
    }


def ticket_shape(r: Any) -> dict[str, Any]:
    return {
        "object": "ticket",
        "id": r["id"],
        "customer_id": r["customer_id"],
        "subject": r["subject"],
        "status": r["status"],
        "priority": r["priority"],
        "assignee_rep_id": r["assignee_rep_id"],
        "source": r["source"],
        "csat_rating": r["csat_rating"],
        "created_at": _time(r["created_at"]),
        "updated_at": _time(r["updated_at"]),
        "first_response_at": _time(r["first_response_at"]),
        "resolved_at": _time(r["resolved_at"]),
    }


def order_shape(r: Any, lines: list[Any]) -> dict[str, Any]:
    return {
        "object": "order",
        "id": r["id"],
        "customer_id": r["customer_id"],
        "amount_cents": r["amount_cents"],
        "currency": r["currency"],
        "note": r["note"],
        "external_ref": r["external_ref"],
        "ordered_at": _time(r["ordered_at"]),
        "created_at": _time(r["created_at"]),
        "lines": [
            {
                "product_id": line["product_id"],
                "quantity": line["quantity"],
                "unit_price_cents": line["unit_price_cents"],
                "line_cents": line["line_cents"],
            }
            for line in lines
        ],
    }


def campaign_shape(r: Any) -> dict[str, Any]:
    return {
        "object": "campaign",
        "id": r["id"],
        "name": r["name"],
        "state": r["state"],
        "send_at": _time(r["send_at"]),
        "started_at": _time(r["started_at"]),
        "finished_at": _time(r["finished_at"]),
    }


async def _one(conn: AsyncConnection, table: Any, row_id: int) -> Any:
    return (await conn.execute(select(table).where(table.c.id == row_id))).mappings().first()


async def event_data(
    conn: AsyncConnection, event_type: str, entity_id: str | None, detail: dict[str, Any]
) -> dict[str, Any] | None:
    """The object an event is about, read in the transaction that caused it (None: it is gone)."""
    if entity_id is None or not entity_id.isdigit():
        return None
    row_id = int(entity_id)
    kind = event_type.partition(".")[0]
    if kind == "ticket":
        row = await _one(conn, tickets, row_id)
        return None if row is None else ticket_shape(row)
    if kind == "customer":
        row = await _one(conn, customers, row_id)
        if row is None:
            return None
        data = customer_shape(row)
        if "fields" in detail:
            data["changed_fields"] = list(detail["fields"])
        return data
    if kind == "order":
        row = await _one(conn, orders, row_id)
        if row is None:
            return None
        query = select(order_lines).where(order_lines.c.order_id == row_id).order_by(order_lines.c.id)
        return order_shape(row, list((await conn.execute(query)).mappings().all()))
    if kind == "loyalty":
        row = await _one(conn, customers, row_id)
        if row is None:
            return None
        return {
            "object": "loyalty_alert",
            "run_date": detail.get("run_date"),
            "score": detail.get("score"),
            "previous_score": detail.get("previous_score"),
            "churn_risk": detail.get("churn_risk"),
            "customer": customer_shape(row),
        }
    if kind == "campaign":
        row = await _one(conn, campaigns, row_id)
        return None if row is None else campaign_shape(row)
    return None


def customer_of(data: dict[str, Any]) -> int | None:
    """The customer an event's object is about (to erase their deliveries with them)."""
    if data.get("object") == "customer":
        found = data.get("id")
    elif data.get("object") == "loyalty_alert":
        found = data.get("customer", {}).get("id")
    else:
        found = data.get("customer_id")
    return found if isinstance(found, int) else None


def envelope(*, event_id: str, event_type: str, created_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of every delivery."""
    return {
        "id": event_id,
        "type": event_type,
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at.isoformat(),
        "data": data,
    }
