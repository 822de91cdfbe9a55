"""Sentiment classifier: corpus parsing, the model cache, labels on clear examples."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sklearn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import f1_score

from nlp import sentiment, sentiment_features
from nlp.sentiment import LABELS, Sentiment, SentimentClassifier, format_line
from tests.nlp.near_duplicates import near_duplicates, normalise

CUSTOMER_EVAL = Path(__file__).resolve().parents[1] / "data" / "sentiment_customer_eval.tsv"


def _copy_training_files(destination: Path) -> Path:
    for path in sentiment.training_files():
        target = destination / path.relative_to(sentiment.DATA_DIR)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return destination


def _fail_training(*args: object, **kwargs: object) -> SentimentClassifier:
    raise AssertionError("the model was retrained although a valid cache exists")


def _read_eval() -> list[tuple[str, str]]:
    rows = [line.split("\t", 1) for line in CUSTOMER_EVAL.read_text("utf-8").split("\n") if line]
    return [(label, text) for label, text in rows]


# --- corpus -------------------------------------------------------------------------------


def test_corpus_parses_every_line() -> None:
    corpus = sentiment.load_corpus()
    by_source: dict[str, list[sentiment.Example]] = {}
    for example in corpus:
        by_source.setdefault(example.source, []).append(example)
    # 1,000 lines per UCI file although imdb contains U+0085 (splitlines() would break it).
    for source in sentiment.UCI_FILES:
        labels = [e.label for e in by_source[source]]
        assert (labels.count("positive"), labels.count("negative")) == (500, 500), source
    sizes = {s: len(by_source[s]) for s in sentiment.VADER_FILES}
    assert sizes == {
        "vader_tweets": 4200,
        "vader_amazon": 3708,
        "vader_nyt": 5190,
        "vader_movies": 10605,
    }
    assert all(e.label in LABELS and e.text.strip() for e in corpus)
    assert not any("\r" in e.text or "\n" in e.text for e in corpus)
    assert any("\x85" in e.text for e in by_source["uci_imdb"])


def test_vader_thresholds() -> None:
    assert sentiment.vader_label(0.51) == "positive"
    assert sentiment.vader_label(0.5) == "neutral"
    assert sentiment.vader_label(-0.5) == "neutral"
    assert sentiment.vader_label(-0.51) == "negative"


def test_augmentation_is_small_and_the_eval_set_is_in_no_training_file() -> None:
    """The "never trained on" messages have no near-verbatim twin ("Awful." / "Awful.  ",
    "Great!" / "great") in the hand-written messages or in the UCI and VADER sets."""
    augmentation = sentiment.load_augmentation()
    assert 150 <= len(augmentation) <= 300
    assert {e.label for e in augmentation} == set(LABELS)
    trained = [normalise(e.text) for e in (*augmentation, *sentiment.load_corpus())]
    evaluated = [normalise(text) for _, text in _read_eval()]
    assert near_duplicates(evaluated, trained) == []


# --- cache ----------------------------------------------------------------------------------


def test_cache_key_changes_with_corpus(tmp_path: Path) -> None:
    data = _copy_training_files(tmp_path / "data")
    original = sentiment.corpus_fingerprint()
    assert sentiment.corpus_fingerprint(data) == original
    augmentation = data / sentiment.AUGMENTATION_FILE
    augmentation.write_bytes(augmentation.read_bytes() + b"positive\tsplendid\n")
    changed = sentiment.corpus_fingerprint(data)
    assert changed != original
    cache = tmp_path / "cache"
    assert sentiment.cache_path(cache, changed) != sentiment.cache_path(cache, original)
    assert sentiment.cache_path(cache) == sentiment.cache_path(cache, original)


def test_cache_key_changes_with_library_and_feature_versions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = sentiment.cache_key("f" * 64)
    monkeypatch.setattr(sklearn, "__version__", "0.0.1")
    after_sklearn = sentiment.cache_key("f" * 64)
    monkeypatch.setattr(sentiment_features, "FEATURE_VERSION", "test")
    after_features = sentiment.cache_key("f" * 64)
    assert len({before, after_sklearn, after_features}) == 3


def test_training_writes_one_cache_file(
    sentiment_classifier: SentimentClassifier, sentiment_cache_dir: Path
) -> None:
    files = sorted(p.name for p in sentiment_cache_dir.iterdir())
    assert files == [sentiment.cache_path(sentiment_cache_dir).name]  # no temporary leftovers


def test_cache_hit_does_not_retrain(
    sentiment_classifier: SentimentClassifier,
    sentiment_cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = sentiment.cache_path(sentiment_cache_dir)
    mtime = path.stat().st_mtime_ns
    monkeypatch.setattr(sentiment, "train", _fail_training)
    loaded = SentimentClassifier.load_or_train(sentiment_cache_dir)
    assert path.stat().st_mtime_ns == mtime
    texts = ["where is my refund?", "great service", "awful", "meh, it's fine I guess"]
    assert loaded.classify_many(texts) == sentiment_classifier.classify_many(texts)


def test_retrains_when_the_key_changes_and_drops_the_stale_file(
    sentiment_classifier: SentimentClassifier,
    sentiment_cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = tmp_path / sentiment.cache_path(sentiment_cache_dir).name
    shutil.copyfile(sentiment.cache_path(sentiment_cache_dir), old)
    calls: list[object] = []

    def fake_train(*args: object, **kwargs: object) -> SentimentClassifier:
        calls.append(args)
        return sentiment_classifier

    monkeypatch.setattr(sentiment, "train", fake_train)
    monkeypatch.setattr(sentiment, "corpus_fingerprint", lambda *a, **k: "changed corpus")
    SentimentClassifier.load_or_train(tmp_path)
    new = sentiment.cache_path(tmp_path)
    assert len(calls) == 1
    assert new != old
    assert [p.name for p in tmp_path.iterdir()] == [new.name]
    SentimentClassifier.load_or_train(tmp_path)  # now cached: no second training
    assert len(calls) == 1


def test_a_cache_of_the_previous_format_is_replaced(
    sentiment_classifier: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Format 1 was a joblib file; its key differs, so it is retrained once and removed.
    old = tmp_path / "sentiment-0123456789abcdef01234567.joblib"
    old.write_bytes(b"joblib payload of the previous format")
    monkeypatch.setattr(sentiment, "train", lambda *a, **k: sentiment_classifier)
    assert SentimentClassifier.load_or_train(tmp_path) is sentiment_classifier
    assert [p.name for p in tmp_path.iterdir()] == [sentiment.cache_path(tmp_path).name]


def test_corrupt_cache_is_rebuilt(
    sentiment_classifier: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sentiment.cache_path(tmp_path)
    path.write_bytes(b"not a pickle")
    monkeypatch.setattr(sentiment, "train", lambda *a, **k: sentiment_classifier)
    assert SentimentClassifier.load_or_train(tmp_path) is sentiment_classifier
    assert path.stat().st_size > 1000
    assert SentimentClassifier.load_or_train(tmp_path) is not sentiment_classifier


def test_failed_save_leaves_no_partial_file_and_is_not_fatal(
    sentiment_classifier: SentimentClassifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        sentiment_classifier.save(tmp_path / "model.joblib")
    assert list(tmp_path.iterdir()) == []
    # load_or_train still hands out the freshly trained model when it cannot cache it.
    monkeypatch.setattr(sentiment, "train", lambda *a, **k: sentiment_classifier)
    assert SentimentClassifier.load_or_train(tmp_path) is sentiment_classifier
    assert list(tmp_path.iterdir()) == []


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this product, it works perfectly", "positive"),
        ("Thank you so much for your help!", "positive"),
        ("This is the worst service I have ever had", "negative"),
        ("The delivery was late and the box was damaged", "negative"),
        # negation
        ("I'm not happy with the repair", "negative"),
        ("I am not happy at all with this", "negative"),
        ("it's not good", "negative"),
        ("I wouldn't recommend this to anyone", "negative"),
        ("not bad", "positive"),
        ("I have no complaints", "positive"),
        # emoji and emoticons
        ("😡", "negative"),
        ("👍", "positive"),
        (":(", "negative"),
        (":)", "positive"),
        # plain questions and requests
        ("where is my refund?", "neutral"),
        ("what time do you open?", "neutral"),
        ("can you send me the invoice?", "neutral"),
        ("Do you deliver on Saturdays?", "neutral"),
        ("Please call me tomorrow", "neutral"),
        # shouting and very short texts
        ("THIS IS THE WORST COMPANY EVER", "negative"),
        ("I LOVE IT", "positive"),
        ("terrible", "negative"),
        ("awesome", "positive"),
    ],
)
def test_clear_examples(sentiment_classifier: SentimentClassifier, text: str, label: str) -> None:
    result = sentiment_classifier.classify(text)
    assert result.label == label, result
    if label == "neutral":
        assert abs(result.score) < 0.5
    else:
        assert (result.score > 0) == (label == "positive")


def test_negation_flips_the_score(sentiment_classifier: SentimentClassifier) -> None:
    pairs = [("happy", "not happy"), ("good", "not good"), ("bad", "not bad")]
    for plain, negated in pairs:
        a = sentiment_classifier.classify(plain).score
        b = sentiment_classifier.classify(negated).score
        assert a * b < 0, (plain, a, negated, b)


def test_shouting_keeps_the_polarity(sentiment_classifier: SentimentClassifier) -> None:
    for text in ["this is terrible", "thank you so much", "worst experience ever"]:
        quiet = sentiment_classifier.classify(text)
        loud = sentiment_classifier.classify(text.upper() + "!!!")
        assert loud.label == quiet.label != "neutral"
        assert abs(loud.score) > 0.5


def test_customer_eval_set(sentiment_classifier: SentimentClassifier) -> None:
    rows = _read_eval()
    predicted = [s.label for s in sentiment_classifier.classify_many([t for _, t in rows])]
    gold = [label for label, _ in rows]
    assert len(rows) >= 90
    assert f1_score(gold, predicted, average="macro") >= 0.85


# --- API contract ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\t  "])
def test_empty_text_is_neutral(sentiment_classifier: SentimentClassifier, text: str) -> None:
    assert sentiment_classifier.classify(text) == Sentiment("neutral", 0.0, 1.0)


def test_classify_many_keeps_order_and_matches_classify(
    sentiment_classifier: SentimentClassifier,
) -> None:
    texts = ["awful", "", "lovely staff", "   ", "what's your address?"]
    batch = sentiment_classifier.classify_many(texts)
    assert batch == [sentiment_classifier.classify(t) for t in texts]
    assert [s.label for s in batch] == ["negative", "neutral", "positive", "neutral", "neutral"]
    assert sentiment_classifier.classify_many([]) == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_outputs_are_well_formed(sentiment_classifier: SentimentClassifier, text: str) -> None:
    result = sentiment_classifier.classify(text)
    assert result.label in LABELS
    assert -1.0 <= result.score <= 1.0
    assert 1 / 3 <= result.probability <= 1.0
    if result.label == "positive":
        assert result.score > 0
    if result.label == "negative":
        assert result.score < 0


def test_format_line() -> None:
    assert format_line(Sentiment("negative", -0.81234, 0.9)) == "negative\t-0.812"
    assert format_line(Sentiment("neutral", 0.0, 1.0)) == "neutral\t0.000"
