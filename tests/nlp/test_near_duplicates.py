"""tests/nlp/near_duplicates.py: what counts as seen in training, and what does not."""

from __future__ import annotations

import pytest

from tests.nlp.near_duplicates import NAME, NearDuplicate, near_duplicates, normalise


def test_normalise_folds_case_quotes_punctuation_spacing_and_numbers() -> None:
    assert normalise("What’s  open for #57?!") == "what s open for 0"
    assert normalise("Ticket 1024 DONE.") == normalise("ticket #3 done") == "ticket 0 done"
    assert normalise("🍕🍕🍕") == "🍕🍕🍕" and normalise("?") == "?"  # nothing but symbols: kept


def test_names_are_masked_as_whole_words_longest_first() -> None:
    assert normalise("show Blue Yonder Airlines", names=["blue yonder", "Blue Yonder Airlines"]) == (
        f"show {NAME}"
    )
    assert normalise("invite acme", names=["acme"]) == normalise("invite globex", names=["globex"])
    assert normalise("acmecorp and acme", names=["acme"]) == f"acmecorp and {NAME}"


@pytest.mark.parametrize(
    ("evaluated", "trained"),
    [
        ("Awful.", "Awful.  "),  # punctuation and spacing
        ("Great!", "great"),  # case
        ("show ticket 57", "show ticket 150"),  # another number
        ("my remindrs", "my reminders"),  # a typo
        ("loyalty report", "report loyalty"),  # word order
        ("in 45 minutes remind me to email globex", "remind me to email globex in 45 minutes"),
    ],
)
def test_copies_with_small_changes_are_near_duplicates(evaluated: str, trained: str) -> None:
    pool = [normalise("something else entirely"), normalise(trained)]
    found = near_duplicates([normalise(evaluated)], pool)
    assert [(d.evaluated, d.trained) for d in found] == [(normalise(evaluated), normalise(trained))]
    assert found[0].score >= 90


def test_different_phrasings_are_not() -> None:
    trained = [normalise(t) for t in ("where is my order?", "show ticket 150", "who is at risk")]
    evaluated = [normalise(t) for t in ("has my parcel shipped yet", "what's going on with ticket 58")]
    assert near_duplicates(evaluated, trained) == []


def test_each_match_names_the_closest_training_text() -> None:
    found = near_duplicates(["send me the digest"], ["send the digest", "send me the digest"])
    assert found == [NearDuplicate("send me the digest", "send me the digest", 100.0)]
