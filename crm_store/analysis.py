"""Reads for the analysis reports (satisfaction, loyalty, needs, correlation): raw points and
per-customer figures in bulk, one grouped query per figure, over the customers a reader may see."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, Float, cast, func, literal_column, select, union_all

from crm_store.customers import visible_to
from crm_store.repo import Repo
from crm_store.tables import (
    customers,
    feedback,
    interactions,
    loyalty_scores,
    orders,
    ticket_messages,
    tickets,
)

# Minutes from a ticket's creation to its first answer, per dialect.
_MINUTES = {
    "sqlite": "(julianday(tickets.first_response_at) - julianday(tickets.created_at)) * 1440.0",
    "postgresql": "EXTRACT(EPOCH FROM (tickets.first_response_at - tickets.created_at)) / 60.0",
}


@dataclass(frozen=True, slots=True)
class TextPoint:
    """One thing a customer asked or said: a ticket (its subject and the customer's messages),
    a feedback text, or an interaction's text."""

    source: str  # "ticket", "feedback", "interaction"
    at: datetime
    text: str
    sentiment: float | None


@dataclass(frozen=True, slots=True)
class LoyaltyRuns:
    latest: str | None
    earlier: str | None  # the latest run at least the asked number of days before ``latest``
    scores: dict[int, float]  # customer id -> score in ``latest``
    earlier_scores: dict[int, float]


@dataclass(frozen=True, slots=True)
class CustomerFigures:
    """Per customer active in a period (any order, ticket, rating, interaction or feedback in
    it), aligned arrays; NaN where a customer has no such figure (no rating: no CSAT)."""

    customer_id: NDArray[np.int64]
    columns: dict[str, NDArray[np.float64]]


class AnalysisRepo(Repo):
    def _who(self, owner: int | None) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [customers.c.deleted_at.is_(None)]
        if owner is not None:
            where.append(visible_to(owner))
        return where

    async def _rows(self, query: Any) -> list[Any]:
        return list((await self.conn.execute(query)).all())

    async def ratings(
        self, since: datetime, until: datetime, *, owner: int | None
    ) -> list[tuple[datetime, int]]:
        """CSAT ratings of tickets resolved in [since, until), with when they were resolved."""
        query = (
            select(tickets.c.resolved_at, tickets.c.csat_rating)
            .join(customers, customers.c.id == tickets.c.customer_id)
            .where(
                tickets.c.resolved_at >= since,
                tickets.c.resolved_at < until,
                tickets.c.csat_rating.is_not(None),
                *self._who(owner),
            )
        )
        return [(at, int(r)) for at, r in await self._rows(query)]

    async def sentiments(
        self, since: datetime, until: datetime, *, owner: int | None
    ) -> list[tuple[datetime, float]]:
        """Sentiment scores of interactions and feedback in [since, until), oldest first."""
        points: list[tuple[datetime, float]] = []
        for table, at in ((interactions, interactions.c.occurred_at), (feedback, feedback.c.created_at)):
            query = (
                select(at, table.c.sentiment_score)
                .join(customers, customers.c.id == table.c.customer_id)
                .where(at >= since, at < until, table.c.sentiment_score.is_not(None), *self._who(owner))
            )
            points += [(moment, float(score)) for moment, score in await self._rows(query)]
        return sorted(points)

    async def loyalty_runs(self, *, days_back: int, owner: int | None) -> LoyaltyRuns:
        """The latest loyalty run and the latest one at least ``days_back`` days older, with
        each customer's score in both (customers who have been deleted since are left out)."""
        latest = (await self.conn.execute(select(func.max(loyalty_scores.c.run_date)))).scalar_one_or_none()
        if latest is None:
            return LoyaltyRuns(None, None, {}, {})
        cutoff = (date.fromisoformat(str(latest)) - timedelta(days=days_back)).isoformat()
        earlier = (
            await self.conn.execute(
                select(func.max(loyalty_scores.c.run_date)).where(loyalty_scores.c.run_date <= cutoff)
            )
        ).scalar_one_or_none()

        async def scores(run: str) -> dict[int, float]:
            query = (
                select(loyalty_scores.c.customer_id, loyalty_scores.c.score)
                .join(customers, customers.c.id == loyalty_scores.c.customer_id)
                .where(loyalty_scores.c.run_date == run, *self._who(owner))
            )
            return {int(c): float(s) for c, s in await self._rows(query)}

        return LoyaltyRuns(
            latest=str(latest),
            earlier=None if earlier is None else str(earlier),
            scores=await scores(str(latest)),
            earlier_scores={} if earlier is None else await scores(str(earlier)),
        )

    async def texts(self, since: datetime, until: datetime, *, owner: int | None) -> list[TextPoint]:
        """What customers asked and said in [since, until): each ticket opened then (subject and
        the customer's own messages, with their mean sentiment), feedback with words, and
        logged interactions."""
        opened = await self._rows(
            select(tickets.c.id, tickets.c.created_at, tickets.c.subject)
            .join(customers, customers.c.id == tickets.c.customer_id)
            .where(tickets.c.created_at >= since, tickets.c.created_at < until, *self._who(owner))
        )
        said = await self._rows(
            select(ticket_messages.c.ticket_id, ticket_messages.c.text, ticket_messages.c.sentiment_score)
            .join(tickets, tickets.c.id == ticket_messages.c.ticket_id)
            .join(customers, customers.c.id == tickets.c.customer_id)
            .where(
                tickets.c.created_at >= since,
                tickets.c.created_at < until,
                ticket_messages.c.author_kind == "customer",
                *self._who(owner),
            )
            .order_by(ticket_messages.c.id)
        )
        words: dict[int, list[str]] = defaultdict(list)
        tones: dict[int, list[float]] = defaultdict(list)
        for ticket_id, text, score in said:
            words[ticket_id].append(str(text))
            if score is not None:
                tones[ticket_id].append(float(score))
        points = [
            TextPoint(
                "ticket",
                at,
                "\n".join([str(subject), *words[tid]]),
                sum(tones[tid]) / len(tones[tid]) if tones[tid] else None,
            )
            for tid, at, subject in opened
        ]
        for source, table, at in (
            ("feedback", feedback, feedback.c.created_at),
            ("interaction", interactions, interactions.c.occurred_at),
        ):
            rows = await self._rows(
                select(at, table.c.text, table.c.sentiment_score)
                .join(customers, customers.c.id == table.c.customer_id)
                .where(at >= since, at < until, table.c.text != "", *self._who(owner))
            )
            points += [
                TextPoint(source, moment, str(text), None if s is None else float(s))
                for moment, text, s in rows
            ]
        return points

    async def customer_figures(
        self, since: datetime, until: datetime, *, owner: int | None
    ) -> CustomerFigures:
        """Sentiment (mean), CSAT (mean rating), loyalty score (latest run), orders, revenue,
        tickets and first-response minutes (mean) per customer active in [since, until)."""
        who = self._who(owner)

        async def grouped(table: Any, value: Any, *where: ColumnElement[bool]) -> dict[int, float]:
            query = (
                select(table.c.customer_id, value)
                .join(customers, customers.c.id == table.c.customer_id)
                .where(*where, *who)
                .group_by(table.c.customer_id)
            )
            return {int(c): float(v) for c, v in await self._rows(query) if v is not None}

        def within(column: Any) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
            return (column >= since, column < until)

        said = union_all(
            select(interactions.c.customer_id, interactions.c.sentiment_score.label("score")).where(
                *within(interactions.c.occurred_at), interactions.c.sentiment_score.is_not(None)
            ),
            select(feedback.c.customer_id, feedback.c.sentiment_score.label("score")).where(
                *within(feedback.c.created_at), feedback.c.sentiment_score.is_not(None)
            ),
        ).subquery("said")
        sentiment = await grouped(said, func.avg(said.c.score))
        csat = await grouped(
            tickets,
            func.avg(cast(tickets.c.csat_rating, Float)),
            *within(tickets.c.resolved_at),
            tickets.c.csat_rating.is_not(None),
        )
        order_n = await grouped(orders, func.count(), *within(orders.c.ordered_at))
        revenue = await grouped(orders, func.sum(orders.c.amount_cents), *within(orders.c.ordered_at))
        ticket_n = await grouped(tickets, func.count(), *within(tickets.c.created_at))
        minutes: ColumnElement[float] = literal_column(_MINUTES[self.conn.dialect.name])
        first = await grouped(tickets, func.avg(minutes), *within(tickets.c.first_response_at))
        latest = (await self.conn.execute(select(func.max(loyalty_scores.c.run_date)))).scalar_one_or_none()
        ids = sorted(set(sentiment) | set(csat) | set(order_n) | set(ticket_n) | set(first))
        loyalty: dict[int, float] = {}
        if latest is not None and ids:
            loyalty = await grouped(
                loyalty_scores, func.max(loyalty_scores.c.score), loyalty_scores.c.run_date == latest
            )
        index = np.array(ids, dtype=np.int64)

        def column(values: dict[int, float], missing: float) -> NDArray[np.float64]:
            return np.array([values.get(i, missing) for i in ids], dtype=np.float64)

        nan = float("nan")
        return CustomerFigures(
            customer_id=index,
            columns={
                "sentiment": column(sentiment, nan),
                "csat": column(csat, nan),
                "loyalty": column(loyalty, nan),
                # An active customer without an order in the period has 0 orders, not an unknown.
                "orders": column(order_n, 0.0),
                "revenue": column(revenue, 0.0) / 100.0,
                "tickets": column(ticket_n, 0.0),
                "first_response": column(first, nan),
            },
        )
