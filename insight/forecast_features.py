"""A book's purchases as arrays, and what the forecast reads from them as of a cut-off day:
recency, frequency, money, tenure, the gaps between purchases and the recent trend, per
customer, in bulk (numpy; no loop over customers)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]
Array = NDArray[np.float64]

# The features, in the words the README and the bot use for them. Running totals (orders and
# revenue so far) are left out: they only grow, so the latest customers would sit beyond every
# training window, where trees answer with whoever had the most there (rates carry the same news).
FEATURES: tuple[tuple[str, str], ...] = (
    ("recency_days", "days since the last order"),
    ("tenure_days", "days since the first order"),
    ("orders_90", "orders in the last 90 days"),
    ("orders_prev_90", "orders in the 90 days before that"),
    ("orders_365", "orders in the last year"),
    ("log_revenue_365", "log of what was spent in the last year"),
    ("log_mean_spend", "log of the average order"),
    ("gap_mean", "average days between orders"),
    ("gap_cv", "how irregular the gaps are (spread / mean)"),
    ("overdue", "days since the last order / average gap"),
    ("rate", "orders per 30 days of tenure"),
    ("season_sin", "time of year of the forecast window (sine)"),
    ("season_cos", "time of year of the forecast window (cosine)"),
)
FEATURE_NAMES = tuple(name for name, _ in FEATURES)


@dataclass(frozen=True, slots=True)
class Purchases:
    """Orders collapsed to one purchase per customer and day (several orders the same day count
    once, as the BG/NBD literature does), sorted by customer then day. ``customer`` indexes
    ``ids``; ``day`` counts days since 1970-01-01."""

    ids: IntArray
    customer: IntArray
    day: IntArray
    amount: Array

    @property
    def n_customers(self) -> int:
        return len(self.ids)

    @classmethod
    def from_orders(cls, customer_ids: IntArray, days: IntArray, amounts: Array) -> Purchases:
        """From one row per order (customer id, day number, amount; any order)."""
        customer_ids = np.asarray(customer_ids, dtype=np.int64)
        days = np.asarray(days, dtype=np.int64)
        amounts = np.asarray(amounts, dtype=np.float64)
        ids, index = np.unique(customer_ids, return_inverse=True)
        if len(customer_ids) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return cls(ids, empty, empty.copy(), np.zeros(0))
        key = index.astype(np.int64) * (int(days.max()) - int(days.min()) + 1) + (days - days.min())
        unique_key, inverse = np.unique(key, return_inverse=True)
        total = np.bincount(inverse, weights=amounts, minlength=len(unique_key))
        span = int(days.max()) - int(days.min()) + 1
        return cls(ids, unique_key // span, unique_key % span + int(days.min()), total.astype(np.float64))

    def until(self, cutoff: int) -> Purchases:
        """Only purchases on or before day ``cutoff`` (same customers)."""
        keep = self.day <= cutoff
        return Purchases(self.ids, self.customer[keep], self.day[keep], self.amount[keep])

    def first_day(self) -> int:
        return int(self.day.min())

    def last_day(self) -> int:
        return int(self.day.max())


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Each known customer's history as of a cut-off: ``present`` marks who had bought by then;
    the other arrays are over all customers (zero where absent)."""

    cutoff: int
    present: NDArray[np.bool_]
    orders: Array
    first: Array
    last: Array
    revenue: Array
    features: Array  # (n_customers, len(FEATURES))

    def feature(self, name: str) -> Array:
        return np.asarray(self.features[:, FEATURE_NAMES.index(name)])

    @property
    def repeat(self) -> Array:
        """BG/NBD's x: purchases after the first."""
        return np.maximum(self.orders - 1.0, 0.0)

    @property
    def t_x(self) -> Array:
        return self.last - self.first

    @property
    def age(self) -> Array:
        """BG/NBD's T: days from the first purchase to the cut-off."""
        return self.cutoff - self.first

    @property
    def mean_spend(self) -> Array:
        return np.divide(self.revenue, self.orders, out=np.zeros_like(self.revenue), where=self.orders > 0)


def season(day: Array | float, horizon_days: int) -> tuple[Array, Array]:
    """Sine and cosine of the day of year of the middle of the window starting at ``day``."""
    middle = (np.asarray(day, dtype=np.float64) + horizon_days / 2.0) % 365.25
    angle = 2.0 * np.pi * middle / 365.25
    return np.sin(angle), np.cos(angle)


def snapshot(purchases: Purchases, cutoff: int, *, horizon_days: int) -> Snapshot:
    """Every customer's features from purchases on or before ``cutoff``."""
    n = purchases.n_customers
    keep = purchases.day <= cutoff
    c, d, a = purchases.customer[keep], purchases.day[keep].astype(np.float64), purchases.amount[keep]

    def per(weights: Array | None = None) -> Array:
        return np.bincount(c, weights=weights, minlength=n).astype(np.float64)

    orders = per()
    present = orders > 0
    starts = np.searchsorted(c, np.arange(n), side="left")
    ends = np.searchsorted(c, np.arange(n), side="right")
    first = np.zeros(n)
    last = np.zeros(n)
    first[present] = d[starts[present]]
    last[present] = d[ends[present] - 1]
    revenue = per(a)
    age = cutoff - d  # days before the cut-off, per purchase
    orders_90 = per((age < 90).astype(np.float64))
    orders_prev_90 = per(((age >= 90) & (age < 180)).astype(np.float64))
    orders_365 = per((age < 365).astype(np.float64))
    revenue_365 = per(np.where(age < 365, a, 0.0))
    same = np.diff(c) == 0
    gaps = np.diff(d)[same]
    owner = c[1:][same]
    gap_sum = np.bincount(owner, weights=gaps, minlength=n)
    gap_sq = np.bincount(owner, weights=gaps * gaps, minlength=n)
    repeats = np.maximum(orders - 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap_mean = np.where(repeats > 0, gap_sum / repeats, np.nan)
        gap_var = np.where(repeats > 0, gap_sq / repeats - gap_mean**2, np.nan)
        gap_cv = np.sqrt(np.maximum(gap_var, 0.0)) / np.maximum(gap_mean, 1.0)
        recency = np.where(present, cutoff - last, np.nan)
        tenure = np.where(present, cutoff - first, np.nan)
        overdue = recency / np.maximum(gap_mean, 1.0)
        mean_spend = np.where(present, revenue / np.maximum(orders, 1.0), np.nan)
    sin, cos = season(float(cutoff), horizon_days)
    columns = (
        recency,
        tenure,
        orders_90,
        orders_prev_90,
        orders_365,
        np.log1p(np.maximum(revenue_365, 0.0)),
        np.log1p(np.maximum(mean_spend, 0.0)),
        gap_mean,
        gap_cv,
        overdue,
        30.0 * orders / np.maximum(tenure, 30.0),
        np.full(n, float(sin)),
        np.full(n, float(cos)),
    )
    return Snapshot(
        cutoff=cutoff,
        present=present,
        orders=orders,
        first=first,
        last=last,
        revenue=revenue,
        features=np.column_stack(columns),
    )


def outcome(purchases: Purchases, cutoff: int, horizon_days: int) -> tuple[Array, Array]:
    """Per customer: purchases and revenue in (cutoff, cutoff + horizon]."""
    n = purchases.n_customers
    inside = (purchases.day > cutoff) & (purchases.day <= cutoff + horizon_days)
    c = purchases.customer[inside]
    orders = np.bincount(c, minlength=n).astype(np.float64)
    revenue = np.bincount(c, weights=purchases.amount[inside], minlength=n).astype(np.float64)
    return orders, revenue
