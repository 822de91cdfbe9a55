"""CSV exports of customers, interactions and tickets (safe to open in a spreadsheet)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, TextIO

from crm_store.store import Store

KINDS = ("customers", "interactions", "tickets")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """Text that a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write(out: TextIO, header: list[str], rows: Iterable[list[Any]]) -> int:
    writer = csv.writer(out)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([_cell(v) for v in row])
        count += 1
    return count


async def export(store: Store, kind: str, out: TextIO) -> int:
    """Write one CSV; returns the number of data rows."""
    if kind == "customers":
        async with store.read() as tx:
            customers = [c async for c in tx.customers.iter_all()]
        custom_keys = sorted({k for c in customers for k in c.custom})
        header = [
            "id",
            "name",
            "company",
            "email",
            "phone",
            "status",
            "tags",
            "owner_rep_id",
            "external_ref",
            "country",
            "source",
            "created_at",
            *custom_keys,
        ]
        return _write(
            out,
            header,
            (
                [
                    c.id,
                    c.name,
                    c.company,
                    c.email,
                    c.phone,
                    c.status,
                    ",".join(c.tags),
                    c.owner_rep_id,
                    c.external_ref,
                    c.country,
                    c.source,
                    c.created_at,
                    *(c.custom.get(k, "") for k in custom_keys),
                ]
                for c in customers
            ),
        )
    if kind == "interactions":
        async with store.read() as tx:
            interactions = await tx.interactions.all_in_range()
        header = [
            "id",
            "customer_id",
            "rep",
            "channel",
            "kind",
            "direction",
            "text",
            "sentiment_label",
            "sentiment_score",
            "occurred_at",
        ]
        return _write(
            out,
            header,
            (
                [
                    i.id,
                    i.customer_id,
                    i.rep_name,
                    i.channel,
                    i.kind,
                    i.direction,
                    i.text,
                    i.sentiment_label,
                    i.sentiment_score,
                    i.occurred_at,
                ]
                for i in interactions
            ),
        )
    if kind == "tickets":
        async with store.read() as tx:
            tickets = await tx.tickets.find(status="all", limit=10_000_000)
        header = [
            "id",
            "customer_id",
            "customer",
            "subject",
            "status",
            "priority",
            "assignee",
            "source",
            "created_at",
            "first_response_at",
            "resolved_at",
            "csat_rating",
        ]
        return _write(
            out,
            header,
            (
                [
                    t.id,
                    t.customer_id,
                    t.customer_name,
                    t.subject,
                    t.status,
                    t.priority,
                    t.assignee_name,
                    t.source,
                    t.created_at,
                    t.first_response_at,
                    t.resolved_at,
                    t.csat_rating,
                ]
                for t in sorted(tickets, key=lambda t: t.id)
            ),
        )
    raise ValueError(f"unknown export {kind!r}; choose one of {', '.join(KINDS)}")
