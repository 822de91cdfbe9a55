"""Segment names: what sets a centre apart, unique, and kept across runs."""

from __future__ import annotations

import numpy as np

from insight.segment_features import COLUMN, FEATURES
from insight.segment_model import fit_segments
from insight.segment_names import PreviousSegment, describe, match_previous, name_segments
from tests.insight.planted import planted_book

SIZES = {"champions": 300, "slipping": 200, "new": 400, "leads": 600}


def _named() -> tuple[dict[str, str], list[str]]:
    raw, truth, groups = planted_book(SIZES)
    fit = fit_segments(raw)
    names = name_segments(fit.z, fit.medians)
    by_group = {g: names[np.bincount(fit.labels[truth == i]).argmax()].name for i, g in enumerate(groups)}
    return by_group, [n.description for n in names]


def test_planted_groups_get_the_names_a_rep_would_give() -> None:
    by_group, descriptions = _named()
    assert by_group == {
        "champions": "Champions",
        "slipping": "Slipping big spenders",
        "new": "New customers",
        "leads": "Leads who never ordered",
    }
    assert any(
        "nothing for 4 months" in d and "large baskets" in d and "open tickets" in d for d in descriptions
    )


def test_names_are_unique_even_for_alike_centres() -> None:
    z = np.zeros((8, len(FEATURES)))
    z[:, COLUMN["frequency"]] = np.linspace(1, 1.1, 8)
    names = name_segments(z, np.ones_like(z))
    assert len({n.name for n in names}) == 8
    assert len({n.slug for n in names}) == 8


def test_a_matched_centre_keeps_its_old_name() -> None:
    raw, _, _ = planted_book(SIZES)
    fit = fit_segments(raw)
    previous = [
        PreviousSegment(slug=f"old-{j}", name=f"Old {j}", z=list(fit.z[j] + 0.1)) for j in range(fit.k)
    ]
    # a new run on a slightly different book (5% of customers gone) keeps every name
    rng = np.random.default_rng(1)
    again = fit_segments(raw[rng.random(raw.shape[0]) > 0.05])
    names = name_segments(again.z, again.medians, previous)
    assert [n.name for n in names] == [f"Old {j}" for j in range(fit.k)]
    assert all(n.kept for n in names)


def test_a_centre_far_from_every_old_one_is_named_afresh() -> None:
    z = np.zeros((2, len(FEATURES)))
    z[0, COLUMN["monetary"]] = 2
    z[1, COLUMN["frequency"]] = -2
    previous = [PreviousSegment("champions", "Champions", [0.0] * len(FEATURES))]
    previous[0].z[COLUMN["monetary"]] = 2.2  # type: ignore[index]
    assert match_previous(z, previous) == {0: previous[0]}
    names = name_segments(z, np.ones_like(z), previous)
    assert names[0].name == "Champions" and names[0].kept
    assert names[1].name != "Champions" and not names[1].kept


def test_description_of_an_average_segment_says_so() -> None:
    assert (
        describe([0.1] * len(FEATURES), [1.0] * len(FEATURES))
        == "close to the book's average on every figure"
    )


def test_only_a_segment_that_never_ordered_is_called_leads() -> None:
    z = np.zeros((2, len(FEATURES)))
    z[0, COLUMN["tenure_days"]] = -1.0  # recent records that never ordered look "new"
    z[0, COLUMN["frequency"]] = -0.9
    z[1, COLUMN["frequency"]] = -1.5  # rarely order, but they did
    medians = np.ones_like(z)
    medians[0, COLUMN["frequency"]] = 0
    names = name_segments(z, medians)
    assert names[0].name == "Leads who never ordered"
    assert names[1].name != "Leads who never ordered"
