"""Benchmark the models behind `report needs` and `report correlation`; prints one JSON object.

Topics: books of short texts with planted topics (3, 4 and 6, each with its own words, buried in
shared filler words), recovered by TF-IDF + NMF with the number of topics chosen by silhouette;
scored by the adjusted Rand index of the texts' topics against the planted ones and by how often
the number is right, against the baseline of NMF with a fixed 5 topics. Plus the time to find
the topics of 20,000 texts.

Correlation: books of 100 customers with 7 figures of pure noise (any finding is false) and books
of 312 customers where slower first responses lower CSAT (rho about -0.3, the rest noise). The
report's bar (Holm-corrected p < 0.05, n >= 20, |rho| >= 0.1) against the naive baseline
(uncorrected p < 0.05): false findings per noise book, and how often the planted relation is found.
Plus the time for 1M customers (7 figures, most without CSAT or first response).

Run from the repository root: ``.venv/bin/python bench/reports.py``
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from insight.correlation import ALPHA, spearman, strongest  # noqa: E402
from insight.topics import _assign, _fit, _vectorize, find_topics  # noqa: E402

SEED = 20261203
VOCABULARY = [
    "delivery late parcel courier shipping tracking delayed package",
    "refund money charged twice payment invoice billing card",
    "login password account locked reset access email code",
    "broken damaged cracked defective quality faulty scratched screen",
    "discount price expensive cheaper offer coupon deal quote",
    "training onboarding workshop session staff course trainer manual",
]
FILLER = [
    "order",
    "help",
    "thanks",
    "team",
    "company",
    "week",
    "asked",
    "about",
    "issue",
    "question",
    "service",
    "product",
]
FIGURES = ("sentiment", "csat", "loyalty", "orders", "revenue", "tickets", "first_response")


def planted_texts(k: int, per_topic: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    texts, truth = [], []
    for t in range(k):
        words = VOCABULARY[t].split()
        for _ in range(per_topic):
            chosen = [*rng.choice(words, size=int(rng.integers(2, 5)), replace=False)]
            chosen += [*rng.choice(FILLER, size=int(rng.integers(3, 7)))]
            rng.shuffle(chosen)
            texts.append(" ".join(str(w) for w in chosen))
            truth.append(t)
    return texts, np.array(truth)


def bench_topics(rng: np.random.Generator) -> dict[str, object]:
    from sklearn.metrics import adjusted_rand_score

    ours, base, right = [], [], 0
    runs = 0
    for k in (3, 4, 6):
        for _ in range(2):
            texts, truth = planted_texts(k, 150, rng)
            model = find_topics(texts)
            assert model is not None
            ours.append(adjusted_rand_score(truth, model.assignment))
            right += model.k == k
            matrix, _ = _vectorize(texts, min_df=2)
            base.append(adjusted_rand_score(truth, _assign(matrix, _fit(matrix, 5, 0))))
            runs += 1
    texts, _ = planted_texts(5, 4_000, rng)
    started = time.perf_counter()
    big = find_topics(texts)
    seconds = time.perf_counter() - started
    assert big is not None
    return {
        "topic_books": runs,
        "topic_ari": round(float(np.mean(ours)), 3),
        "topic_k_right": f"{right}/{runs}",
        "baseline_fixed_k5_ari": round(float(np.mean(base)), 3),
        "topics_20k_texts_seconds": round(seconds, 2),
        "topics_20k_k": big.k,
    }


def noise_book(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    columns = {name: rng.normal(size=n) for name in FIGURES}
    columns["csat"] = np.where(rng.random(n) < 0.6, np.round(rng.uniform(1, 5, n)), np.nan)
    columns["first_response"] = np.where(rng.random(n) < 0.7, rng.exponential(60, n), np.nan)
    return columns


def bench_correlation(rng: np.random.Generator) -> dict[str, object]:
    books = 200
    ours_false = naive_false = 0
    for _ in range(books):
        found = spearman(noise_book(100, rng))
        ours_false += len(strongest(found, top=99))
        naive_false += sum(1 for r in found.relations if r.p == r.p and r.p < ALPHA)
    hits = naive_hits = 0
    for _ in range(books):
        columns = noise_book(312, rng)
        wait = rng.exponential(60, 312)
        columns["first_response"] = wait
        columns["csat"] = np.clip(np.round(4 - 0.012 * wait + rng.normal(0, 1.2, 312)), 1, 5)
        found = spearman(columns)
        pair = {"csat", "first_response"}
        hits += any({r.a, r.b} == pair for r in strongest(found, top=99))
        naive_hits += any({r.a, r.b} == pair and r.p < ALPHA for r in found.relations)
    planted_rho = float(np.mean([r.rho for r in found.relations if {r.a, r.b} == {"csat", "first_response"}]))
    big = noise_book(1_000_000, rng)
    started = time.perf_counter()
    spearman(big)
    seconds = time.perf_counter() - started
    return {
        "noise_books": books,
        "false_findings_per_noise_book": round(ours_false / books, 3),
        "baseline_uncorrected_false_findings_per_noise_book": round(naive_false / books, 3),
        "planted_books": books,
        "planted_rho_last_book": round(planted_rho, 2),
        "planted_found_share": round(hits / books, 3),
        "baseline_uncorrected_planted_found_share": round(naive_hits / books, 3),
        "correlation_1m_customers_seconds": round(seconds, 2),
    }


def main() -> None:
    rng = np.random.default_rng(SEED)
    result = {**bench_topics(rng), **bench_correlation(rng)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
