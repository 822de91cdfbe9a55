"""The per-customer features segments are built on: their names, how gaps are filled, and the
transform that makes them comparable (logs of counts and money, then z-scores)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Column order of every feature matrix (crm_store.segments reads them in this order).
FEATURES: tuple[str, ...] = (
    "recency_days",  # days since the last order
    "frequency",  # orders (returns excluded)
    "monetary",  # net revenue, cents
    "tenure_days",  # days since the customer joined or first ordered, whichever is earlier
    "aov",  # average order value, cents
    "breadth",  # distinct products bought (order lines)
    "sentiment",  # mean sentiment of what they said, [-1, 1]
    "csat",  # mean CSAT / feedback rating, 1-5
    "open_tickets",
    "breached_tickets",
    "loyalty",  # the latest loyalty score, 0-100
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}
# Heavy-tailed figures are compared on a log scale: 1 vs 3 orders matters, 101 vs 103 does not.
LOGGED: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "aov",
    "breadth",
    "open_tickets",
    "breached_tickets",
)
# A z-score beyond this is as far as one whale may pull a centre.
CLIP_Z = 4.0
NEUTRAL_CSAT = 3.0
NEUTRAL_LOYALTY = 50.0

Matrix = NDArray[np.float64]


def impute(raw: Matrix) -> Matrix:
    """A copy of ``raw`` (customers x FEATURES, NaN where a figure is missing) with the gaps filled:

    - never ordered: frequency, monetary and breadth are 0, which sets them apart already;
      recency and average order value are the buyers' medians, so they neither add to that nor
      drag the book's scales for those figures away from the buyers';
    - nothing said: sentiment 0 (neutral); no rating: the book's median CSAT (3 if nobody rated);
    - no tickets: 0; no loyalty score yet: the book's median score (50 if none);
    - tenure missing (no join date): the book's median tenure.
    """
    filled = np.array(raw, dtype=np.float64, copy=True)
    if filled.size == 0:
        return filled

    def column(name: str) -> NDArray[np.float64]:
        return filled[:, COLUMN[name]]

    for name in ("frequency", "monetary", "breadth", "sentiment", "open_tickets", "breached_tickets"):
        values = column(name)
        values[np.isnan(values)] = 0.0
    for name, fallback in (
        ("recency_days", 0.0),
        ("aov", 0.0),
        ("csat", NEUTRAL_CSAT),
        ("loyalty", NEUTRAL_LOYALTY),
        ("tenure_days", 0.0),
    ):
        values = column(name)
        missing = np.isnan(values)
        seen = values[~missing]
        values[missing] = float(np.median(seen)) if seen.size else fallback
    return filled


def transform(filled: Matrix) -> Matrix:
    """Logs of the heavy-tailed columns (negative money, from returns, counts as 0)."""
    out = np.array(filled, dtype=np.float64, copy=True)
    for name in LOGGED:
        i = COLUMN[name]
        out[:, i] = np.log1p(np.maximum(out[:, i], 0.0))
    return out


@dataclass(frozen=True, slots=True)
class Scaling:
    """Each transformed column's book mean and spread: a centre minus the mean over the spread is
    how far that segment stands from the book (its z-score)."""

    mean: Matrix
    scale: Matrix

    @classmethod
    def fit(cls, transformed: Matrix) -> Scaling:
        from sklearn.preprocessing import StandardScaler  # scikit-learn stays off the import path

        # A column everyone shares gets scale 1 from StandardScaler: it stays at 0, says nothing.
        scaler = StandardScaler().fit(transformed)
        return cls(
            mean=np.asarray(scaler.mean_, dtype=np.float64), scale=np.asarray(scaler.scale_, dtype=np.float64)
        )

    def apply(self, transformed: Matrix) -> Matrix:
        z = (transformed - self.mean) / self.scale
        np.clip(z, -CLIP_Z, CLIP_Z, out=z)
        return z
