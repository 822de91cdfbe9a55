"""Benchmark the sentiment classifier against VADER; prints one JSON object.

Held-out split: 20 % of the public corpus (UCI + VADER ground truth), stratified by source
and label with a fixed seed; ours trains on the other 80 % plus the hand-written customer
messages. Three-class scores use the VADER sets (the only ones with a neutral class);
binary scores use every held-out text with a non-neutral label, predicting positive when
the score (ours: P(pos) - P(neg); VADER: compound) is >= 0 for both models. The customer
eval file (tests/data/sentiment_customer_eval.tsv) is never trained on.

Run from the repository root: ``.venv/bin/python bench/sentiment.py``
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from nlp import sentiment, sentiment_features  # noqa: E402

SEED = 20240611
TEST_SIZE = 0.2
CUSTOMER_EVAL = ROOT / "tests" / "data" / "sentiment_customer_eval.tsv"
SINGLE_SAMPLE = 1000


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


def _rate(func: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    func()
    return round(n / (time.perf_counter() - started), 1)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    corpus = sentiment.load_corpus()
    augmentation = sentiment.load_augmentation()
    train, test = train_test_split(
        corpus,
        test_size=TEST_SIZE,
        random_state=SEED,
        stratify=[f"{e.source}:{e.label}" for e in corpus],
    )
    customer = [line.split("\t", 1) for line in CUSTOMER_EVAL.read_text("utf-8").split("\n") if line]

    started = time.perf_counter()
    ours = sentiment.train([*train, *augmentation])
    train_seconds = time.perf_counter() - started
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
            "ours_macro_f1": _scores([gold[i] for i in idx], [ours_labels[i] for i in idx])[
                "macro_f1"
            ],
            "vader_macro_f1": _scores([gold[i] for i in idx], [vader_labels[i] for i in idx])[
                "macro_f1"
            ],
        }

    customer_gold = [label for label, _ in customer]
    customer_texts = [text for _, text in customer]
    single = texts[:SINGLE_SAMPLE]
    result = {
        "split": {
            "seed": SEED,
            "test_size": TEST_SIZE,
            "train_texts": len(train),
            "augmentation_texts": len(augmentation),
            "held_out_texts": len(test),
        },
        "train_seconds": round(train_seconds, 1),
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
        "texts_per_second": {
            "ours_batched": _rate(lambda: ours.classify_many(texts), len(texts)),
            "ours_single": _rate(lambda: [ours.classify(t) for t in single], len(single)),
            "vader_single": _rate(lambda: [analyzer.polarity_scores(t) for t in texts], len(texts)),
        },
        "versions": {
            "scikit_learn": sklearn.__version__,
            "numpy": np.__version__,
            "features": sentiment_features.FEATURE_VERSION,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
