"""Customer segments by KMeans on scaled features: k chosen by silhouette on a sample (2-8),
MiniBatchKMeans over large books, a fixed random state, and segments ordered by size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from insight.segment_features import Matrix, Scaling, impute, transform

K_MIN, K_MAX = 2, 8
RANDOM_STATE = 20261123
# Books above this size are clustered by MiniBatchKMeans (full KMeans passes get slow).
MINIBATCH_ABOVE = 50_000
# k is chosen on this many customers (fitted), scored by silhouette on SILHOUETTE_SAMPLE of them.
CHOOSE_SAMPLE = 10_000
SILHOUETTE_SAMPLE = 3_000
# Fewer customers than this cannot be segmented meaningfully.
MIN_CUSTOMERS = 20
BATCH_SIZE = 4_096
# Native threads for the clustering. One: the nightly job shares the machine with the bot, and
# on a busy machine OpenMP's spinning threads made choosing k seven times slower (18 s vs 2.6 s).
THREADS = 1


class TooFewCustomers(ValueError):
    """The book is too small (or too uniform) to split into segments."""


@dataclass(frozen=True, slots=True)
class SegmentFit:
    """One clustering of the book. Segment j is the j-th largest."""

    labels: NDArray[np.int64]  # per customer, 0..k-1
    z: Matrix  # k x features: each centre's z-scores against the book
    medians: Matrix  # k x features: each segment's median of the raw (filled) figures
    sizes: NDArray[np.int64]
    silhouettes: dict[int, float]  # k -> silhouette on the sample
    scaling: Scaling

    @property
    def k(self) -> int:
        return int(self.sizes.shape[0])


def _kmeans(k: int, *, n: int, init: Matrix | None = None) -> object:
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n > MINIBATCH_ABOVE:
        return MiniBatchKMeans(
            n_clusters=k,
            init="k-means++" if init is None else init,
            n_init=3 if init is None else 1,
            batch_size=BATCH_SIZE,
            random_state=RANDOM_STATE,
            max_no_improvement=20,
        )
    return KMeans(
        n_clusters=k,
        init="k-means++" if init is None else init,
        n_init=4 if init is None else 1,
        random_state=RANDOM_STATE,
    )


def choose_k(x: Matrix, *, k_min: int = K_MIN, k_max: int = K_MAX) -> tuple[int, dict[int, float], Matrix]:
    """The k with the best silhouette on a sample of ``x``, every k's score, and that k's
    centres on the sample (the full fit starts from them)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(RANDOM_STATE)
    sample = x if x.shape[0] <= CHOOSE_SAMPLE else x[rng.choice(x.shape[0], CHOOSE_SAMPLE, replace=False)]
    distinct = np.unique(sample, axis=0).shape[0]
    k_max = min(k_max, distinct - 1, sample.shape[0] - 1)
    if k_max < k_min:
        raise TooFewCustomers("the customers' figures are too alike to split into segments")
    scores: dict[int, float] = {}
    centres: dict[int, Matrix] = {}
    for k in range(k_min, k_max + 1):
        model = KMeans(n_clusters=k, n_init=4, random_state=RANDOM_STATE).fit(sample)
        labels = model.labels_
        if np.unique(labels).shape[0] < 2:
            continue
        scores[k] = float(
            silhouette_score(
                sample,
                labels,
                sample_size=min(SILHOUETTE_SAMPLE, sample.shape[0]),
                random_state=RANDOM_STATE,
            )
        )
        centres[k] = np.asarray(model.cluster_centers_, dtype=np.float64)
    if not scores:
        raise TooFewCustomers("the customers' figures are too alike to split into segments")
    best = max(scores, key=lambda k: (round(scores[k], 6), -k))  # a tie goes to fewer segments
    return best, scores, centres[best]


def fit_segments(raw: Matrix, *, k: int | None = None) -> SegmentFit:
    """Segments of the customers in ``raw`` (customers x FEATURES, NaN for missing figures).
    ``k`` fixes the number of segments; by default the silhouette chooses it."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=THREADS):
        return _fit(raw, k=k)


def _fit(raw: Matrix, *, k: int | None) -> SegmentFit:
    n = raw.shape[0]
    if n < MIN_CUSTOMERS:
        raise TooFewCustomers(f"{n} customers are too few to segment (at least {MIN_CUSTOMERS} needed)")
    filled = impute(raw)
    transformed = transform(filled)
    scaling = Scaling.fit(transformed)
    x = scaling.apply(transformed)
    del transformed
    if k is None:
        k, scores, start = choose_k(x)
    else:
        _, scores, _ = choose_k(x, k_min=k, k_max=k)
        start = None
    model = _kmeans(k, n=n, init=start).fit(x)  # type: ignore[attr-defined]
    labels = np.asarray(model.predict(x), dtype=np.int64)
    return _summarise(x, filled, labels, k=k, scores=scores, scaling=scaling)


def _summarise(
    x: Matrix,
    filled: Matrix,
    labels: NDArray[np.int64],
    *,
    k: int,
    scores: dict[int, float],
    scaling: Scaling,
) -> SegmentFit:
    """Centres as z-scores (means of the scaled figures), medians of the raw ones, segments
    renumbered largest first (ties: by centre), empty ones dropped."""
    sizes = np.bincount(labels, minlength=k)
    sums = np.vstack([np.bincount(labels, weights=x[:, f], minlength=k) for f in range(x.shape[1])]).T
    z: Matrix = sums / np.maximum(sizes, 1)[:, None]
    kept = [j for j in range(k) if sizes[j] > 0]
    order = sorted(kept, key=lambda j: (-int(sizes[j]), tuple(np.round(z[j], 9))))
    remap = np.full(k, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    labels = remap[labels]
    by_segment = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[by_segment], np.arange(len(order) + 1))
    medians = np.vstack(
        [np.median(filled[by_segment[bounds[j] : bounds[j + 1]]], axis=0) for j in range(len(order))]
    )
    return SegmentFit(
        labels=labels,
        z=z[order],
        medians=medians,
        sizes=sizes[order].astype(np.int64),
        silhouettes=scores,
        scaling=scaling,
    )
