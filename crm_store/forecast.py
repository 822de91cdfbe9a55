"""Forecast reads and writes: every order as (customer, day number, cents) in one query for the
models, the customers' references for the CSV, and each run's per-customer forecasts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, delete, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from crm_store.customers import visible_to
from crm_store.repo import Repo
from crm_store.tables import customer_forecasts, customers, orders


@dataclass(frozen=True, slots=True)
class OrderRows:
    """One row per order, in three parallel lists (day: days since 1970-01-01, UTC)."""

    customer_ids: list[int]
    days: list[int]
    amount_cents: list[int]


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: int
    name: str
    external_ref: str | None
    email: str
    owner_rep_id: int | None


@dataclass(frozen=True, slots=True)
class StoredForecast:
    customer_id: int
    customer_name: str
    owner_rep_id: int | None
    run_date: str
    horizon_days: int
    expected_orders: float
    expected_revenue_cents: int
    p_active: float
    model: str

    @property
    def revenue_at_risk_cents(self) -> int:
        """What the forecast expects from a customer who orders, times the chance they don't."""
        return round((1.0 - self.p_active) * self.expected_revenue_cents / max(self.p_active, 0.05))


def _day(column: Any, dialect: str) -> ColumnElement[int]:
    """Whole UTC days since 1970-01-01 of a timestamp column, computed in the database."""
    if dialect == "sqlite":
        return cast(func.julianday(column) - 2440587.5, Integer)
    return cast(func.floor(func.extract("epoch", column) / 86400), Integer)


class ForecastRepo(Repo):
    async def order_rows(
        self, *, until: datetime, customer_ids: Iterable[int] | None = None, visible_to_rep: int | None = None
    ) -> OrderRows:
        """Every order dated on or before ``until`` of customers not deleted (``customer_ids``:
        only those; ``visible_to_rep``: only that rep's and unowned customers)."""
        day = _day(orders.c.ordered_at, self.conn.dialect.name)
        query = (
            select(orders.c.customer_id, day, orders.c.amount_cents)
            .join(customers, customers.c.id == orders.c.customer_id)
            .where(orders.c.ordered_at <= until, customers.c.deleted_at.is_(None))
        )
        if customer_ids is not None:
            query = query.where(orders.c.customer_id.in_(list(customer_ids)))
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        rows = (await self.conn.execute(query)).all()
        return OrderRows([int(r[0]) for r in rows], [int(r[1]) for r in rows], [int(r[2]) for r in rows])

    async def customer_refs(self, ids: Iterable[int]) -> dict[int, CustomerRef]:
        wanted = list(ids)
        found: dict[int, CustomerRef] = {}
        for start in range(0, len(wanted), 20_000):  # under SQLite's bound-parameter limit
            query = select(
                customers.c.id,
                customers.c.name,
                customers.c.external_ref,
                customers.c.email,
                customers.c.owner_rep_id,
            ).where(customers.c.id.in_(wanted[start : start + 20_000]))
            for r in (await self.conn.execute(query)).mappings():
                found[int(r["id"])] = CustomerRef(
                    int(r["id"]), r["name"], r["external_ref"], r["email"], r["owner_rep_id"]
                )
        return found

    async def save_run(
        self, *, run_date: str, horizon_days: int, model: str, rows: Iterable[tuple[int, float, int, float]]
    ) -> int:
        """Replace ``run_date``'s forecasts with ``rows`` of (customer id, expected orders,
        expected revenue in cents, p_active)."""
        await self.conn.execute(delete(customer_forecasts).where(customer_forecasts.c.run_date == run_date))
        values = [
            {
                "run_date": run_date,
                "customer_id": cid,
                "horizon_days": horizon_days,
                "expected_orders": float(n),
                "expected_revenue_cents": int(cents),
                "p_active": float(p),
                "model": model,
                "computed_at": self.now,
            }
            for cid, n, cents, p in rows
        ]
        for start in range(0, len(values), 10_000):
            await self.conn.execute(insert(customer_forecasts), values[start : start + 10_000])
        await self.audit.record("recompute", "forecast", run_date, customers=len(values), model=model)
        return len(values)

    async def latest_run(self) -> str | None:
        value = (
            await self.conn.execute(select(func.max(customer_forecasts.c.run_date)))
        ).scalar_one_or_none()
        return None if value is None else str(value)

    def _select(self) -> Any:
        return select(
            customer_forecasts, customers.c.name.label("customer_name"), customers.c.owner_rep_id
        ).join(customers, customers.c.id == customer_forecasts.c.customer_id)

    async def latest_for(self, customer_id: int) -> StoredForecast | None:
        query = (
            self._select()
            .where(customer_forecasts.c.customer_id == customer_id)
            .order_by(customer_forecasts.c.run_date.desc())
            .limit(1)
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _stored(row)

    async def revenue_at_risk(self, *, limit: int, visible_to_rep: int | None = None) -> list[StoredForecast]:
        """The latest run's customers with the most revenue at risk, (1 - p_active) x expected
        value, highest first; ``visible_to_rep``: only that rep's and unowned customers."""
        run = await self.latest_run()
        if run is None:
            return []
        value = customer_forecasts.c.expected_revenue_cents / func.max(customer_forecasts.c.p_active, 0.05)
        if self.conn.dialect.name == "postgresql":
            value = customer_forecasts.c.expected_revenue_cents / func.greatest(
                customer_forecasts.c.p_active, 0.05
            )
        query = (
            self._select()
            .where(
                and_(customer_forecasts.c.run_date == run, customers.c.deleted_at.is_(None)),
                customer_forecasts.c.p_active < 1.0,
            )
            .order_by(
                ((1.0 - customer_forecasts.c.p_active) * value).desc(), customer_forecasts.c.customer_id
            )
            .limit(limit)
        )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [_stored(r) for r in (await self.conn.execute(query)).mappings().all()]


def _stored(row: Any) -> StoredForecast:
    return StoredForecast(
        customer_id=int(row["customer_id"]),
        customer_name=row["customer_name"],
        owner_rep_id=row["owner_rep_id"],
        run_date=row["run_date"],
        horizon_days=int(row["horizon_days"]),
        expected_orders=float(row["expected_orders"]),
        expected_revenue_cents=int(row["expected_revenue_cents"]),
        p_active=float(row["p_active"]),
        model=row["model"],
    )


async def visible_customer_ids(repo: ForecastRepo, rep_id: int) -> set[int]:
    """Ids of the customers a rep sees under owner scoping (their own and unowned ones)."""
    query = select(customers.c.id).where(visible_to(rep_id), customers.c.deleted_at.is_(None))
    return {int(r[0]) for r in await repo.conn.execute(query)}
