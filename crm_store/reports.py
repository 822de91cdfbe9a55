"""Figures over a period for digests and reports: aggregates in SQL, and the raw points that
the trend chart buckets by the reader's local day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select

from crm_store.repo import Repo
from crm_store.tables import customers, feedback, interactions, orders, reps, tickets


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    since: datetime
    until: datetime
    new_customers: int
    orders: int
    revenue_cents: int
    interactions_by_rep: tuple[tuple[str, int], ...]
    tickets_opened: int
    tickets_resolved: int
    tickets_breached: int
    first_response_minutes: tuple[float, ...]  # one per ticket first answered in the period
    csat_sum: int
    csat_count: int
    sentiment_points: tuple[tuple[datetime, float], ...]  # interactions and feedback
    opened_at: tuple[datetime, ...]
    resolved_at: tuple[datetime, ...]

    @property
    def median_first_response(self) -> float | None:
        values = sorted(self.first_response_minutes)
        if not values:
            return None
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    @property
    def csat(self) -> float | None:
        return self.csat_sum / self.csat_count if self.csat_count else None


class ReportRepo(Repo):
    async def _count(self, table: Any, *conditions: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(table).where(*conditions)
        return int((await self.conn.execute(query)).scalar_one())

    async def period(self, since: datetime, until: datetime) -> PeriodFigures:
        def within(column: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
            return (column >= since, column < until)

        new_customers = await self._count(
            customers, *within(customers.c.created_at), customers.c.deleted_at.is_(None)
        )
        order_n, revenue = (
            await self.conn.execute(
                select(func.count(), func.coalesce(func.sum(orders.c.amount_cents), 0)).where(
                    *within(orders.c.ordered_at)
                )
            )
        ).one()
        per_rep = (
            await self.conn.execute(
                select(func.coalesce(reps.c.display_name, "(no rep)"), func.count())
                .select_from(interactions.outerjoin(reps, reps.c.id == interactions.c.rep_id))
                .where(*within(interactions.c.occurred_at))
                .group_by(reps.c.display_name)
                .order_by(func.count().desc())
            )
        ).all()
        opened = (
            await self.conn.execute(select(tickets.c.created_at).where(*within(tickets.c.created_at)))
        ).all()
        resolved = (
            await self.conn.execute(select(tickets.c.resolved_at).where(*within(tickets.c.resolved_at)))
        ).all()
        breached = await self._count(tickets, *within(tickets.c.breached_at))
        answered = (
            await self.conn.execute(
                select(tickets.c.created_at, tickets.c.first_response_at).where(
                    *within(tickets.c.first_response_at)
                )
            )
        ).all()
        ratings = (
            await self.conn.execute(
                select(
                    func.coalesce(func.sum(tickets.c.csat_rating), 0), func.count(tickets.c.csat_rating)
                ).where(*within(tickets.c.resolved_at), tickets.c.csat_rating.is_not(None))
            )
        ).one()
        said = list(
            await self.conn.execute(
                select(interactions.c.occurred_at, interactions.c.sentiment_score).where(
                    *within(interactions.c.occurred_at), interactions.c.sentiment_score.is_not(None)
                )
            )
        )
        said += (
            await self.conn.execute(
                select(feedback.c.created_at, feedback.c.sentiment_score).where(
                    *within(feedback.c.created_at), feedback.c.sentiment_score.is_not(None)
                )
            )
        ).all()
        return PeriodFigures(
            since=since,
            until=until,
            new_customers=new_customers,
            orders=int(order_n),
            revenue_cents=int(revenue),
            interactions_by_rep=tuple((str(name), int(n)) for name, n in per_rep),
            tickets_opened=len(opened),
            tickets_resolved=len(resolved),
            tickets_breached=breached,
            first_response_minutes=tuple((b - a).total_seconds() / 60 for a, b in answered),
            csat_sum=int(ratings[0]),
            csat_count=int(ratings[1]),
            sentiment_points=tuple(sorted((at, float(score)) for at, score in said)),
            opened_at=tuple(r[0] for r in opened),
            resolved_at=tuple(r[0] for r in resolved),
        )
