"""A book of customers in planted groups with known profiles, for the segment model tests."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from insight.segment_features import COLUMN, FEATURES

# group -> (recency days, orders, average order cents, tenure days, breadth, sentiment, csat,
#           open tickets, breached tickets, loyalty); NaN: missing (never ordered, never rated)
NAN = float("nan")
PROFILES: dict[str, tuple[float, ...]] = {
    "champions": (8, 24, 9_000, 900, 18, 0.6, 4.8, 0, 0, 88),
    "slipping": (130, 9, 40_000, 700, 6, -0.5, 2.0, 2, 1, 30),
    "new": (6, 1, 3_000, 14, 2, NAN, NAN, 0, 0, 50),
    "leads": (NAN, 0, NAN, 300, 0, NAN, NAN, 0, 0, 20),
}


def planted_book(
    sizes: dict[str, int], *, seed: int = 5
) -> tuple[NDArray[np.float64], NDArray[np.int64], list[str]]:
    """(raw features, true group per customer, group names), rows shuffled."""
    rng = np.random.default_rng(seed)
    blocks, truth = [], []
    groups = list(sizes)
    for g, group in enumerate(groups):
        n = sizes[group]
        recency, orders, aov, tenure, breadth, sentiment, csat, open_n, breached, loyalty = PROFILES[group]
        block = np.full((n, len(FEATURES)), np.nan)

        def noisy(centre: float, n: int = n) -> NDArray[np.float64]:
            return centre * rng.lognormal(0.0, 0.25, n)

        if not np.isnan(recency):
            block[:, COLUMN["recency_days"]] = noisy(recency)
        block[:, COLUMN["frequency"]] = np.round(noisy(orders)) if orders else 0
        if not np.isnan(aov):
            block[:, COLUMN["aov"]] = noisy(aov)
            block[:, COLUMN["monetary"]] = block[:, COLUMN["aov"]] * np.maximum(
                block[:, COLUMN["frequency"]], 1
            )
        block[:, COLUMN["tenure_days"]] = noisy(tenure)
        block[:, COLUMN["breadth"]] = np.round(noisy(breadth)) if breadth else 0
        if not np.isnan(sentiment):
            block[:, COLUMN["sentiment"]] = np.clip(sentiment + rng.normal(0, 0.15, n), -1, 1)
        if not np.isnan(csat):
            block[:, COLUMN["csat"]] = np.clip(csat + rng.normal(0, 0.3, n), 1, 5)
        block[:, COLUMN["open_tickets"]] = rng.poisson(open_n, n)
        block[:, COLUMN["breached_tickets"]] = rng.poisson(breached, n)
        block[:, COLUMN["loyalty"]] = np.clip(loyalty + rng.normal(0, 5, n), 0, 100)
        blocks.append(block)
        truth.extend([g] * n)
    raw = np.vstack(blocks)
    order = rng.permutation(raw.shape[0])
    return raw[order], np.asarray(truth, dtype=np.int64)[order], groups
