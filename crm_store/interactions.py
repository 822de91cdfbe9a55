"""Interactions: calls, emails, meetings, notes and messages logged against a customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.engine import RowMapping

from crm_store.records import InteractionRecord
from crm_store.repo import Repo
from crm_store.tables import interactions, reps

KINDS = ("call", "email", "meeting", "note", "message")


def _record(row: RowMapping) -> InteractionRecord:
    return InteractionRecord(
        id=row["id"],
        customer_id=row["customer_id"],
        rep_id=row["rep_id"],
        rep_name=row["rep_name"],
        channel=row["channel"],
        kind=row["kind"],
        direction=row["direction"],
        text=row["text"],
        sentiment_label=row["sentiment_label"],
        sentiment_score=row["sentiment_score"],
        occurred_at=row["occurred_at"],
    )


class InteractionRepo(Repo):
    async def add(
        self,
        *,
        customer_id: int,
        rep_id: int | None,
        channel: str,
        kind: str,
        text: str,
        direction: str = "out",
        occurred_at: datetime | None = None,
        sentiment_label: str | None = None,
        sentiment_score: float | None = None,
    ) -> int:
        if kind not in KINDS:
            raise ValueError(f"unknown interaction kind {kind!r}")
        new_id = (
            await self.conn.execute(
                insert(interactions)
                .values(
                    customer_id=customer_id,
                    rep_id=rep_id,
                    channel=channel,
                    kind=kind,
                    direction=direction,
                    text=text,
                    sentiment_label=sentiment_label,
                    sentiment_score=sentiment_score,
                    occurred_at=occurred_at or self.now,
                    created_at=self.now,
                )
                .returning(interactions.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "interaction", new_id, customer_id=customer_id, kind=kind)
        return int(new_id)

    async def get(self, interaction_id: int) -> InteractionRecord | None:
        query = (
            select(interactions, reps.c.display_name.label("rep_name"))
            .outerjoin(reps, reps.c.id == interactions.c.rep_id)
            .where(interactions.c.id == interaction_id)
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _record(row)

    async def page(
        self,
        customer_id: int,
        *,
        limit: int,
        kind: str | None = None,
        since: datetime | None = None,
        before: tuple[datetime, int] | None = None,
    ) -> list[InteractionRecord]:
        """A customer's interactions newest first (by when they happened, then id), from
        ``since`` on, those strictly after the ``before`` (occurred_at, id) key: a page that
        stays stable while new ones are logged."""
        query = (
            select(interactions, reps.c.display_name.label("rep_name"))
            .outerjoin(reps, reps.c.id == interactions.c.rep_id)
            .where(interactions.c.customer_id == customer_id)
            .order_by(interactions.c.occurred_at.desc(), interactions.c.id.desc())
            .limit(limit)
        )
        if kind is not None:
            query = query.where(interactions.c.kind == kind)
        if since is not None:
            query = query.where(interactions.c.occurred_at >= since)
        if before is not None:
            at, last_id = before
            query = query.where(
                or_(
                    interactions.c.occurred_at < at,
                    and_(interactions.c.occurred_at == at, interactions.c.id < last_id),
                )
            )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def for_customer(self, customer_id: int, *, limit: int = 20) -> list[InteractionRecord]:
        query = (
            select(interactions, reps.c.display_name.label("rep_name"))
            .outerjoin(reps, reps.c.id == interactions.c.rep_id)
            .where(interactions.c.customer_id == customer_id)
            .order_by(interactions.c.occurred_at.desc(), interactions.c.id.desc())
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def all_in_range(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[InteractionRecord]:
        query = (
            select(interactions, reps.c.display_name.label("rep_name"))
            .outerjoin(reps, reps.c.id == interactions.c.rep_id)
            .order_by(interactions.c.id)
        )
        if since is not None:
            query = query.where(interactions.c.occurred_at >= since)
        if until is not None:
            query = query.where(interactions.c.occurred_at < until)
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]
