"""BG/NBD with Gamma-Gamma spend (Fader, Hardie & Lee 2005; Fader & Hardie 2013): the
customer-base model the forecast's regression is measured against, and its fallback when the
book's history is too short to train on. Likelihoods in numpy/scipy, fitted by maximum
likelihood (scipy.optimize.minimize) on customers grouped by identical (x, t_x, T)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

Array = NDArray[np.float64]
# Time inside the model is in weeks: parameters stay near 1 and the optimiser well scaled.
DAYS_PER_UNIT = 7.0


class FitError(ValueError):
    """Too little data for the model to say anything (no repeat purchase at all, say)."""


@dataclass(frozen=True, slots=True)
class BgNbd:
    """Purchases while alive are Poisson(lambda), lambda ~ Gamma(r, alpha); after each purchase
    the customer drops out for good with probability p, p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x: Array, t_x: Array, big_t: Array) -> Array:
        """P(still a customer at T | x repeat purchases, the last at t_x), times in days."""
        t_x, big_t = t_x / DAYS_PER_UNIT, big_t / DAYS_PER_UNIT
        return np.asarray(1.0 / (1.0 + self._dropout_odds(x, t_x, big_t)))

    def _dropout_odds(self, x: Array, t_x: Array, big_t: Array) -> Array:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.maximum(b + x - 1.0, 1e-12))
                # log((alpha + T) / (alpha + t_x)), exact even when alpha dwarfs T
                + (r + x) * np.log1p((big_t - t_x) / (alpha + t_x))
            )
            odds = np.exp(np.minimum(log_odds, 700.0))
        return np.where(x > 0, odds, 0.0)

    def expected(self, x: Array, t_x: Array, big_t: Array, horizon_days: float) -> Array:
        """E[purchases in (T, T + horizon] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = horizon_days / DAYS_PER_UNIT
        t_x, big_t = t_x / DAYS_PER_UNIT, big_t / DAYS_PER_UNIT
        z = t / (alpha + big_t + t)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            head = (a + b + x - 1.0) / (a - 1.0)
            decay = np.exp(-(r + x) * np.log1p(t / (alpha + big_t)))
            hyper = hyp2f1(r + x, b + x, a + b + x - 1.0, z)
            value = head * (1.0 - decay * hyper) / (1.0 + self._dropout_odds(x, t_x, big_t))
        # The series can lose precision for long horizons on heavy buyers: fall back to the
        # alive buyer's Poisson mean, an upper bound that is close in that regime.
        bound = (
            self.p_alive(x * 1.0, t_x * DAYS_PER_UNIT, big_t * DAYS_PER_UNIT) * (r + x) / (alpha + big_t) * t
        )
        bad = ~np.isfinite(value) | (value < 0) | (value > 2.0 * bound + 1.0)
        return np.asarray(np.where(bad, bound, value))

    def p_active(self, x: Array, t_x: Array, big_t: Array, horizon_days: float) -> Array:
        """P(at least one purchase in (T, T + horizon]): alive at T, and the Poisson clock rings
        (a live customer drops out only right after a purchase, so stays alive until then)."""
        t = horizon_days / DAYS_PER_UNIT
        weeks_t = big_t / DAYS_PER_UNIT
        silent = np.exp(-(self.r + x) * np.log1p(t / (self.alpha + weeks_t)))
        return np.asarray(self.p_alive(x, t_x, big_t) * (1.0 - silent))


def bgnbd_log_likelihood(params: Array, x: Array, t_x: Array, big_t: Array, weight: Array) -> float:
    """Summed log-likelihood (eq. 6 of the paper) with times in model units."""
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    stay = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = betaln(a + 1.0, b + x - 1.0) - betaln(a, b) - (r + x) * np.log(alpha + t_x)
    drop = np.where(x > 0, drop, -np.inf)
    return float(np.sum(weight * (common + np.logaddexp(stay, drop))))


def _grouped(*columns: Array) -> tuple[list[Array], Array]:
    """Unique rows of the columns and how many customers share each (a book of a million is a
    few tens of thousands of distinct histories at day resolution)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(np.float64)


def fit_bgnbd(x: Array, t_x: Array, big_t: Array) -> BgNbd:
    """Maximum-likelihood BG/NBD from repeat purchases ``x``, the last repeat's age ``t_x`` and
    the customer's age ``T`` at the cut-off (days since the first purchase)."""
    if len(x) < 2 or not np.any(x > 0):
        raise FitError("no customer has bought twice")
    (gx, gtx, gt), weight = _grouped(x.astype(np.float64), t_x / DAYS_PER_UNIT, big_t / DAYS_PER_UNIT)
    total = weight.sum()

    def loss(log_params: Array) -> float:
        # Bounded: a book of near-identical buyers drives r and alpha off to infinity together.
        params = np.exp(np.clip(log_params, -12.0, 12.0))
        params[2] = 1.0 + params[2]  # a > 1 keeps the expected count finite
        value = -bgnbd_log_likelihood(params, gx, gtx, gt, weight) / total
        return value if np.isfinite(value) else 1e10

    start = np.log(np.array([0.5, max(float(np.mean(gt)), 1.0), 0.5, 1.0]))
    best = minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-9}
    )
    polished = minimize(loss, best.x, method="L-BFGS-B")
    chosen = polished.x if polished.fun <= best.fun else best.x
    r, alpha, a_less_one, b = np.exp(np.clip(chosen, -12.0, 12.0))
    return BgNbd(r=float(r), alpha=float(alpha), a=float(1.0 + a_less_one), b=float(b))


@dataclass(frozen=True, slots=True)
class GammaGamma:
    """Spend per purchase: Gamma(p, nu) around each customer's own mean, nu ~ Gamma(q, gamma)."""

    p: float
    q: float
    gamma: float

    def expected_spend(self, n: Array, mean_spend: Array) -> Array:
        """E[spend per purchase | n purchases averaging ``mean_spend``]: the customer's own mean
        shrunk toward the book's, less so the more purchases there are."""
        p, q, g = self.p, self.q, self.gamma
        return np.asarray((g + n * mean_spend) * p / (p * n + q - 1.0))


def fit_gamma_gamma(n: Array, mean_spend: Array) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma from customers with ``n`` >= 1 purchases and positive mean."""
    keep = (n >= 1) & (mean_spend > 0)
    if keep.sum() < 2:
        raise FitError("fewer than two customers with spend")
    n, m = n[keep].astype(np.float64), mean_spend[keep].astype(np.float64)
    scale = float(np.median(m))  # spend in units of the median keeps gamma near 1
    m = m / scale

    def loss(log_params: Array) -> float:
        p, q_less_one, g = np.exp(np.clip(log_params, -12.0, 12.0))
        q = 1.0 + q_less_one  # q > 1: the expected spend is finite
        ll = (
            gammaln(p * n + q)
            - gammaln(p * n)
            - gammaln(q)
            + q * np.log(g)
            + (p * n - 1.0) * np.log(m)
            + p * n * np.log(n)
            - (p * n + q) * np.log(g + m * n)
        )
        value = -float(np.mean(ll))
        return value if np.isfinite(value) else 1e10

    best = minimize(loss, np.log([2.0, 2.0, 1.0]), method="Nelder-Mead", options={"maxiter": 4000})
    polished = minimize(loss, best.x, method="L-BFGS-B")
    chosen = polished.x if polished.fun <= best.fun else best.x
    p, q_less_one, g = np.exp(np.clip(chosen, -12.0, 12.0))
    return GammaGamma(p=float(p), q=float(1.0 + q_less_one), gamma=float(g * scale))
