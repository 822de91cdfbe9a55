"""Orders: amounts in integer cents against a customer, one by one or imported in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import RowMapping

from crm_store.records import OrderLineRecord, OrderRecord
from crm_store.repo import Repo
from crm_store.tables import order_lines, orders

# (product_id, quantity, unit_price_cents); a negative quantity is a return.
Line = tuple[int, int, int]


def _record(row: RowMapping) -> OrderRecord:
    return OrderRecord(
        id=row["id"],
        customer_id=row["customer_id"],
        rep_id=row["rep_id"],
        amount_cents=row["amount_cents"],
        currency=row["currency"],
        note=row["note"],
        external_ref=row["external_ref"],
        ordered_at=row["ordered_at"],
    )


def _line(r: RowMapping) -> OrderLineRecord:
    return OrderLineRecord(
        id=r["id"],
        order_id=r["order_id"],
        product_id=r["product_id"],
        customer_id=r["customer_id"],
        quantity=r["quantity"],
        unit_price_cents=r["unit_price_cents"],
        line_cents=r["line_cents"],
        ordered_at=r["ordered_at"],
    )


class OrderRepo(Repo):
    async def add(
        self,
        *,
        customer_id: int,
        rep_id: int | None,
        amount_cents: int,
        currency: str = "USD",
        note: str = "",
        ordered_at: datetime | None = None,
        external_ref: str | None = None,
    ) -> int:
        new_id = (
            await self.conn.execute(
                insert(orders)
                .values(
                    customer_id=customer_id,
                    rep_id=rep_id,
                    amount_cents=amount_cents,
                    currency=currency,
                    note=note,
                    external_ref=external_ref,
                    ordered_at=ordered_at or self.now,
                    created_at=self.now,
                )
                .returning(orders.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "order", new_id, customer_id=customer_id, amount_cents=amount_cents)
        return int(new_id)

    async def add_with_lines(
        self,
        *,
        customer_id: int,
        lines: Sequence[Line],
        ordered_at: datetime | None = None,
        external_ref: str | None = None,
        rep_id: int | None = None,
        currency: str = "USD",
        note: str = "",
    ) -> int:
        """An order and its lines in one go; the order's amount is the sum of its lines."""
        if not lines:
            raise ValueError("an order with lines needs at least one line")
        when = ordered_at or self.now
        order_id = await self.add(
            customer_id=customer_id,
            rep_id=rep_id,
            amount_cents=sum(q * p for _, q, p in lines),
            currency=currency,
            note=note,
            ordered_at=when,
            external_ref=external_ref,
        )
        await self.conn.execute(insert(order_lines), _line_values(order_id, customer_id, when, lines))
        return order_id

    async def add_many_with_lines(self, rows: Sequence[Mapping[str, Any]], *, source: str) -> int:
        """Bulk orders with their lines (imports): each row has ``customer_id``, ``lines``
        (a sequence of Line), and optional ``ordered_at``, ``external_ref``, ``currency``,
        ``note``. Two statements for the lot and one audit entry."""
        if not rows:
            return 0
        values = [
            {
                "customer_id": r["customer_id"],
                "rep_id": None,
                "amount_cents": sum(q * p for _, q, p in r["lines"]),
                "currency": r.get("currency", "USD"),
                "note": r.get("note", ""),
                "external_ref": r.get("external_ref"),
                "ordered_at": r.get("ordered_at") or self.now,
                "created_at": self.now,
            }
            for r in rows
        ]
        result = await self.conn.execute(
            insert(orders).returning(orders.c.id, sort_by_parameter_order=True), values
        )
        ids = [int(i) for i in result.scalars().all()]
        line_values: list[dict[str, Any]] = []
        for order_id, row, value in zip(ids, rows, values, strict=True):
            line_values.extend(_line_values(order_id, row["customer_id"], value["ordered_at"], row["lines"]))
        if line_values:
            await self.conn.execute(insert(order_lines), line_values)
        await self.audit.record(
            "import", "order", None, rows=len(values), lines=len(line_values), source=source
        )
        return len(values)

    async def lines(self, order_id: int) -> list[OrderLineRecord]:
        query = select(order_lines).where(order_lines.c.order_id == order_id).order_by(order_lines.c.id)
        return [_line(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def add_many(self, rows: Iterable[Mapping[str, Any]], *, source: str) -> int:
        values = [
            {
                "customer_id": r["customer_id"],
                "rep_id": None,
                "amount_cents": r["amount_cents"],
                "currency": r.get("currency", "USD"),
                "note": r.get("note", ""),
                "external_ref": r.get("external_ref"),
                "ordered_at": r.get("ordered_at") or self.now,
                "created_at": self.now,
            }
            for r in rows
        ]
        if not values:
            return 0
        await self.conn.execute(insert(orders), values)
        await self.audit.record("import", "order", None, rows=len(values), source=source)
        return len(values)

    async def existing_refs(self, refs: Iterable[str]) -> set[str]:
        wanted = sorted({r for r in refs if r})
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # bounded IN lists (SQLite's variable limit)
            chunk = wanted[start : start + 500]
            rows = await self.conn.execute(
                select(orders.c.external_ref).where(orders.c.external_ref.in_(chunk))
            )
            found.update(str(r[0]) for r in rows)
        return found

    async def ids_by_external_ref(self, refs: Iterable[str]) -> dict[str, int]:
        """Order ids per external reference, one query per 500 references."""
        wanted = sorted({r for r in refs if r})
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            rows = await self.conn.execute(
                select(orders.c.external_ref, orders.c.id).where(
                    orders.c.external_ref.in_(wanted[start : start + 500])
                )
            )
            found.update({str(ref): int(order_id) for ref, order_id in rows})
        return found

    async def get(self, order_id: int) -> OrderRecord | None:
        row = (await self.conn.execute(select(orders).where(orders.c.id == order_id))).mappings().first()
        return None if row is None else _record(row)

    async def page_for_customer(self, customer_id: int, *, after_id: int, limit: int) -> list[OrderRecord]:
        """A customer's orders by id (the order they were recorded in), after ``after_id``."""
        query = (
            select(orders)
            .where(orders.c.customer_id == customer_id, orders.c.id > after_id)
            .order_by(orders.c.id)
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def lines_of(self, order_ids: Sequence[int]) -> dict[int, list[OrderLineRecord]]:
        """The lines of each of ``order_ids`` (one query per 500 orders)."""
        found: dict[int, list[OrderLineRecord]] = {i: [] for i in order_ids}
        wanted = sorted(set(order_ids))
        for start in range(0, len(wanted), 500):
            query = (
                select(order_lines)
                .where(order_lines.c.order_id.in_(wanted[start : start + 500]))
                .order_by(order_lines.c.order_id, order_lines.c.id)
            )
            for r in (await self.conn.execute(query)).mappings().all():
                found[r["order_id"]].append(_line(r))
        return found

    async def for_customer(self, customer_id: int, *, limit: int = 20) -> list[OrderRecord]:
        query = (
            select(orders)
            .where(orders.c.customer_id == customer_id)
            .order_by(orders.c.ordered_at.desc(), orders.c.id.desc())
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]


def _line_values(
    order_id: int, customer_id: int, ordered_at: datetime, lines: Sequence[Line]
) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "product_id": product_id,
            "customer_id": customer_id,
            "quantity": quantity,
            "unit_price_cents": unit_cents,
            "line_cents": quantity * unit_cents,
            "ordered_at": ordered_at,
        }
        for product_id, quantity, unit_cents in lines
    ]
