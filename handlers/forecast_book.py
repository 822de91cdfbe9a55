"""The forecast's glue between the store and insight/forecast: load the book's orders, run the
model off the event loop, split a horizon into months, and the nightly run that stores every
customer's forecast for the card, the digest and the churn risk."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from numpy.typing import NDArray

from crm_store.forecast import OrderRows, visible_customer_ids
from crm_store.loyalty import run_date_of
from crm_store.store import Store
from insight.forecast import Forecast, ForecastSettings, TooLittleHistory, forecast
from insight.forecast_features import Purchases

_LOGGER = logging.getLogger(__name__)
EPOCH = date(1970, 1, 1)
DEFAULT_HORIZON = 90
MAX_HORIZON = 365
ACTOR = "scheduler"

__all__ = ["TooLittleHistory"]


def day_number(moment: datetime | date) -> int:
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return (moment - EPOCH).days


def day_date(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BookForecast:
    """The model's forecast for the whole book as of a day, and the order rows it came from."""

    forecast: Forecast
    rows: OrderRows

    @property
    def as_of(self) -> date:
        return day_date(self.forecast.as_of)


def purchases_of(rows: OrderRows) -> Purchases:
    return Purchases.from_orders(
        np.asarray(rows.customer_ids, dtype=np.int64),
        np.asarray(rows.days, dtype=np.int64),
        np.asarray(rows.amount_cents, dtype=np.float64),
    )


async def book_forecast(store: Store, *, as_of: date, horizon_days: int = DEFAULT_HORIZON) -> BookForecast:
    """Forecast every customer from orders dated on or before ``as_of`` (UTC) only; the model
    runs in a worker thread. Raises TooLittleHistory when the book cannot be forecast."""
    async with store.read() as tx:
        rows = await tx.forecast.order_rows(until=end_of_day(as_of))
    if not rows.days:
        raise TooLittleHistory("no orders on or before that day")
    purchases = purchases_of(rows)
    key = (store.url, as_of, horizon_days, _digest(purchases))
    fitted = _FITTED.get(key)
    if fitted is None:
        settings = ForecastSettings(horizon_days=horizon_days)
        fitted = await asyncio.to_thread(forecast, purchases, day_number(as_of), settings)
        while len(_FITTED) >= _KEEP:
            _FITTED.pop(next(iter(_FITTED)))
        _FITTED[key] = fitted
    return BookForecast(fitted, rows)


# Fitted forecasts by (store, as-of day, horizon, digest of the orders they were fitted on): a
# second `forecast` the same day on an unchanged book answers at once instead of refitting
# (minutes on a big book). Any order added, changed or hidden changes the digest.
_FITTED: dict[tuple[str, date, int, str], Forecast] = {}
_KEEP = 4


def _digest(purchases: Purchases) -> str:
    hasher = hashlib.blake2b(digest_size=16)
    for array in (purchases.ids, purchases.customer, purchases.day, purchases.amount):
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()


async def scoped_mask(store: Store, fitted: Forecast, visible_to_rep: int | None) -> NDArray[np.bool_]:
    """Which of the forecast's customers a reader sees (all without owner scoping)."""
    if visible_to_rep is None:
        return np.ones(len(fitted.ids), dtype=bool)
    async with store.read() as tx:
        seen = await visible_customer_ids(tx.forecast, visible_to_rep)
    return np.isin(fitted.ids, np.fromiter(seen, dtype=np.int64, count=len(seen)))


def monthly_history(
    rows: OrderRows, *, until: date, months: int, customer_ids: NDArray[np.int64] | None = None
) -> tuple[list[date], list[int]]:
    """Revenue in cents per calendar month, the last ``months`` months up to ``until``'s month
    (``customer_ids``: only theirs)."""
    days = np.asarray(rows.days, dtype=np.int64)
    cents = np.asarray(rows.amount_cents, dtype=np.int64)
    if customer_ids is not None:
        keep = np.isin(np.asarray(rows.customer_ids, dtype=np.int64), customer_ids)
        days, cents = days[keep], cents[keep]
    month_of = days.astype("datetime64[D]").astype("datetime64[M]")
    last = np.datetime64(until, "M")
    starts = [last - np.timedelta64(k, "M") for k in range(months - 1, -1, -1)]
    labels = [date.fromisoformat(str(m) + "-01") for m in starts]
    totals = [int(cents[month_of == m].sum()) for m in starts]
    return labels, totals


def seasonal_index(rows: OrderRows, *, until: date) -> NDArray[np.float64]:
    """Revenue by calendar month over the last two years relative to the mean month (flat when
    there is less than a year of history to tell)."""
    days = np.asarray(rows.days, dtype=np.int64)
    if len(days) == 0 or day_number(until) - int(days.min()) < 365:
        return np.ones(12)
    labels, totals = monthly_history(rows, until=until, months=25)
    whole = [(m, t) for m, t in zip(labels[:-1], totals[:-1], strict=True)]  # the last is partial
    by_month = np.zeros(12)
    seen = np.zeros(12)
    for month, total in whole:
        by_month[month.month - 1] += total
        seen[month.month - 1] += 1
    if (seen == 0).any() or by_month.sum() <= 0:
        return np.ones(12)
    mean = by_month / seen
    return np.asarray(mean / mean.mean(), dtype=np.float64)


def split_by_month(
    total: float, *, start: date, horizon_days: int, index: NDArray[np.float64]
) -> list[tuple[date, float]]:
    """``total`` over the days after ``start`` spread by month, each day weighted by its month's
    seasonal index: [(first of month, share)]."""
    days = [start + timedelta(days=k) for k in range(1, horizon_days + 1)]
    weights = np.array([index[d.month - 1] for d in days])
    weights = weights / weights.sum()
    out: dict[date, float] = {}
    for d, w in zip(days, weights, strict=True):
        key = d.replace(day=1)
        out[key] = out.get(key, 0.0) + total * float(w)
    return list(out.items())


@dataclass(frozen=True, slots=True)
class ForecastRun:
    run_date: str
    customers: int
    model: str
    note: str


async def run_forecast(store: Store, *, horizon_days: int = DEFAULT_HORIZON) -> ForecastRun | None:
    """Forecast every customer as of today and store it (the card, the digest's revenue at risk
    and the loyalty run's churn risk read it). None when the book is too new to forecast."""
    async with store.read() as tx:
        today = tx.now.astimezone(UTC).date()
    try:
        book = await book_forecast(store, as_of=today, horizon_days=horizon_days)
    except TooLittleHistory as exc:
        _LOGGER.info("forecast skipped: %s", exc)
        return None
    fitted = book.forecast
    rows = zip(
        fitted.ids.tolist(),
        fitted.expected_orders.tolist(),
        np.rint(fitted.expected_revenue).astype(np.int64).tolist(),
        np.clip(fitted.p_active, 0.0, 1.0).tolist(),
        strict=True,
    )
    async with store.write(ACTOR) as tx:
        day = run_date_of(tx.now)
        count = await tx.forecast.save_run(
            run_date=day, horizon_days=horizon_days, model=fitted.model, rows=rows
        )
    _LOGGER.info("forecast %s: %s customers (%s)", day, count, fitted.model)
    return ForecastRun(day, count, fitted.model, fitted.note)


CSV_COLUMNS = ("customer_id", "external_ref", "email", "expected_orders", "expected_revenue", "p_active")


async def customer_table(
    store: Store, *, as_of: date, horizon_days: int
) -> tuple[BookForecast, list[list[str]]]:
    """The CSV rows of every customer who had ordered by ``as_of`` (revenue in currency units),
    from orders dated on or before ``as_of`` only."""
    book = await book_forecast(store, as_of=as_of, horizon_days=horizon_days)
    fitted = book.forecast
    async with store.read() as tx:
        refs = await tx.forecast.customer_refs(fitted.ids.tolist())
    table = []
    for cid, n, cents, p in zip(
        fitted.ids.tolist(),
        fitted.expected_orders.tolist(),
        fitted.expected_revenue.tolist(),
        fitted.p_active.tolist(),
        strict=True,
    ):
        ref = refs.get(cid)
        table.append(
            [
                str(cid),
                (ref.external_ref or "") if ref else "",
                ref.email if ref else "",
                f"{n:.3f}",
                f"{cents / 100:.2f}",
                f"{min(max(p, 0.0), 1.0):.4f}",
            ]
        )
    return book, table
