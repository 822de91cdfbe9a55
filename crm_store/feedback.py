"""Customer feedback: free text and ratings (CSAT), with sentiment; and what a period's written
feedback adds up to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.engine import RowMapping

from crm_store.customers import visible_to
from crm_store.repo import Repo
from crm_store.tables import customers, feedback


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    id: int
    customer_id: int
    customer_name: str
    ticket_id: int | None
    text: str  # empty for a bare rating
    rating: int | None
    sentiment_label: str | None
    sentiment_score: float | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackSummary:
    """Written feedback of a period: how many, and the mean sentiment of those labelled."""

    count: int
    mean_sentiment: float | None


def _record(row: RowMapping) -> FeedbackRecord:
    return FeedbackRecord(
        id=row["id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        ticket_id=row["ticket_id"],
        text=row["text"],
        rating=row["rating"],
        sentiment_label=row["sentiment_label"],
        sentiment_score=None if row["sentiment_score"] is None else float(row["sentiment_score"]),
        created_at=row["created_at"],
    )


class FeedbackRepo(Repo):
    async def add(
        self,
        *,
        customer_id: int,
        text: str = "",
        rating: int | None = None,
        ticket_id: int | None = None,
        sentiment_label: str | None = None,
        sentiment_score: float | None = None,
    ) -> int:
        new_id = (
            await self.conn.execute(
                insert(feedback)
                .values(
                    customer_id=customer_id,
                    ticket_id=ticket_id,
                    text=text,
                    rating=rating,
                    sentiment_label=sentiment_label,
                    sentiment_score=sentiment_score,
                    created_at=self.now,
                )
                .returning(feedback.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "feedback", new_id, customer_id=customer_id, rating=rating)
        return int(new_id)

    async def move_customer(self, from_customer_id: int, to_customer_id: int) -> int:
        result = await self.conn.execute(
            update(feedback)
            .where(feedback.c.customer_id == from_customer_id)
            .values(customer_id=to_customer_id)
        )
        return int(result.rowcount or 0)

    @staticmethod
    def _select() -> Any:
        return select(feedback, customers.c.name.label("customer_name")).join(
            customers, customers.c.id == feedback.c.customer_id
        )

    async def for_customer(self, customer_id: int, *, limit: int = 20) -> list[FeedbackRecord]:
        """The customer's feedback and ratings, newest first."""
        query = (
            self._select()
            .where(feedback.c.customer_id == customer_id)
            .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    @staticmethod
    def _written(since: datetime, until: datetime, visible_to_rep: int | None) -> list[ColumnElement[bool]]:
        """Written feedback (a bare rating is CSAT) in [since, until) from live customers;
        ``visible_to_rep``: only customers that rep owns or nobody owns."""
        conditions = [
            feedback.c.created_at >= since,
            feedback.c.created_at < until,
            feedback.c.text != "",
            customers.c.deleted_at.is_(None),
        ]
        if visible_to_rep is not None:
            conditions.append(visible_to(visible_to_rep))
        return conditions

    async def written_between(
        self, since: datetime, until: datetime, *, limit: int, visible_to_rep: int | None = None
    ) -> list[FeedbackRecord]:
        """The latest written feedback of [since, until), newest first."""
        query = (
            self._select()
            .where(*self._written(since, until, visible_to_rep))
            .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def written_summary(
        self, since: datetime, until: datetime, *, visible_to_rep: int | None = None
    ) -> FeedbackSummary:
        query = (
            select(func.count(), func.avg(feedback.c.sentiment_score))
            .select_from(feedback.join(customers, customers.c.id == feedback.c.customer_id))
            .where(*self._written(since, until, visible_to_rep))
        )
        count, mean = (await self.conn.execute(query)).one()
        return FeedbackSummary(int(count or 0), None if mean is None else float(mean))
