"""Benchmark the sentiment classifier against VADER and its own sklearn pipeline; prints one JSON object.

Held-out split: 20 % of the public corpus (UCI + VADER ground truth), stratified by source
and label with a fixed seed; ours trains on the other 80 % plus the hand-written customer
messages. Three-class scores use the VADER sets (the only ones with a neutral class);
binary scores use every held-out text with a non-neutral label, predicting positive when
the score (ours: P(pos) - P(neg); VADER: compound) is >= 0 for both models. The customer
eval file (tests/data/sentiment_customer_eval.tsv) is never trained on.

Speed: the classifier scores texts through the pipeline compiled into a direct scorer;
the baseline, measured in the same run on the same model and texts, is the scikit-learn
pipeline itself (``classify_many_by_pipeline``, how every text was scored before). Each
figure is the median of ``--rounds`` rounds, the two paths taking turns:
- batched: every held-out text in one call. "cold" starts from a freshly loaded model
  (no word seen yet, as after a restart); "warm" repeats the call (every word known).
- single: one call per text over the first ``--single`` held-out texts; p50 / p99 latency
  in milliseconds, from a freshly loaded model (it learns each word as it first meets it)
  and from the warm one.
- load: reading the cached model and compiling it (``SentimentClassifier.load_or_train`` on
  a warm cache); the baseline is the joblib cache of the previous format.
The figures also carry how many held-out labels differ between the two paths (must be 0)
and the largest score difference.

Run from the repository root: ``.venv/bin/python bench/sentiment.py [--rounds 3 --single 1000]``
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from nlp import sentiment, sentiment_features  # noqa: E402
from nlp.sentiment import Sentiment, SentimentClassifier  # noqa: E402

SEED = 20240611
TEST_SIZE = 0.2
CUSTOMER_EVAL = ROOT / "tests" / "data" / "sentiment_customer_eval.tsv"


def _vader_label(compound: float) -> str:
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def _scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(float(f1_score(gold, predicted, average="macro")), 4),
    }


def _seconds(func: Callable[[], object]) -> float:
    started = time.perf_counter()
    func()
    return time.perf_counter() - started


def _latencies_ms(classify: Callable[[str], Sentiment], texts: Sequence[str]) -> list[float]:
    latencies = []
    for text in texts:
        started = time.perf_counter()
        classify(text)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(float(np.percentile(values, 50)), 4),
        "p99": round(float(np.percentile(values, 99)), 4),
    }


def _accuracy(ours: SentimentClassifier, test: Sequence[sentiment.Example]) -> dict[str, Any]:
    analyzer = SentimentIntensityAnalyzer()
    texts = [e.text for e in test]
    predicted = ours.classify_many(texts)
    compound = [analyzer.polarity_scores(t)["compound"] for t in texts]
    ours_labels = [p.label for p in predicted]
    vader_labels = [_vader_label(c) for c in compound]
    tri = [i for i, e in enumerate(test) if e.source.startswith("vader_")]
    binary = [i for i, e in enumerate(test) if e.label != "neutral"]
    gold = [e.label for e in test]

    def sign(score: float) -> str:
        return "positive" if score >= 0 else "negative"

    per_source: dict[str, Any] = {}
    for source in sentiment.VADER_FILES:
        idx = [i for i in tri if test[i].source == source]
        per_source[source] = {
            "n": len(idx),
            "ours_macro_f1": _scores([gold[i] for i in idx], [ours_labels[i] for i in idx])["macro_f1"],
            "vader_macro_f1": _scores([gold[i] for i in idx], [vader_labels[i] for i in idx])["macro_f1"],
        }
    customer = [line.split("\t", 1) for line in CUSTOMER_EVAL.read_text("utf-8").split("\n") if line]
    customer_gold = [label for label, _ in customer]
    customer_texts = [text for _, text in customer]
    return {
        "three_class_vader_sets": {
            "n": len(tri),
            "ours": _scores([gold[i] for i in tri], [ours_labels[i] for i in tri]),
            "vader": _scores([gold[i] for i in tri], [vader_labels[i] for i in tri]),
            "per_source": per_source,
        },
        "binary_non_neutral": {
            "n": len(binary),
            "ours": _scores([gold[i] for i in binary], [sign(predicted[i].score) for i in binary]),
            "vader": _scores([gold[i] for i in binary], [sign(compound[i]) for i in binary]),
        },
        "customer_eval": {
            "n": len(customer),
            "ours": _scores(customer_gold, [p.label for p in ours.classify_many(customer_texts)]),
            "vader": _scores(
                customer_gold,
                [_vader_label(analyzer.polarity_scores(t)["compound"]) for t in customer_texts],
            ),
        },
        "vader_single_texts_per_second": round(
            len(texts) / _seconds(lambda: [analyzer.polarity_scores(t) for t in texts]), 1
        ),
    }


def _agreement(ours: SentimentClassifier, texts: Sequence[str]) -> dict[str, Any]:
    fast = ours.classify_many(texts)
    reference = ours.classify_many_by_pipeline(texts)
    return {
        "n": len(texts),
        "labels_differing": sum(a.label != b.label for a, b in zip(fast, reference, strict=True)),
        "max_score_difference": max(abs(a.score - b.score) for a, b in zip(fast, reference, strict=True)),
        "max_probability_difference": max(
            abs(a.probability - b.probability) for a, b in zip(fast, reference, strict=True)
        ),
    }


def _speed(
    ours: SentimentClassifier, texts: Sequence[str], *, rounds: int, single: int
) -> dict[str, Any]:
    pipeline = ours.pipeline
    sample = texts[:single]
    batched: dict[str, list[float]] = {"cold": [], "warm": [], "baseline": []}
    latencies: dict[str, list[float]] = {"fresh": [], "warm": [], "baseline": []}
    for _ in range(rounds):
        batched["baseline"].append(_seconds(lambda: ours.classify_many_by_pipeline(texts)))
        fresh = SentimentClassifier(pipeline)
        batched["cold"].append(_seconds(lambda: fresh.classify_many(texts)))  # noqa: B023
        batched["warm"].append(_seconds(lambda: fresh.classify_many(texts)))  # noqa: B023
        latencies["warm"] += _latencies_ms(fresh.classify, sample)
        latencies["fresh"] += _latencies_ms(SentimentClassifier(pipeline).classify, sample)
        latencies["baseline"] += _latencies_ms(lambda t: ours.classify_many_by_pipeline([t])[0], sample)
    rate = {key: round(len(texts) / statistics.median(values), 1) for key, values in batched.items()}
    ms = {key: _percentiles(values) for key, values in latencies.items()}
    return {
        "batched_texts_per_second": {
            "n": len(texts),
            "rounds": rounds,
            "cold": rate["cold"],
            "warm": rate["warm"],
            "baseline_sklearn_pipeline": rate["baseline"],
            "ratio_cold": round(rate["cold"] / rate["baseline"], 2),
            "ratio_warm": round(rate["warm"] / rate["baseline"], 2),
        },
        "single_text_ms": {
            "n": len(latencies["warm"]),
            "fresh_model": ms["fresh"],
            "warm": ms["warm"],
            "baseline_sklearn_pipeline": ms["baseline"],
            "ratio_p50_fresh": round(ms["baseline"]["p50"] / ms["fresh"]["p50"], 1),
            "ratio_p50_warm": round(ms["baseline"]["p50"] / ms["warm"]["p50"], 1),
        },
    }


def _load_seconds(ours: SentimentClassifier, *, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        ours.save(sentiment.cache_path(cache))
        old_format = cache / "previous-format.joblib"
        joblib.dump({"format": 1, "pipeline": ours.pipeline}, old_format)
        ours_seconds, baseline_seconds = [], []
        for _ in range(rounds):
            ours_seconds.append(_seconds(lambda: SentimentClassifier.load_or_train(cache)))
            baseline_seconds.append(_seconds(lambda: joblib.load(old_format)))
    ours_median, baseline_median = statistics.median(ours_seconds), statistics.median(baseline_seconds)
    return {
        "ours_pickle_and_compile": round(ours_median, 3),
        "baseline_joblib": round(baseline_median, 3),
        "ratio": round(baseline_median / ours_median, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds (median reported)")
    parser.add_argument("--single", type=int, default=1000, help="texts timed one call each")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    corpus = sentiment.load_corpus()
    augmentation = sentiment.load_augmentation()
    train, test = train_test_split(
        corpus,
        test_size=TEST_SIZE,
        random_state=SEED,
        stratify=[f"{e.source}:{e.label}" for e in corpus],
    )
    started = time.perf_counter()
    ours = sentiment.train([*train, *augmentation])
    train_seconds = time.perf_counter() - started
    texts = [e.text for e in test]
    result = {
        "split": {
            "seed": SEED,
            "test_size": TEST_SIZE,
            "train_texts": len(train),
            "augmentation_texts": len(augmentation),
            "held_out_texts": len(test),
        },
        "train_seconds": round(train_seconds, 1),
        **_accuracy(ours, test),
        "agreement_with_sklearn_pipeline": _agreement(ours, texts),
        **_speed(ours, texts, rounds=args.rounds, single=args.single),
        "load_seconds": _load_seconds(ours, rounds=args.rounds),
        "versions": {
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
            "features": sentiment_features.FEATURE_VERSION,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
