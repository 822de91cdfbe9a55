"""The compiled sentiment scorer gives the scikit-learn pipeline's labels and scores."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlp import sentiment, sentiment_scorer
from nlp.sentiment import SentimentClassifier
from nlp.sentiment_scorer import SentimentScorer

CUSTOMER_EVAL = Path(__file__).resolve().parents[1] / "data" / "sentiment_customer_eval.tsv"
TOLERANCE = 1e-9

_PIECES = [
    "not",
    "never",
    "no",
    "isn't",
    "but",
    "however",
    "very",
    "so",
    "hardly",
    "barely",
    "kinda",
    "would",
    "like",
    "I'd like",
    "please",
    "can you",
    "what",
    "good",
    "bad",
    "terrible",
    "love",
    "great",
    "refund",
    "late",
    "?",
    "!",
    "!!!",
    ".",
    ",",
    ":)",
    ":(",
    "xD",
    "<3",
    "😡",
    "👍🏻",
    "❤️",
    "😂",
    "http://x.io/a",
    "@ann",
    "&amp;",
    "&quest;",
    "sooo",
    "GREAT",
    "WORST",
    "Σ",
    "é",
    "日本",
    "\U0001f600",
    "\ud800",
    "\x00",
    " ",
    "  ",
    "\t",
    "\n",
    "\x85",
    "\u2028",
]
_WORDY_TEXT = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=8)), max_size=40).map(
    lambda parts: " ".join(parts) if len(parts) % 2 else "".join(parts)
)


def _eval_texts() -> list[str]:
    lines = CUSTOMER_EVAL.read_text("utf-8").split("\n")
    return [line.split("\t", 1)[1] for line in lines if line]


@pytest.fixture(scope="module")
def scorer(sentiment_classifier: SentimentClassifier) -> SentimentScorer:
    """One scorer for many examples, so later ones also run on remembered words."""
    return SentimentScorer(sentiment_classifier.pipeline)


def _assert_same(scorer: SentimentScorer, pipeline: Any, texts: list[str]) -> None:
    expected = pipeline.predict_proba(texts)
    got = scorer.probabilities(texts)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def test_same_probabilities_as_the_pipeline_on_eval_and_corpus_texts(
    sentiment_classifier: SentimentClassifier,
) -> None:
    corpus = [e.text for e in random.Random(3).sample(sentiment.load_corpus(), 3000)]
    texts = _eval_texts() + corpus  # more than one chunk
    assert len(texts) > sentiment_scorer.CHUNK
    scorer = SentimentScorer(sentiment_classifier.pipeline)
    _assert_same(scorer, sentiment_classifier.pipeline, texts)
    _assert_same(scorer, sentiment_classifier.pipeline, texts)  # every word now remembered


def test_same_labels_and_scores_through_the_classifier(sentiment_classifier: SentimentClassifier) -> None:
    texts = [*_eval_texts(), "", "   ", "ok"]
    fast = sentiment_classifier.classify_many(texts)
    reference = sentiment_classifier.classify_many_by_pipeline(texts)
    assert [s.label for s in fast] == [s.label for s in reference]
    for a, b in zip(fast, reference, strict=True):
        assert a.score == pytest.approx(b.score, abs=TOLERANCE)
        assert a.probability == pytest.approx(b.probability, abs=TOLERANCE)
    assert [sentiment_classifier.classify(t) for t in texts] == fast


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.one_of(_WORDY_TEXT, st.text(max_size=300)), min_size=1, max_size=6))
def test_same_probabilities_on_generated_text(
    sentiment_classifier: SentimentClassifier, scorer: SentimentScorer, texts: list[str]
) -> None:
    # Unicode of every plane, lone surrogates, emoji, entities, empty and whitespace-only text.
    _assert_same(scorer, sentiment_classifier.pipeline, texts)
    # One at a time (words now remembered) the figures are the batch's, to the last bit.
    alone = np.vstack([scorer.probabilities([text]) for text in texts])
    assert np.array_equal(alone, scorer.probabilities(texts))


def test_very_long_text(sentiment_classifier: SentimentClassifier) -> None:
    rng = random.Random(5)
    words = [w for line in _eval_texts() for w in line.split()]
    texts = [" ".join(rng.choices(words, k=4000)), "not " * 3000 + "good", "😡" * 5000, "a" * 20000]
    _assert_same(SentimentScorer(sentiment_classifier.pipeline), sentiment_classifier.pipeline, texts)


def test_empty_batch(sentiment_classifier: SentimentClassifier) -> None:
    assert SentimentScorer(sentiment_classifier.pipeline).probabilities([]).shape == (0, 3)


def test_word_memory_stays_bounded_and_answers_stay_the_same(
    sentiment_classifier: SentimentClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sentiment_scorer, "WORD_MEMORY", 50)
    scorer = SentimentScorer(sentiment_classifier.pipeline)
    texts = _eval_texts()
    expected = sentiment_classifier.pipeline.predict_proba(texts)
    for start in range(0, len(texts), 5):
        got = scorer.probabilities(texts[start : start + 5])
        np.testing.assert_allclose(got, expected[start : start + 5], rtol=0, atol=TOLERANCE)
        assert len(scorer._memory) <= 50 + 5 * 20  # the bound plus one batch's new words


def test_a_pipeline_it_cannot_reproduce_is_refused(sentiment_classifier: SentimentClassifier) -> None:
    pipeline = copy.deepcopy(sentiment_classifier.pipeline)
    chars = dict(pipeline.named_steps["features"].transformer_list)["chars"]
    chars.set_params(analyzer="char")  # n-grams across word boundaries: not what it compiles
    with pytest.raises(ValueError, match="char_wb"):
        SentimentScorer(pipeline)


def test_a_cached_model_that_does_not_compile_is_retrained(
    sentiment_classifier: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sentiment_classifier.save(sentiment.cache_path(tmp_path))
    calls: list[object] = []

    def incompatible(pipeline: object) -> SentimentScorer:
        calls.append(pipeline)
        raise ValueError("cannot compile the sentiment pipeline: changed library")

    monkeypatch.setattr(sentiment, "SentimentScorer", incompatible)
    monkeypatch.setattr(sentiment, "train", lambda *a, **k: sentiment_classifier)
    assert SentimentClassifier.load_or_train(tmp_path) is sentiment_classifier
    assert len(calls) == 1
