"""Character n-gram columns: the same grams, counted the same, as sklearn's char_wb analyser."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import CountVectorizer

from nlp.char_ngrams import CharNgramColumns

_FIT = [
    "the delivery was late and the box was damaged",
    "great service, thank you so much!!",
    "où est ma commande? très déçu 😡",
    "a b c ab bc abc abcd abcde",
]
_WORDS = st.lists(
    st.one_of(
        st.sampled_from(["the", "late", "a", "ab", "abcde", "déçu", "!!", "😡", "thank", "xyz"]),
        st.text(min_size=1, max_size=9),
    ).filter(lambda w: w.split() == [w]),
    max_size=60,
)


@pytest.fixture(scope="module", params=[(2, 5), (1, 3), (3, 4)])
def fitted(request: pytest.FixtureRequest) -> tuple[CountVectorizer, CharNgramColumns]:
    vectoriser = CountVectorizer(analyzer="char_wb", ngram_range=request.param, lowercase=False)
    vectoriser.fit(_FIT)
    return vectoriser, CharNgramColumns(vectoriser.vocabulary_, request.param)


def _expected(vectoriser: CountVectorizer, words: list[str]) -> list[Counter[int]]:
    analyse = vectoriser.build_analyzer()
    vocabulary = vectoriser.vocabulary_
    return [Counter(vocabulary[g] for g in analyse(word) if g in vocabulary) for word in words]


def _per_word(found: tuple[np.ndarray, np.ndarray], n: int) -> list[Counter[int]]:
    words, columns = found
    counts: list[Counter[int]] = [Counter() for _ in range(n)]
    for word, column in zip(words.tolist(), columns.tolist(), strict=True):
        counts[word][column] += 1
    return counts


@settings(max_examples=200, deadline=None)
@given(words=_WORDS)
def test_both_ways_find_sklearns_grams(
    fitted: tuple[CountVectorizer, CharNgramColumns], words: list[str]
) -> None:
    vectoriser, columns = fitted
    expected = _expected(vectoriser, words)
    assert [Counter(columns.columns_of(word)) for word in words] == expected
    assert _per_word(columns.columns(words), len(words)) == expected


def test_a_range_it_cannot_slide_is_refused() -> None:
    with pytest.raises(ValueError, match="min_n"):
        CharNgramColumns({" abcd": 0}, (4, 5))
