"""Fitting the next-product model: the customer x product matrix (net of returns), item-item
similarities kept to each product's nearest neighbours, and the re-order rhythm of consumables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RecommendSettings:
    neighbours: int = 50  # most similar products kept per product
    # similarity(i -> j) = together(i, j) / (buyers(i)^alpha * buyers(j)^(1 - alpha)): 0.5 is cosine,
    # 1 the share of i's buyers who bought j; in between favours popular candidates a little.
    alpha: float = 0.7  # measured best of 0.3-0.85 on both bench data sets (see the README)
    min_together: int = 2  # pairs fewer customers bought together are noise: ignored
    # A consumable: at least this many customers re-ordered it, and this share of its buyers.
    rebuy_min_buyers: int = 5
    rebuy_min_share: float = 0.3
    # Due when this fraction of its usual interval has passed, no longer once this many intervals have.
    rebuy_due: float = 0.8
    rebuy_lapsed: float = 3.0
    max_rebuys: int = 2  # slots of the top k that due re-buys may take


@dataclass(frozen=True, slots=True)
class Fitted:
    customer_ids: IntArray  # sorted: the matrix rows
    product_ids: IntArray  # sorted: the matrix columns
    bought: sp.csr_matrix  # customers x products, 1.0 where the customer still holds the product
    last: sp.csr_matrix  # the same pattern: the day the customer last bought it
    buyers: IntArray  # customers holding each product
    sim: sp.csr_matrix  # products x products: each row's nearest neighbours (float32)
    together: sp.csr_matrix  # the same pattern: customers who hold both
    interval: FloatArray  # median days between re-orders; NaN for what is not a consumable
    repeaters: IntArray  # customers who ordered the product more than once
    ever_bought: IntArray  # customers who ever ordered it (returned or not)
    repeat_share: FloatArray  # repeaters / ever_bought


def _csr(
    rows: IntArray, cols: IntArray, data: npt.NDArray[np.generic], shape: tuple[int, int]
) -> sp.csr_matrix:
    """A CSR matrix from entries already sorted by (row, column), explicit zeros kept."""
    indptr = np.concatenate(([0], np.cumsum(np.bincount(rows, minlength=shape[0])))).astype(np.int64)
    return sp.csr_matrix((data, cols.astype(np.int32), indptr), shape=shape)


def fit_arrays(
    customers: IntArray,
    products: IntArray,
    quantities: IntArray,
    orders: IntArray,
    days: FloatArray,
    settings: RecommendSettings,
) -> Fitted:
    customer_ids, ci = np.unique(customers, return_inverse=True)
    product_ids, pi = np.unique(products, return_inverse=True)
    m, n = len(customer_ids), len(product_ids)
    key = ci.astype(np.int64) * max(n, 1) + pi.astype(np.int64)
    by_key = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[by_key], return_index=True)
    qty = quantities[by_key]
    net = np.add.reduceat(qty, starts) if len(keys) else np.zeros(0, dtype=np.int64)
    bought_day = np.where(qty > 0, days[by_key], -np.inf)
    last = np.maximum.reduceat(bought_day, starts) if len(keys) else np.zeros(0)
    held = (net > 0) & np.isfinite(last)
    rows, cols = keys[held] // max(n, 1), keys[held] % max(n, 1)
    bought = _csr(rows, cols, np.ones(len(rows), dtype=np.float32), (m, n))
    last_day = _csr(rows, cols, last[held].astype(np.float64), (m, n))
    buyers = np.bincount(cols, minlength=n).astype(np.int64)
    sim, together = _similarities(bought, buyers, settings)
    interval, repeaters, ever = _rhythm(key, orders, days, quantities, n, settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(ever > 0, repeaters / np.maximum(ever, 1), 0.0)
    consumable = (
        (repeaters >= settings.rebuy_min_buyers) & (share >= settings.rebuy_min_share) & (interval >= 1)
    )
    return Fitted(
        customer_ids=customer_ids.astype(np.int64),
        product_ids=product_ids.astype(np.int64),
        bought=bought,
        last=last_day,
        buyers=buyers,
        sim=sim,
        together=together,
        interval=np.where(consumable, interval, np.nan),
        repeaters=repeaters,
        ever_bought=ever,
        repeat_share=share,
    )


def _similarities(
    bought: sp.csr_matrix, buyers: IntArray, settings: RecommendSettings
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Co-purchase counts X'X (customers holding both), weighted into similarities, each row
    cut to its ``neighbours`` strongest; returns (similarities, counts) with one pattern."""
    n = bought.shape[1]
    counts = (bought.T.tocsr() @ bought).tocsr()
    counts.setdiag(0)
    counts.data[counts.data < max(settings.min_together, 1)] = 0
    counts.eliminate_zeros()
    counts.sort_indices()
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(counts.indptr))
    cols = counts.indices.astype(np.int64)
    size = buyers.astype(np.float64)
    weight = counts.data / (size[rows] ** settings.alpha * size[cols] ** (1.0 - settings.alpha))
    by = np.lexsort((-weight, rows))
    first = np.searchsorted(rows, rows[by])  # rows are sorted: where each row starts
    keep = np.sort(by[(np.arange(len(by)) - first) < settings.neighbours])
    rows, cols = rows[keep], cols[keep]
    sim = _csr(rows, cols, weight[keep].astype(np.float32), (n, n))
    together = _csr(rows, cols, counts.data[keep].astype(np.float32), (n, n))
    return sim, together


def _rhythm(
    key: IntArray,
    orders: IntArray,
    days: FloatArray,
    quantities: IntArray,
    n: int,
    settings: RecommendSettings,
) -> tuple[FloatArray, IntArray, IntArray]:
    """Per product: the median days between a customer's orders of it (over customers who
    ordered it more than once), how many did, and how many ever ordered it."""
    positive = quantities > 0
    k, o, d = key[positive], orders[positive], days[positive]
    by = np.lexsort((o, k))
    k, o, d = k[by], o[by], d[by]
    new = np.ones(len(k), dtype=bool)
    new[1:] = (k[1:] != k[:-1]) | (o[1:] != o[:-1])
    k, d = k[new], d[new]  # one entry per (customer, product, order)
    keys, starts, times = np.unique(k, return_index=True, return_counts=True)
    cols = keys % max(n, 1)
    ever = np.bincount(cols, minlength=n).astype(np.int64)
    if not len(keys):
        return np.full(n, np.nan), np.zeros(n, dtype=np.int64), ever
    first = np.minimum.reduceat(d, starts)
    last = np.maximum.reduceat(d, starts)
    again = times >= 2
    gaps = (last[again] - first[again]) / (times[again] - 1)
    gap_cols = cols[again]
    repeaters = np.bincount(gap_cols, minlength=n).astype(np.int64)
    interval = np.full(n, np.nan)
    if len(gaps):
        by_col = np.lexsort((gaps, gap_cols))
        g_cols, g = gap_cols[by_col], gaps[by_col]
        col_ids, col_starts, col_counts = np.unique(g_cols, return_index=True, return_counts=True)
        interval[col_ids] = g[col_starts + (col_counts - 1) // 2]
    return interval, repeaters, ever
