"""Loyalty scores computed in the database in bulk (one INSERT ... SELECT over the book), and
the history, at-risk list and alert candidates read back from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Float, Integer, bindparam, delete, func, select, text
from sqlalchemy.engine import RowMapping

from crm_store.customers import visible_to
from crm_store.repo import Repo
from crm_store.tables import customers, loyalty_alerts, loyalty_scores

# Open + 2 x breached tickets at or above this count take the ticket part to 0.
TICKET_CAP = 5
# A customer who has ordered is "at risk" from this churn risk on, wherever it is counted.
AT_RISK = 0.5


@dataclass(frozen=True, slots=True)
class LoyaltyModel:
    """Weights of the six parts (each in [0, 1]), the logistic churn curve, and the window
    that sentiment, CSAT and closed tickets are read over."""

    recency: float = 0.25
    frequency: float = 0.15
    monetary: float = 0.15
    sentiment: float = 0.20
    csat: float = 0.10
    tickets: float = 0.15
    k: float = 0.1
    theta: float = 40.0
    window_days: int = 90
    # Churn risk blends the logistic curve with 1 - p_active from the latest sales forecast
    # (issue 11) at this weight, where a customer has one; 0 keeps the curve alone.
    forecast_weight: float = 0.5

    @property
    def total(self) -> float:
        return self.recency + self.frequency + self.monetary + self.sentiment + self.csat + self.tickets


@dataclass(frozen=True, slots=True)
class LoyaltyScore:
    customer_id: int
    customer_name: str
    owner_rep_id: int | None
    run_date: str
    score: float
    churn_risk: float
    recency_days: int | None
    order_count: int
    revenue_cents: int
    sentiment: float | None
    negatives: int
    csat: float | None
    open_tickets: int
    breached_tickets: int
    previous_score: float | None = None


# Dialect pieces: whole days since a timestamp, and how timestamps are bound. Both truncate
# toward zero (SQLite's CAST does): an order dated a few hours ahead is 0 days old, not -1.
_DAYS = {
    "sqlite": "CAST(julianday(:now) - julianday({col}) AS INTEGER)",
    "postgresql": "CAST(TRUNC(EXTRACT(EPOCH FROM (CAST(:now AS TIMESTAMPTZ) - {col})) / 86400) AS INTEGER)",
}

# CUME_DIST gives tied customers the same rank (NTILE would split ties arbitrarily), in (0, 1];
# a customer with no orders has 0 for recency, frequency and money.
_RECOMPUTE = """
INSERT INTO loyalty_scores (run_date, customer_id, score, churn_risk, recency_days, order_count,
    revenue_cents, sentiment, negatives, csat, open_tickets, breached_tickets, computed_at)
WITH o AS (
    SELECT customer_id, MAX(ordered_at) AS last_at, COUNT(*) AS n, SUM(amount_cents) AS m
    FROM orders GROUP BY customer_id
), rfm AS (
    SELECT customer_id, last_at, n, m,
        CUME_DIST() OVER (ORDER BY last_at) AS rq,
        CUME_DIST() OVER (ORDER BY n) AS fq,
        CUME_DIST() OVER (ORDER BY m) AS mq
    FROM o
), said AS (
    SELECT customer_id, AVG(score) AS mean,
        SUM(CASE WHEN label = 'negative' THEN 1 ELSE 0 END) AS neg
    FROM (
        SELECT customer_id, sentiment_score AS score, sentiment_label AS label FROM interactions
        WHERE occurred_at >= :since AND sentiment_score IS NOT NULL
        UNION ALL
        SELECT customer_id, sentiment_score, sentiment_label FROM feedback
        WHERE created_at >= :since AND sentiment_score IS NOT NULL
    ) s GROUP BY customer_id
), rated AS (
    SELECT customer_id, AVG(rating) AS csat FROM (
        SELECT customer_id, csat_rating AS rating FROM tickets
        WHERE csat_rating IS NOT NULL AND resolved_at >= :since
        UNION ALL
        SELECT customer_id, rating FROM feedback WHERE rating IS NOT NULL AND created_at >= :since
    ) r GROUP BY customer_id
), tk AS (
    SELECT customer_id,
        SUM(CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END) AS open_n,
        SUM(CASE WHEN breached_at IS NOT NULL THEN 1 ELSE 0 END) AS breached_n
    FROM tickets WHERE status <> 'resolved' OR created_at >= :since GROUP BY customer_id
), fc AS (
    SELECT customer_id, p_active FROM customer_forecasts
    WHERE run_date = (SELECT MAX(run_date) FROM customer_forecasts)
), people AS (
    -- Buyers drive the join (SQLite would rescan a window-function CTE on the right of a
    -- LEFT JOIN for every customer); customers who never ordered are added beside them.
    SELECT customer_id, last_at, n, m, rq, fq, mq FROM rfm
    UNION ALL
    SELECT c.id, NULL, 0, 0, 0, 0, 0 FROM customers c
    WHERE NOT EXISTS (SELECT 1 FROM orders WHERE orders.customer_id = c.id)
), parts AS (
    SELECT p.customer_id, p.last_at, p.n, p.m, p.rq, p.fq, p.mq,
        said.mean AS sentiment, COALESCE(said.neg, 0) AS neg, rated.csat AS csat,
        COALESCE(tk.open_n, 0) AS open_n, COALESCE(tk.breached_n, 0) AS breached_n,
        fc.p_active AS p_active
    FROM people p
    JOIN customers c ON c.id = p.customer_id
    LEFT JOIN said ON said.customer_id = p.customer_id
    LEFT JOIN rated ON rated.customer_id = p.customer_id
    LEFT JOIN tk ON tk.customer_id = p.customer_id
    LEFT JOIN fc ON fc.customer_id = p.customer_id
    WHERE c.deleted_at IS NULL
), scored AS (
    SELECT parts.*, 100.0 * (
        :w_r * rq + :w_f * fq + :w_m * mq
        + :w_s * COALESCE((sentiment + 1.0) / 2.0, 0.5)
        + :w_c * COALESCE((csat - 1.0) / 4.0, 0.5)
        + :w_t * CASE WHEN open_n + 2 * breached_n >= :cap THEN 0.0
                      ELSE 1.0 - (open_n + 2.0 * breached_n) / :cap END
    ) / :w_sum AS score
    FROM parts
)
SELECT :run_date, customer_id, score,
    CASE WHEN p_active IS NULL THEN 1.0 / (1.0 + EXP(-:k * (:theta - score)))
         ELSE (1.0 - :w_fc) / (1.0 + EXP(-:k * (:theta - score))) + :w_fc * (1.0 - p_active) END,
    CASE WHEN last_at IS NULL THEN NULL ELSE {days} END,
    n, m, sentiment, neg, csat, open_n, breached_n, :now
FROM scored
"""


_FLOAT_PARAMS = ("w_r", "w_f", "w_m", "w_s", "w_c", "w_t", "w_sum", "k", "theta", "w_fc")


def run_date_of(moment: datetime) -> str:
    return moment.date().isoformat()


class LoyaltyRepo(Repo):
    def _bind_time(self, moment: datetime) -> Any:
        # SQLite keeps UTC timestamps as naive text (crm_store.types): compare in that format.
        if self.conn.dialect.name == "sqlite":
            return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    async def recompute(self, model: LoyaltyModel, *, run_date: str) -> int:
        """Score every customer for ``run_date`` (a re-run that day replaces its scores)."""
        await self.conn.execute(delete(loyalty_scores).where(loyalty_scores.c.run_date == run_date))
        dialect = self.conn.dialect.name
        sql = _RECOMPUTE.format(days=_DAYS[dialect].format(col="last_at"))
        params: dict[str, Any] = {
            "now": self._bind_time(self.now),
            "since": self._bind_time(self.now - timedelta(days=model.window_days)),
            "run_date": run_date,
            "w_r": model.recency,
            "w_f": model.frequency,
            "w_m": model.monetary,
            "w_s": model.sentiment,
            "w_c": model.csat,
            "w_t": model.tickets,
            "w_sum": model.total or 1.0,
            "cap": TICKET_CAP,
            "k": model.k,
            "theta": model.theta,
            "w_fc": model.forecast_weight,
        }
        # Typed binds: PostgreSQL cannot infer an untyped parameter under a unary minus
        # ("operator is not unique: - unknown" for -:k), and a typed one stays double precision.
        statement = text(sql).bindparams(
            *(bindparam(name, type_=Float()) for name in _FLOAT_PARAMS), bindparam("cap", type_=Integer())
        )
        result = await self.conn.execute(statement, params)
        count = int(result.rowcount or 0)
        await self.audit.record("recompute", "loyalty", run_date, customers=count)
        return count

    async def previous_run(self, run_date: str) -> str | None:
        query = select(func.max(loyalty_scores.c.run_date)).where(loyalty_scores.c.run_date < run_date)
        value = (await self.conn.execute(query)).scalar_one_or_none()
        return None if value is None else str(value)

    async def latest_run(self) -> str | None:
        value = (await self.conn.execute(select(func.max(loyalty_scores.c.run_date)))).scalar_one_or_none()
        return None if value is None else str(value)

    @staticmethod
    def _select(prev_date: str | None) -> tuple[Any, Any]:
        """Scores with the customer's name and owner and the score of run ``prev_date``."""
        prev = loyalty_scores.alias("prev")
        query = (
            select(
                loyalty_scores,
                customers.c.name.label("customer_name"),
                customers.c.owner_rep_id,
                prev.c.score.label("previous_score"),
            )
            .join(customers, customers.c.id == loyalty_scores.c.customer_id)
            .outerjoin(
                prev,
                (prev.c.customer_id == loyalty_scores.c.customer_id) & (prev.c.run_date == (prev_date or "")),
            )
        )
        return query, prev

    async def alert_candidates(self, run_date: str, *, below: float, drop: float) -> list[LoyaltyScore]:
        """Customers of ``run_date`` under ``below`` or ``drop`` points down on the previous
        run, who have ordered (a customer can only slip away once they were one) and have an
        owner to tell."""
        prev_date = await self.previous_run(run_date)
        query, prev = self._select(prev_date)
        slipping = loyalty_scores.c.score < below
        if prev_date is not None:
            slipping = slipping | (prev.c.score - loyalty_scores.c.score >= drop)
        query = query.where(
            loyalty_scores.c.run_date == run_date,
            loyalty_scores.c.order_count > 0,
            customers.c.owner_rep_id.is_not(None),
            customers.c.deleted_at.is_(None),
            slipping,
        ).order_by(loyalty_scores.c.churn_risk.desc(), loyalty_scores.c.customer_id)
        return [_score(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def record_alert(self, score: LoyaltyScore) -> bool:
        """Note that ``score``'s customer was alerted on for its run; False when it was already."""
        statement = (
            self.dialect_insert(loyalty_alerts)
            .values(
                customer_id=score.customer_id,
                run_date=score.run_date,
                previous_score=score.previous_score,
                raised_at=self.now,
            )
            .on_conflict_do_nothing(index_elements=["customer_id", "run_date"])
        )
        if not (await self.conn.execute(statement)).rowcount:
            return False
        # Audited (and so a loyalty.alert webhook event) once per customer and run date.
        await self.audit.record(
            "alert",
            "loyalty",
            score.customer_id,
            run_date=score.run_date,
            score=round(score.score, 1),
            previous_score=None if score.previous_score is None else round(score.previous_score, 1),
            churn_risk=round(score.churn_risk, 3),
        )
        return True

    async def alerts_between(
        self, since: datetime, until: datetime, *, limit: int, visible_to_rep: int | None = None
    ) -> list[LoyaltyScore]:
        """Alerts raised in [since, until), highest churn risk first, with the scores behind
        them; ``visible_to_rep``: only customers that rep owns or nobody owns."""
        query = (
            select(
                loyalty_scores,
                customers.c.name.label("customer_name"),
                customers.c.owner_rep_id,
                loyalty_alerts.c.previous_score,
            )
            .join(
                loyalty_scores,
                (loyalty_scores.c.customer_id == loyalty_alerts.c.customer_id)
                & (loyalty_scores.c.run_date == loyalty_alerts.c.run_date),
            )
            .join(customers, customers.c.id == loyalty_alerts.c.customer_id)
            .where(
                loyalty_alerts.c.raised_at >= since,
                loyalty_alerts.c.raised_at < until,
                customers.c.deleted_at.is_(None),
            )
            .order_by(loyalty_scores.c.churn_risk.desc(), loyalty_alerts.c.customer_id)
            .limit(limit)
        )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [_score(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def alert_count_between(
        self, since: datetime, until: datetime, *, visible_to_rep: int | None = None
    ) -> int:
        query = (
            select(func.count())
            .select_from(loyalty_alerts.join(customers, customers.c.id == loyalty_alerts.c.customer_id))
            .where(
                loyalty_alerts.c.raised_at >= since,
                loyalty_alerts.c.raised_at < until,
                customers.c.deleted_at.is_(None),
            )
        )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return int((await self.conn.execute(query)).scalar_one())

    async def for_customer(self, customer_id: int, *, limit: int = 6) -> list[LoyaltyScore]:
        """The customer's latest scores, newest first (the first carries its previous score)."""
        query = (
            select(loyalty_scores, customers.c.name.label("customer_name"), customers.c.owner_rep_id)
            .join(customers, customers.c.id == loyalty_scores.c.customer_id)
            .where(loyalty_scores.c.customer_id == customer_id)
            .order_by(loyalty_scores.c.run_date.desc())
            .limit(limit)
        )
        return [_score(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def _at_risk_query(self, query: Any, *, min_risk: float, visible_to_rep: int | None) -> Any:
        """``query`` (which joins ``customers``) narrowed to who is at risk in the latest run:
        the one definition that at-risk, report loyalty and the digest count and list."""
        query = query.where(
            loyalty_scores.c.run_date == await self.latest_run(),
            loyalty_scores.c.churn_risk >= min_risk,
            # Churn is losing a buyer: leads and contacts who never ordered are not at risk.
            loyalty_scores.c.order_count > 0,
            customers.c.deleted_at.is_(None),
        )
        return query if visible_to_rep is None else query.where(visible_to(visible_to_rep))

    async def at_risk(
        self, *, limit: int = 10, min_risk: float = AT_RISK, visible_to_rep: int | None = None
    ) -> list[LoyaltyScore]:
        """The latest run's customers at risk, highest churn risk first; ``visible_to_rep``:
        only customers that rep owns or nobody owns."""
        run = await self.latest_run()
        if run is None:
            return []
        query, _ = self._select(await self.previous_run(run))
        query = await self._at_risk_query(query, min_risk=min_risk, visible_to_rep=visible_to_rep)
        query = query.order_by(loyalty_scores.c.churn_risk.desc(), loyalty_scores.c.customer_id).limit(limit)
        return [_score(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def at_risk_count(self, *, visible_to_rep: int | None = None) -> int:
        """How many customers ``at_risk`` would list without a limit."""
        if await self.latest_run() is None:
            return 0
        query = select(func.count()).select_from(
            loyalty_scores.join(customers, customers.c.id == loyalty_scores.c.customer_id)
        )
        query = await self._at_risk_query(query, min_risk=AT_RISK, visible_to_rep=visible_to_rep)
        return int((await self.conn.execute(query)).scalar_one())

    async def distribution(self, *, visible_to_rep: int | None = None) -> dict[str, float]:
        """The latest run over the customers a reader may see: how many were scored, their
        mean score, and how many are at risk (``at_risk_count``)."""
        run = await self.latest_run()
        if run is None:
            return {"customers": 0, "mean_score": 0.0, "at_risk": 0}
        query = (
            select(func.count(), func.avg(loyalty_scores.c.score))
            .select_from(loyalty_scores.join(customers, customers.c.id == loyalty_scores.c.customer_id))
            .where(loyalty_scores.c.run_date == run, customers.c.deleted_at.is_(None))
        )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        count, mean = (await self.conn.execute(query)).one()
        return {
            "customers": int(count or 0),
            "mean_score": float(mean or 0.0),
            "at_risk": await self.at_risk_count(visible_to_rep=visible_to_rep),
        }

    async def alert_count_of_run(self, run_date: str) -> int:
        """The alerts of one run: customers recorded as alerted for ``run_date`` (what the
        digest lists), whether or not a push reached their owner."""
        query = (
            select(func.count())
            .select_from(loyalty_alerts.join(customers, customers.c.id == loyalty_alerts.c.customer_id))
            .where(loyalty_alerts.c.run_date == run_date, customers.c.deleted_at.is_(None))
        )
        return int((await self.conn.execute(query)).scalar_one())


def _score(row: RowMapping) -> LoyaltyScore:
    return LoyaltyScore(
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        owner_rep_id=row["owner_rep_id"],
        run_date=row["run_date"],
        score=float(row["score"]),
        churn_risk=float(row["churn_risk"]),
        recency_days=row["recency_days"],
        order_count=int(row["order_count"]),
        revenue_cents=int(row["revenue_cents"]),
        sentiment=None if row["sentiment"] is None else float(row["sentiment"]),
        negatives=int(row["negatives"]),
        csat=None if row["csat"] is None else float(row["csat"]),
        open_tickets=int(row["open_tickets"]),
        breached_tickets=int(row["breached_tickets"]),
        previous_score=None if row.get("previous_score") is None else float(row["previous_score"]),
    )
