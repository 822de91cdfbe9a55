"""Which per-customer figures move together: Spearman's rho for every pair (each pair over the
customers who have both figures), with p-values corrected for the number of pairs, so that
noise in a small book is not reported as a finding."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# A relation is named only with at least this many customers behind it (under about 20 the
# p-value's t approximation is rough, and the Holm bar below needs |rho| near 0.7 there anyway)...
MIN_N = 20
# ...a Holm-corrected p-value under this...
ALPHA = 0.05
# ...and a rho at least this far from 0 (smaller ones are real but too weak to act on).
MIN_RHO = 0.1


@dataclass(frozen=True, slots=True)
class Relation:
    a: str
    b: str
    rho: float  # NaN when it could not be computed (too few customers, or a constant figure)
    p: float  # the raw p-value
    n: int  # customers with both figures
    p_adjusted: float = float("nan")  # Holm's step-down correction over all pairs

    @property
    def found(self) -> bool:
        return (
            self.n >= MIN_N
            and not np.isnan(self.rho)
            and self.p_adjusted < ALPHA
            and abs(self.rho) >= MIN_RHO
        )


@dataclass(frozen=True, slots=True)
class Correlations:
    names: tuple[str, ...]
    rho: NDArray[np.float64]  # names x names, NaN where not computed
    n: NDArray[np.int64]
    relations: tuple[Relation, ...]  # every pair once, in matrix order


def holm(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values (NaN stays NaN): controls the chance of any false
    finding among all the pairs, without Bonferroni's full price."""
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    scaled = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(scaled, 1.0)
    return out


def spearman(columns: Mapping[str, NDArray[np.float64]]) -> Correlations:
    """Spearman's rho of every pair of ``columns`` (equal-length arrays, NaN = no figure for
    that customer), each pair over the customers who have both."""
    from scipy.stats import spearmanr

    names = tuple(columns)
    data = [np.asarray(columns[name], dtype=np.float64) for name in names]
    size = len(names)
    rho = np.full((size, size), np.nan)
    n = np.zeros((size, size), dtype=np.int64)
    pairs: list[tuple[int, int, float, float, int]] = []
    # Figures every customer has (orders, revenue, tickets) pair over the same customers: one
    # call ranks each of them once instead of once per pair.
    full = [
        i
        for i, column in enumerate(data)
        if len(column) >= 3 and not np.isnan(column).any() and np.ptp(column) > 0
    ]
    block: dict[tuple[int, int], tuple[float, float]] = {}
    if len(full) >= 3:
        result = spearmanr(np.column_stack([data[i] for i in full]))
        for a, i in enumerate(full):
            for b, j in enumerate(full):
                block[i, j] = (float(result.statistic[a, b]), float(result.pvalue[a, b]))
    for i in range(size):
        has_i = ~np.isnan(data[i])
        n[i, i] = int(has_i.sum())
        if n[i, i] >= 3 and np.ptp(data[i][has_i]) > 0:
            rho[i, i] = 1.0
        for j in range(i + 1, size):
            both = has_i & ~np.isnan(data[j])
            count = int(both.sum())
            x, y = data[i][both], data[j][both]
            r, p = float("nan"), float("nan")
            if (i, j) in block:
                r, p = block[i, j]
            elif count >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
                result = spearmanr(x, y)
                r, p = float(result.statistic), float(result.pvalue)
            rho[i, j] = rho[j, i] = r
            n[i, j] = n[j, i] = count
            pairs.append((i, j, r, p, count))
    adjusted = holm(np.array([p for *_, p, _ in pairs], dtype=np.float64))
    relations = tuple(
        Relation(names[i], names[j], r, p, count, float(q))
        for (i, j, r, p, count), q in zip(pairs, adjusted, strict=True)
    )
    return Correlations(names=names, rho=rho, n=n, relations=relations)


def strongest(
    found: Correlations, *, top: int = 3, skip: frozenset[frozenset[str]] = frozenset()
) -> list[Relation]:
    """The ``top`` relations that pass the bar (``Relation.found``), strongest first, leaving
    out the pairs in ``skip`` (those related by construction)."""
    kept = [r for r in found.relations if r.found and frozenset((r.a, r.b)) not in skip]
    return sorted(kept, key=lambda r: -abs(r.rho))[:top]
