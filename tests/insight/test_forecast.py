"""The forecast models on planted structure: steady buyers stay likely to order, lapsed ones do
not; the cut-off hides later orders; a short history falls back to BG/NBD; no history at all
is refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from insight.bgnbd import fit_bgnbd
from insight.forecast import BGNBD, REGRESSION, ForecastSettings, TooLittleHistory, forecast, naive_forecast
from insight.forecast_features import Purchases, outcome, snapshot

AS_OF = 20_000  # a day number (2024-10-04)
FAST = ForecastSettings(horizon_days=90, max_windows=6)
FAST_60 = ForecastSettings(horizon_days=60, max_windows=6)


def planted_book(
    *, days: int = 730, lapse_after: int = 365, steady: int = 60, lapsed: int = 60, seed: int = 1
) -> Purchases:
    """Steady buyers order about every 14 days throughout; lapsed buyers ordered about weekly
    for their first ``lapse_after`` days, then never again."""
    rng = np.random.default_rng(seed)
    who, when, amount = [], [], []
    start = AS_OF - days
    for c in range(steady + lapsed):
        stop = AS_OF if c < steady else start + lapse_after
        day = start + int(rng.integers(0, 20))
        gap = 14 if c < steady else 7
        while day <= stop:
            who.append(c)
            when.append(day)
            amount.append(float(rng.gamma(4.0, 25.0)))
            day += max(1, int(rng.normal(gap, gap / 4)))
    return Purchases.from_orders(np.array(who), np.array(when), np.array(amount))


def test_steady_buyer_likely_lapsed_buyer_not() -> None:
    book = planted_book()
    fitted = forecast(book, AS_OF, FAST)
    assert fitted.model == REGRESSION and fitted.windows >= 3
    steady, lapsed = fitted.ids < 60, fitted.ids >= 60
    # A weekly buyer who stopped looked like a steady one for a while: some doubt is honest.
    assert float(np.median(fitted.p_active[steady])) > 0.8 and fitted.p_active[steady].min() > 0.5
    assert fitted.p_active[lapsed].max() < 0.2
    # Steady buyers: about 90 / 14 orders each; lapsed ones close to none.
    assert 4.0 < float(np.median(fitted.expected_orders[steady])) < 8.5
    assert float(fitted.expected_orders[lapsed].max()) < 0.5


def test_cut_off_ignores_later_orders() -> None:
    book = planted_book()
    cut = AS_OF - 120
    with_later = forecast(book, cut, FAST_60)
    without = forecast(book.until(cut), cut, FAST_60)
    assert np.array_equal(with_later.ids, without.ids)
    assert np.allclose(with_later.expected_revenue, without.expected_revenue)
    assert np.allclose(with_later.p_active, without.p_active)
    assert int(with_later.snapshot.last.max()) <= cut


def test_short_history_falls_back_to_bgnbd_and_says_why() -> None:
    book = planted_book(days=150, lapse_after=60)
    fitted = forecast(book, AS_OF, ForecastSettings(horizon_days=90))
    assert fitted.model == BGNBD
    assert "training windows" in fitted.note
    assert fitted.p_active[fitted.ids < 60].mean() > fitted.p_active[fitted.ids >= 60].mean() + 0.3


def test_nobody_bought_twice_is_too_little() -> None:
    book = Purchases.from_orders(np.arange(5), np.full(5, AS_OF - 10), np.full(5, 10.0))
    with pytest.raises(TooLittleHistory):
        forecast(book, AS_OF)
    with pytest.raises(TooLittleHistory):
        forecast(book, AS_OF - 30)  # every order is after the cut-off


def test_same_day_orders_count_once() -> None:
    book = Purchases.from_orders(np.array([7, 7, 7]), np.array([5, 5, 9]), np.array([1.0, 2.0, 4.0]))
    assert book.day.tolist() == [5, 9] and book.amount.tolist() == [3.0, 4.0]
    assert book.ids.tolist() == [7]


def test_features_and_outcome_by_hand() -> None:
    book = Purchases.from_orders(
        np.array([1, 1, 1, 2]), np.array([0, 10, 30, 20]), np.array([5.0, 5.0, 20.0, 8.0])
    )
    snap = snapshot(book, 25, horizon_days=30)
    assert snap.present.tolist() == [True, True]
    assert snap.orders.tolist() == [2.0, 1.0]
    assert snap.repeat.tolist() == [1.0, 0.0] and snap.t_x.tolist() == [10.0, 0.0]
    assert snap.age.tolist() == [25.0, 5.0] and snap.mean_spend.tolist() == [5.0, 8.0]
    orders, revenue = outcome(book, 25, 30)
    assert orders.tolist() == [1.0, 0.0] and revenue.tolist() == [20.0, 0.0]


def test_bgnbd_recovers_a_planted_book() -> None:
    """Simulated from BG/NBD itself (r=0.5, alpha=10 weeks, a=1.5, b=6): the fit lands near."""
    rng = np.random.default_rng(3)
    n, weeks = 4000, 52.0
    lam = rng.gamma(0.5, 1.0 / 10.0, size=n)
    p = rng.beta(1.5, 6.0, size=n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > weeks:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    model = fit_bgnbd(x, t_x * 7.0, np.full(n, weeks * 7.0))
    assert model.r == pytest.approx(0.5, rel=0.3)
    assert model.alpha == pytest.approx(10.0, rel=0.35)
    assert model.a / (model.a + model.b) == pytest.approx(1.5 / 7.5, rel=0.35)


def test_naive_carries_the_rate_forward() -> None:
    book = Purchases.from_orders(np.array([1] * 4), np.array([0, 100, 200, 300]), np.full(4, 10.0))
    snap = snapshot(book, 400, horizon_days=73)  # the last year holds three of the four
    orders, revenue, p = naive_forecast(snap, 73)
    assert orders[0] == pytest.approx(3 * 73 / 365)
    assert revenue[0] == pytest.approx(orders[0] * 10.0)
    assert 0 < p[0] < 1


def test_forecast_models_import_no_store_and_no_chat() -> None:
    """insight/ is pure arrays (DESIGN.md): no SQL, no handlers, no chat libraries."""
    from pathlib import Path

    from tests.test_layering import imported_modules

    root = Path(__file__).resolve().parents[2] / "insight"
    banned = ("crm_store", "handlers", "bot", "sqlalchemy", "slack_bolt", "slack_sdk", "telegram")
    for name in ("forecast.py", "forecast_features.py", "bgnbd.py"):
        found = imported_modules(root / name)
        assert not [m for m in found if m.split(".")[0] in banned], name


def test_a_customer_whose_returns_outweigh_orders_warns_nothing_and_stays_finite() -> None:
    """Net spend below zero (more returned than bought) made log1p print a RuntimeWarning into
    the console; the missing feature is the model's to handle, the forecast stays finite."""
    book = planted_book()
    refund_days = np.array([AS_OF - 300, AS_OF - 200, AS_OF - 100, AS_OF - 50])
    merged = Purchases.from_orders(
        np.concatenate([book.ids[book.customer], np.full(4, 999)]),
        np.concatenate([book.day, refund_days]),
        np.concatenate([book.amount, [-500.0, -400.0, -300.0, -200.0]]),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted = forecast(merged, AS_OF, FAST)
    assert np.isfinite(fitted.expected_revenue).all() and np.isfinite(fitted.p_active).all()
