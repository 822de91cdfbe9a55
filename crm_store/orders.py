"""Orders: amounts in integer cents against a customer, one by one or imported in bulk."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import RowMapping

from crm_store.records import OrderRecord
from crm_store.repo import Repo
from crm_store.tables import orders


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
        wanted = [r for r in refs if r]
        if not wanted:
            return set()
        rows = await self.conn.execute(select(orders.c.external_ref).where(orders.c.external_ref.in_(wanted)))
        return {str(r[0]) for r in rows}

    async def for_customer(self, customer_id: int, *, limit: int = 20) -> list[OrderRecord]:
        query = (
            select(orders)
            .where(orders.c.customer_id == customer_id)
            .order_by(orders.c.ordered_at.desc(), orders.c.id.desc())
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]
