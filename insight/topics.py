"""Topics in short texts (what customers ask for and complain about): TF-IDF, then NMF, the number
of topics chosen by silhouette, each topic labelled by its top words."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# Fewer texts than this carry no topics worth naming.
MIN_TEXTS = 30
K_RANGE = (2, 8)
TOP_WORDS = 4
# The model is fitted on at most this many texts (all are then assigned to a topic) and the
# silhouette measured on at most SILHOUETTE_SAMPLE of them: a report must answer in seconds.
FIT_SAMPLE = 5_000
SILHOUETTE_SAMPLE = 2_000
# Support-speak that says nothing about what a customer needs.
_EXTRA_STOP = frozenset(
    {
        "hello", "hi", "thanks", "thank", "please", "dear", "regards", "just", "like", "know",
        "want", "need", "got", "get", "would", "could", "also", "still", "really", "customer",
        "asked", "said", "today", "yesterday", "tomorrow", "week", "day", "days", "time",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Topic:
    words: tuple[str, ...]  # the top words, heaviest first

    @property
    def label(self) -> str:
        return ", ".join(self.words)


@dataclass(frozen=True, slots=True)
class TopicModel:
    topics: tuple[Topic, ...]
    # Per text: the index of its strongest topic, or -1 when it shares no word with any topic.
    assignment: NDArray[np.int64]
    # Per number of topics tried: the mean silhouette (cosine) of the texts grouped by their
    # strongest topic; the best is kept. Near 0: the texts hardly fall into topics at all.
    silhouette: dict[int, float]

    @property
    def k(self) -> int:
        return len(self.topics)


def _vectorize(texts: Sequence[str], *, min_df: int) -> tuple[Any, NDArray[np.str_]]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

    vectorizer = TfidfVectorizer(
        lowercase=True,
        token_pattern=r"(?u)\b[^\W\d_]{3,}\b",  # words of three letters or more; no numbers
        stop_words=sorted(ENGLISH_STOP_WORDS | _EXTRA_STOP),
        min_df=min_df,
        max_df=0.5,
        max_features=5_000,
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no word left after stop words and min_df: nothing to find topics in
        return None, np.array([], dtype=np.str_)
    return matrix, vectorizer.get_feature_names_out()


def _fit(matrix: Any, k: int, seed: int) -> NDArray[np.float64]:
    """NMF topics (k x vocabulary), each row scaled to unit length."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    model = NMF(n_components=k, init="nndsvdar", random_state=seed, max_iter=300, tol=1e-4)
    with warnings.catch_warnings():
        # A fit stopped at max_iter still compares fairly between numbers of topics.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(matrix)
    components = np.asarray(model.components_, dtype=np.float64)
    norms = np.linalg.norm(components, axis=1, keepdims=True)
    return components / np.where(norms == 0, 1.0, norms)


def _assign(matrix: Any, components: NDArray[np.float64]) -> NDArray[np.int64]:
    weights = np.asarray(matrix @ components.T)
    return np.where(weights.max(axis=1) > 0, weights.argmax(axis=1), -1).astype(np.int64)


def find_topics(
    texts: Sequence[str],
    *,
    k_range: tuple[int, int] = K_RANGE,
    top_words: int = TOP_WORDS,
    seed: int = 0,
) -> TopicModel | None:
    """Topics of ``texts``; None when fewer than MIN_TEXTS texts have words to go on. Each
    number of topics in ``k_range`` is fitted and the texts grouped by their strongest topic;
    the number whose groups are tightest and best apart (highest silhouette) is kept: too few
    topics lump unrelated texts together, too many split one subject in two."""
    from sklearn.metrics import silhouette_score

    n = len(texts)
    if n < MIN_TEXTS:
        return None
    matrix, vocabulary = _vectorize(texts, min_df=2 if n < 2_000 else 3)
    if matrix is None:
        return None
    worded = np.flatnonzero(np.asarray(matrix.getnnz(axis=1)) > 0)
    low, high = k_range
    high = min(high, len(vocabulary) // 2, len(worded) // 5)
    if len(worded) < MIN_TEXTS or high < low:
        return None
    rng = np.random.default_rng(seed)
    fit_rows = worded if len(worded) <= FIT_SAMPLE else np.sort(rng.choice(worded, FIT_SAMPLE, replace=False))
    fit_matrix = matrix[fit_rows]
    probe = np.arange(len(fit_rows))
    if len(probe) > SILHOUETTE_SAMPLE:
        probe = np.sort(rng.choice(probe, SILHOUETTE_SAMPLE, replace=False))
    scores: dict[int, float] = {}
    fits: dict[int, NDArray[np.float64]] = {}
    for k in range(low, high + 1):
        fits[k] = _fit(fit_matrix, k, seed)
        labels = _assign(fit_matrix[probe], fits[k])
        kept = labels >= 0
        groups = len(set(labels[kept].tolist()))
        scores[k] = (
            float(silhouette_score(fit_matrix[probe][kept], labels[kept], metric="cosine"))
            if 2 <= groups < kept.sum()
            else -1.0
        )
    k = max(scores, key=lambda k: (scores[k], -k))  # a tie goes to fewer topics
    components = fits[k]
    topics = tuple(
        Topic(tuple(str(vocabulary[i]) for i in np.argsort(-row)[:top_words] if row[i] > 0))
        for row in components
    )
    return TopicModel(topics=topics, assignment=_assign(matrix, components), silhouette=scores)
