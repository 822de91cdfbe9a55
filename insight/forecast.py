"""Expected orders and revenue per customer over a horizon, and the chance of ordering at all:
gradient boosting trained on rolling windows of the book's own history (features as of a
cut-off, target = what happened in the horizon after it), with BG/NBD + Gamma-Gamma as the
baseline and the fallback when the history is too short, and the naive "same rate as
before" baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from insight.bgnbd import BgNbd, FitError, GammaGamma, fit_bgnbd, fit_gamma_gamma
from insight.forecast_features import Purchases, Snapshot, outcome, snapshot

Array = NDArray[np.float64]

REGRESSION = "regression"
BGNBD = "bgnbd"
NAIVE = "naive"


class TooLittleHistory(ValueError):
    """The book cannot be forecast at all (no orders, or nobody ever bought twice)."""


@dataclass(frozen=True, slots=True)
class ForecastSettings:
    horizon_days: int = 90
    step_days: int = 30  # rolling windows start this far apart
    max_windows: int = 15
    min_windows: int = 3  # fewer windows than this: too short to train, BG/NBD instead
    min_history_days: int = 60  # history a window's cut-off needs before it
    min_buyers: int = 30  # buyers in the windows' targets needed to learn anything
    max_training_rows: int = 200_000
    seed: int = 0
    # OpenMP threads for the boosters: on a busy shared machine one is faster than spinning.
    threads: int = 1


@dataclass(frozen=True, slots=True)
class Forecast:
    """Per customer of ``ids`` (customers with an order on or before ``as_of``)."""

    as_of: int
    horizon_days: int
    model: str
    ids: NDArray[np.int64]
    expected_orders: Array
    expected_revenue: Array
    p_active: Array
    snapshot: Snapshot
    # Why the model is not the regression, in words (empty when it is).
    note: str = ""
    # The recent revenue of customers new in a window, per horizon (team totals add it).
    new_customer_revenue: float = 0.0
    # Relative error of the book's total on the latest held-back window (for the interval).
    total_error: float = 0.15
    windows: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def total_interval(self, *, z: float = 1.645) -> tuple[float, float, float]:
        """The book's expected revenue over the horizon (these customers plus new ones), and a
        90% interval (see ``revenue_interval``)."""
        return revenue_interval(
            self.expected_orders,
            self.expected_revenue,
            self.total_error,
            extra=self.new_customer_revenue,
            z=z,
        )


def revenue_interval(
    orders: Array, revenue: Array, relative_error: float, *, extra: float = 0.0, z: float = 1.645
) -> tuple[float, float, float]:
    """Total expected revenue of these customers (plus ``extra``) and an interval around it:
    the chance in how many orders come (Poisson, at each customer's expected spend) and the
    model's relative error on held-back data, added in quadrature."""
    total = float(revenue.sum() + extra)
    spend = np.divide(revenue, orders, out=np.zeros_like(revenue), where=orders > 1e-9)
    noise = float(np.sum(orders * spend**2))
    spread = z * float(np.sqrt(noise + (relative_error * total) ** 2))
    return total, max(total - spread, 0.0), total + spread


def naive_forecast(snap: Snapshot, horizon_days: int) -> tuple[Array, Array, Array]:
    """ "Same rate as before": the customer's order rate over the last year (or their tenure,
    at least one horizon long) carried forward, at their average spend."""
    tenure = np.where(snap.present, snap.cutoff - snap.first, 0.0)
    window = np.clip(tenure, horizon_days, 365.0)
    recent = np.where(window >= 365.0, snap.feature("orders_365"), snap.orders)
    orders = recent / window * horizon_days
    revenue = orders * snap.mean_spend
    return orders, revenue, 1.0 - np.exp(-orders)


@dataclass(frozen=True, slots=True)
class BaseModel:
    """BG/NBD and Gamma-Gamma fitted on one snapshot; their predictions on any snapshot are
    the baseline and also features of the regression."""

    counts: BgNbd
    spend: GammaGamma

    @classmethod
    def fit(cls, snap: Snapshot) -> BaseModel:
        keep = snap.present
        try:
            return cls(
                fit_bgnbd(snap.repeat[keep], snap.t_x[keep], snap.age[keep]),
                fit_gamma_gamma(snap.orders[keep], snap.mean_spend[keep]),
            )
        except FitError as exc:
            raise TooLittleHistory(str(exc)) from None

    def predict(self, snap: Snapshot, horizon_days: int) -> tuple[Array, Array, Array, Array]:
        """Expected orders, revenue, P(any order) and expected spend per order (0 where absent)."""
        keep = snap.present
        x, t_x, age = snap.repeat[keep], snap.t_x[keep], snap.age[keep]
        n = len(keep)
        orders, p_active, spend = np.zeros(n), np.zeros(n), np.zeros(n)
        orders[keep] = self.counts.expected(x, t_x, age, horizon_days)
        p_active[keep] = self.counts.p_active(x, t_x, age, horizon_days)
        spend[keep] = self.spend.expected_spend(snap.orders[keep], snap.mean_spend[keep])
        return orders, orders * spend, p_active, spend


def bgnbd_forecast(snap: Snapshot, horizon_days: int) -> tuple[Array, Array, Array]:
    """BG/NBD expected purchases and P(any purchase), times Gamma-Gamma expected spend; fitted
    on the snapshot's own customers."""
    orders, revenue, p_active, _ = BaseModel.fit(snap).predict(snap, horizon_days)
    return orders, revenue, p_active


def _with_base(snap: Snapshot, base: BaseModel, horizon_days: int) -> Array:
    """The snapshot's features plus the base model's expected orders, P(any order) and spend."""
    orders, _, p_active, spend = base.predict(snap, horizon_days)
    # Returns can leave Gamma-Gamma's expected spend below -1: its log is then NaN, which the
    # gradient boosting reads as "unknown" (it handles missing values natively); say nothing
    # about it on stderr, where the console user would see a RuntimeWarning.
    with np.errstate(invalid="ignore"):
        spent = np.log1p(spend)
    return np.column_stack([snap.features, orders, p_active, spent])


def _cutoffs(purchases: Purchases, as_of: int, settings: ForecastSettings) -> list[int]:
    """Training cut-offs, latest first: each leaves a whole horizon before ``as_of``."""
    start = purchases.first_day() + settings.min_history_days
    latest = as_of - settings.horizon_days
    return [c for c in range(latest, start - 1, -settings.step_days)][: settings.max_windows]


@dataclass(frozen=True, slots=True)
class _Rows:
    x: Array
    orders: Array
    revenue: Array
    window: Array
    newcomers: list[float]


def _training_rows(
    purchases: Purchases, cutoffs: list[int], base: BaseModel, settings: ForecastSettings
) -> _Rows:
    """Features and targets of every window's customers (subsampled to the row budget), the
    window each row came from, and each window's revenue from customers new in it."""
    rng = np.random.default_rng(settings.seed)
    per_window = max(settings.max_training_rows // max(len(cutoffs), 1), 1)
    xs, orders, revenue, window = [], [], [], []
    newcomers: list[float] = []
    for k, cutoff in enumerate(cutoffs):
        snap = snapshot(purchases, cutoff, horizon_days=settings.horizon_days)
        got_orders, got_revenue = outcome(purchases, cutoff, settings.horizon_days)
        newcomers.append(float(got_revenue[~snap.present].sum()))
        rows = np.flatnonzero(snap.present)
        if len(rows) > per_window:
            rows = np.sort(rng.choice(rows, per_window, replace=False))
        xs.append(_with_base(snap, base, settings.horizon_days)[rows])
        orders.append(got_orders[rows])
        revenue.append(got_revenue[rows])
        window.append(np.full(len(rows), float(k)))
    return _Rows(
        np.concatenate(xs), np.concatenate(orders), np.concatenate(revenue), np.concatenate(window), newcomers
    )


def _booster(kind: str, seed: int, *, rows: int, rounds: int = 300) -> Any:
    # Imported here: scikit-learn adds a second to start-up, and most commands never forecast.
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    # Big leaves on a big book (a leaf is an average of many customers: less noise), small
    # ones on a small book; early stopping on a held-out tenth is on from 10,000 rows.
    leaf = max(20, min(200, rows // 100))
    common: dict[str, Any] = {"learning_rate": 0.05, "max_iter": rounds, "max_leaf_nodes": 15}
    common |= {"min_samples_leaf": leaf, "l2_regularization": 1.0, "random_state": seed}
    if kind == "classifier":
        return HistGradientBoostingClassifier(**common)
    # Counts: Poisson deviance with a log link (totals stay calibrated). Spend per order:
    # squared error (a log link on whale-sized amounts can blow a leaf up).
    return HistGradientBoostingRegressor(loss="poisson" if kind == "counts" else "squared_error", **common)


@dataclass(frozen=True, slots=True)
class _Boosters:
    counts: Any
    spend: Any
    active: Any
    active_rate: float

    @classmethod
    def fit(cls, rows: _Rows, seed: int, *, rounds: int = 300) -> _Boosters:
        counts = _booster("counts", seed, rows=len(rows.x), rounds=rounds).fit(rows.x, rows.orders)
        bought = rows.orders > 0
        spend = _booster("spend", seed, rows=int(bought.sum()), rounds=rounds).fit(
            rows.x[bought], rows.revenue[bought] / rows.orders[bought]
        )
        active = None
        if bought.any() and not bought.all():
            active = _booster("classifier", seed, rows=len(rows.x), rounds=rounds).fit(rows.x, bought)
        return cls(counts, spend, active, float(bought.mean()))

    def predict(self, x: Array) -> tuple[Array, Array, Array]:
        orders = np.maximum(self.counts.predict(x), 0.0)
        spend = np.maximum(self.spend.predict(x), 0.0)
        p = np.full(len(x), self.active_rate) if self.active is None else self.active.predict_proba(x)[:, 1]
        return orders, orders * spend, np.asarray(p, dtype=np.float64)


def forecast(purchases: Purchases, as_of: int, settings: ForecastSettings | None = None) -> Forecast:
    """Every customer who had ordered by day ``as_of``: expected purchases, revenue and
    P(any purchase) in (as_of, as_of + horizon], from purchases on or before ``as_of`` only.
    The regression when the history gives ``min_windows`` rolling windows with enough buyers;
    BG/NBD otherwise (``note`` says why); TooLittleHistory when even that cannot be fitted."""
    settings = settings or ForecastSettings()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=settings.threads, user_api="openmp"):
        return _forecast(purchases, as_of, settings)


def _forecast(purchases: Purchases, as_of: int, settings: ForecastSettings) -> Forecast:
    purchases = purchases.until(as_of)
    if len(purchases.day) == 0:
        raise TooLittleHistory("no orders on or before that day")
    h = settings.horizon_days
    snap = snapshot(purchases, as_of, horizon_days=h)
    ids = purchases.ids[snap.present]
    base = BaseModel.fit(snap)
    cutoffs = _cutoffs(purchases, as_of, settings)
    if len(cutoffs) >= settings.min_windows:
        rows = _training_rows(purchases, cutoffs, base, settings)
        buyers = int((rows.orders > 0).sum())
        if buyers >= settings.min_buyers:
            boosters = _Boosters.fit(rows, settings.seed)
            orders, revenue, p_active = boosters.predict(_with_base(snap, base, h)[snap.present])
            # Newcomers: the mean over the last year of windows (a whole seasonal cycle).
            recent = rows.newcomers[: max(1, 365 // settings.step_days)]
            return Forecast(
                as_of=as_of,
                horizon_days=h,
                model=REGRESSION,
                ids=ids,
                expected_orders=orders,
                expected_revenue=revenue,
                p_active=p_active,
                snapshot=snap,
                new_customer_revenue=float(np.mean(recent)),
                total_error=_held_back_error(rows, settings.seed),
                windows=len(cutoffs),
            )
        note = f"only {buyers} purchases to learn from in {len(cutoffs)} training windows"
    else:
        days = as_of - purchases.first_day()
        note = (
            f"{days} days of history give {len(cutoffs)} training windows "
            f"(the regression needs {settings.min_windows})"
        )
    orders_b, revenue_b, p_b, _ = base.predict(snap, h)
    keep = snap.present
    return Forecast(
        as_of=as_of,
        horizon_days=h,
        model=BGNBD,
        ids=ids,
        expected_orders=orders_b[keep],
        expected_revenue=revenue_b[keep],
        p_active=p_b[keep],
        snapshot=snap,
        note=note,
        total_error=0.25,
        windows=len(cutoffs),
    )


def _held_back_error(rows: _Rows, seed: int) -> float:
    """Relative error of the total revenue on the latest window when trained on the others
    (smaller models: it only sizes the interval); at least 5%, 25% when it cannot be told."""
    latest = rows.window == 0
    if latest.all() or (~latest).sum() < 100 or rows.revenue[latest].sum() <= 0:
        return 0.25
    older = _Rows(rows.x[~latest], rows.orders[~latest], rows.revenue[~latest], rows.window[~latest], [])
    _, revenue, _ = _Boosters.fit(older, seed, rounds=100).predict(rows.x[latest])
    return max(abs(float(revenue.sum()) / float(rows.revenue[latest].sum()) - 1.0), 0.05)
