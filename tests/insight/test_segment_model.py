"""The segment model recovers planted groups, chooses their number, and repeats itself."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from insight.segment_features import COLUMN, FEATURES, impute
from insight.segment_model import TooFewCustomers, fit_segments
from tests.insight.planted import planted_book

SIZES = {"champions": 300, "slipping": 200, "new": 400, "leads": 600}


def test_planted_segments_are_recovered_with_their_number() -> None:
    raw, truth, _ = planted_book(SIZES)
    fit = fit_segments(raw)
    assert fit.k == 4
    assert adjusted_rand_score(truth, fit.labels) > 0.95
    assert fit.sizes.tolist() == sorted(SIZES.values(), reverse=True)  # largest first
    assert max(fit.silhouettes, key=lambda k: fit.silhouettes[k]) == 4


def test_same_data_same_segments() -> None:
    raw, _, _ = planted_book(SIZES)
    first, second = fit_segments(raw), fit_segments(raw)
    assert np.array_equal(first.labels, second.labels)
    assert np.allclose(first.z, second.z)


def test_centres_are_z_scores_against_the_book() -> None:
    raw, truth, groups = planted_book(SIZES)
    fit = fit_segments(raw)
    champions = np.bincount(fit.labels[truth == groups.index("champions")]).argmax()
    assert fit.z[champions, COLUMN["frequency"]] > 1.0
    assert fit.z[champions, COLUMN["sentiment"]] > 0.5
    # size-weighted centres average to the book's mean, which is 0 in z-scores (before clipping)
    assert np.allclose((fit.z * fit.sizes[:, None]).sum(axis=0) / fit.sizes.sum(), 0.0, atol=0.05)


def test_gaps_are_filled_as_documented() -> None:
    raw = np.full((3, len(FEATURES)), np.nan)
    raw[0, COLUMN["recency_days"]] = 10
    raw[1, COLUMN["recency_days"]] = 30
    raw[:2, COLUMN["csat"]] = [4, 5]
    filled = impute(raw)
    assert filled[2, COLUMN["recency_days"]] == 20  # buyers' median
    assert filled[2, COLUMN["frequency"]] == 0
    assert filled[2, COLUMN["sentiment"]] == 0
    assert filled[2, COLUMN["csat"]] == 4.5
    assert filled[2, COLUMN["loyalty"]] == 50  # nobody scored: neutral
    assert not np.isnan(filled).any()


def test_too_few_or_identical_customers_are_refused() -> None:
    raw, _, _ = planted_book({"champions": 5, "new": 5})
    with pytest.raises(TooFewCustomers):
        fit_segments(raw)
    same = np.zeros((50, len(FEATURES)))
    with pytest.raises(TooFewCustomers):
        fit_segments(same)


def test_large_books_use_minibatch_and_still_recover(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("insight.segment_model.MINIBATCH_ABOVE", 500)
    raw, truth, _ = planted_book(SIZES, seed=9)
    fit = fit_segments(raw)
    assert adjusted_rand_score(truth, fit.labels) > 0.9
