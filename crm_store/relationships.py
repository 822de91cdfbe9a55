"""Relationships between customers: parent and subsidiary, partner, reseller, referral,
a contact working at a company, competitor; with the dates they held, kept after they end."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.engine import RowMapping

from crm_store.records import RelationshipRecord
from crm_store.repo import Repo
from crm_store.tables import customers, relationships

KINDS = ("parent", "subsidiary", "partner", "reseller", "referred-by", "works-at", "competitor")

_FROM = customers.alias("from_customer")
_TO = customers.alias("to_customer")


def _record(row: RowMapping) -> RelationshipRecord:
    return RelationshipRecord(
        id=row["id"],
        from_customer_id=row["from_customer_id"],
        from_name=row["from_name"],
        to_customer_id=row["to_customer_id"],
        to_name=row["to_name"],
        kind=row["kind"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        created_at=row["created_at"],
    )


def _query() -> Select[Any]:
    return (
        select(
            relationships,
            _FROM.c.name.label("from_name"),
            _TO.c.name.label("to_name"),
        )
        .join(_FROM, _FROM.c.id == relationships.c.from_customer_id)
        .join(_TO, _TO.c.id == relationships.c.to_customer_id)
        .where(_FROM.c.deleted_at.is_(None), _TO.c.deleted_at.is_(None))
    )


class RelationshipRepo(Repo):
    async def add(
        self,
        *,
        from_customer_id: int,
        kind: str,
        to_customer_id: int,
        starts_at: datetime | None,
        ends_at: datetime | None,
    ) -> int:
        new_id = (
            await self.conn.execute(
                relationships.insert()
                .values(
                    from_customer_id=from_customer_id,
                    to_customer_id=to_customer_id,
                    kind=kind,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    created_at=self.now,
                )
                .returning(relationships.c.id)
            )
        ).scalar_one()
        await self.audit.record(
            "create",
            "relationship",
            new_id,
            kind=kind,
            from_customer_id=from_customer_id,
            to_customer_id=to_customer_id,
        )
        return int(new_id)

    async def end(self, relationship_id: int, *, ends_at: datetime) -> None:
        await self.conn.execute(
            update(relationships).where(relationships.c.id == relationship_id).values(ends_at=ends_at)
        )
        await self.audit.record("end", "relationship", relationship_id, ends_at=ends_at.isoformat())

    async def get(self, relationship_id: int) -> RelationshipRecord | None:
        row = (
            (await self.conn.execute(_query().where(relationships.c.id == relationship_id)))
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def current_between(
        self, from_customer_id: int, kind: str, to_customer_id: int
    ) -> RelationshipRecord | None:
        """The same relation still open (no end, or an end still to come), if any."""
        row = (
            (
                await self.conn.execute(
                    _query().where(
                        relationships.c.from_customer_id == from_customer_id,
                        relationships.c.to_customer_id == to_customer_id,
                        relationships.c.kind == kind,
                        or_(relationships.c.ends_at.is_(None), relationships.c.ends_at > self.now),
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def for_customer(self, customer_id: int, *, limit: int = 50) -> list[RelationshipRecord]:
        """Every relation the customer is on either side of, ended ones too, newest first."""
        rows = (
            await self.conn.execute(
                _query()
                .where(
                    or_(
                        relationships.c.from_customer_id == customer_id,
                        relationships.c.to_customer_id == customer_id,
                    )
                )
                .order_by(relationships.c.id.desc())
                .limit(limit)
            )
        ).mappings()
        return [_record(r) for r in rows]

    async def contact_ids(self, company_id: int) -> list[int]:
        """The people who work at the company now (works-at, not ended)."""
        rows = await self.conn.execute(
            select(relationships.c.from_customer_id)
            .join(_FROM, _FROM.c.id == relationships.c.from_customer_id)
            .where(
                and_(
                    relationships.c.to_customer_id == company_id,
                    relationships.c.kind == "works-at",
                    or_(relationships.c.ends_at.is_(None), relationships.c.ends_at > self.now),
                    _FROM.c.deleted_at.is_(None),
                )
            )
            .order_by(relationships.c.from_customer_id)
        )
        return [int(r[0]) for r in rows]
