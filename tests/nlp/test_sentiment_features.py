"""Sentiment text preparation: unchanged output, and each shortcut equal to the long way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlp import sentiment, sentiment_features
from nlp.sentiment_features import normalise, normalise_word, prepare, prepare_many, unescape

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "sentiment_features_golden.jsonl"

# Pieces that reach every branch of normalisation: entities, URLs, mentions, emoticons,
# emoji with modifiers, elongation, final sigma, whitespace of every kind.
_PIECES = [
    "&amp;",
    "&quest;",
    "&#133;",
    "&nbsp;",
    "&ampx",
    "http://a.b/c?d",
    "www.",
    "WwW.x",
    "@bob",
    ":)",
    ":-(",
    ":'(",
    ";P",
    "=]",
    ">:(",
    "</3",
    "<3",
    "^_^",
    "-_-",
    "T_T",
    "(:",
    "xD",
    "XD",
    "😀",
    "😡",
    "👍🏻",
    "❤️",
    "\u200d",
    "\ufe0f",
    "ΣΑΣ",
    "İ",
    "sooo",
    "!!!",
    "?",
    "n't",
    "not",
    "but",
    "very",
    "hardly",
    "would like",
    "can you",
    " ",
    "\t",
    "\n",
    "\x85",
    "\u2000",
    "\u2028",
    "a",
    "Z",
    "é",
    "_",
    "/",
    "’",
    "'",
]
_TEXTS = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=25).map("".join)


@pytest.fixture(scope="module")
def lexicon() -> dict[str, float]:
    return sentiment_features.load_lexicon(sentiment.DATA_DIR / sentiment.LEXICON_FILE)


def test_prepared_features_are_those_the_model_was_built_on(lexicon: dict[str, float]) -> None:
    # Recorded with the whole-text implementation that trained the cached models; equal
    # output is what lets FEATURE_VERSION (part of the cache key) stay the same.
    rows = [json.loads(line) for line in GOLDEN.read_text("utf-8").splitlines()]
    assert len(rows) >= 80
    prepared = prepare_many([row["text"] for row in rows], lexicon)
    for row, got in zip(rows, prepared, strict=True):
        expected = (row["normalised"], row["words"], row["dense"])
        assert (got.text, got.words, got.dense) == expected, row["text"]


@settings(max_examples=300, deadline=None)
@given(word=st.text(min_size=1, max_size=12).filter(lambda w: w.split() == [w]))
def test_plain_word_shortcut_equals_the_full_normalisation(word: str) -> None:
    assert normalise_word(word) == sentiment_features._normalise_markup(word)


@settings(max_examples=150, deadline=None)
@given(text=_TEXTS)
def test_normalising_word_by_word_matches_whole_text_patterns(text: str) -> None:
    # The whole-text form: every substitution over the unescaped text at once.
    whole = unescape(text)
    joined, n_pos, n_neg = sentiment_features._normalise_markup(whole)
    assert normalise(text) == (" ".join(joined), n_pos, n_neg)


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(_TEXTS, max_size=5))
def test_prepare_many_is_prepare_per_text(texts: list[str], lexicon: dict[str, float]) -> None:
    assert prepare_many(texts, lexicon) == [prepare(text, lexicon) for text in texts]


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("AaBZz1 _-!\t\x1c\x0bÉéǅΣ")), max_size=30))
def test_shouted_word_count_shortcut(text: str) -> None:
    expected = sum(1 for w in text.split() if len(w) >= 2 and w.isalpha() and w.isupper())
    assert sentiment_features._shouted_words(text) == expected
