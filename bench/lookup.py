"""Customer lookup benchmark: latency, memory and intended-customer recall against full scans.

Queries run on the index loaded from its snapshot (memory-mapped), as the bot runs it."""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_book import LabelledQuery, make_book, make_queries
from nlp.customer_index import SEP, CustomerIndex, pack
from nlp.customer_scoring import Query, WordColumn, score_columns
from nlp.index_snapshot import read_snapshot, save_snapshot

TOP = 5
MIN_SCORE = 60.0
# Full scans are slow by design; at large sizes a subset of the queries is enough.
SCAN_QUERIES = {10_000: 300, 100_000: 100, 1_000_000: 40}
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def deep_size(root: object) -> int:
    """Bytes held by an object graph: numpy buffers plus Python objects, each counted once."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or callable(obj) or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            owner = obj.base if isinstance(obj.base, np.ndarray) else obj
            # A view of another array counts that array once; an array over a foreign buffer
            # (a memory-mapped snapshot) counts its own bytes, not the whole file's.
            if id(owner) not in seen or owner is obj:
                seen.add(id(owner))
                total += int(owner.nbytes)
            continue
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        elif hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))
    return total


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def top_ids(scores: NDArray[np.float32], ids: NDArray[np.int64]) -> tuple[list[int], list[float]]:
    """The best TOP records at or above MIN_SCORE, ties by id, exactly as the index orders."""
    if len(scores) > TOP:
        fifth = np.partition(scores, len(scores) - TOP)[len(scores) - TOP]
        pool = np.flatnonzero(scores >= max(fifth, np.float32(MIN_SCORE)))
    else:
        pool = np.flatnonzero(scores >= MIN_SCORE)
    order = pool[np.lexsort((ids[pool], -scores[pool]))][:TOP]
    return ids[order].tolist(), [round(float(s), 2) for s in scores[order]]


class Book:
    """The generated customers in the normalised column form both full scans read."""

    def __init__(self, size: int, seed: int) -> None:
        self.customers = make_book(size, seed)
        records = [pack(c) for c in self.customers]
        split = zip(*(r.split(SEP) for r in records), strict=True)
        names, companies, emails, phones = (list(column) for column in split)
        self.columns = (names, companies, emails, phones)
        # Split once: every full scan reads the same word arrays.
        self.word_columns = (WordColumn.from_texts(names), WordColumn.from_texts(companies), emails, phones)
        self.ids = np.array([c.id for c in self.customers], dtype=np.int64)
        self.row_of = {c.id: i for i, c in enumerate(self.customers)}

    def intended(self, found: Sequence[int], query: LabelledQuery) -> bool:
        """The meant customer is among `found`, or a record identical in the queried field is.

        Two customers called "Maria Lopez" cannot be told apart by a query for that name,
        so either counts; anything else only counts when it is the intended id itself.
        """
        column = self.columns[0 if query.field == "name" else 1]
        wanted = column[self.row_of[query.customer_id]]
        return any(cid == query.customer_id or column[self.row_of[cid]] == wanted for cid in found)


def full_scan(book: Book, text: str) -> tuple[list[int], list[float]]:
    scores, _ = score_columns(Query.parse(text), *book.word_columns, workers=2)
    return top_ids(scores, book.ids)


def wratio_scan(book: Book, text: str) -> list[int]:
    # WRatio gets the same accent-free, lower-cased text, so it only loses on scoring.
    query = Query.parse(text).text
    names, companies = book.columns[0], book.columns[1]
    by_name = cdist([query], names, scorer=fuzz.WRatio, dtype=np.float32, workers=2)[0]
    by_company = cdist([query], companies, scorer=fuzz.WRatio, dtype=np.float32, workers=2)[0]
    return top_ids(np.maximum(by_name, by_company), book.ids)[0]


def run_size(size: int, queries: int, scan_queries: int, seed: int) -> dict[str, Any]:
    book = Book(size, seed)
    labelled = make_queries(book.customers, queries, seed + size)
    gc.collect()
    rss_before = rss_bytes()
    built = CustomerIndex()
    started = time.perf_counter()
    built.upsert_many(book.customers)
    build_seconds = time.perf_counter() - started
    # Queries run on the index as the bot has it: saved, then loaded from the snapshot
    # (arrays memory-mapped), not on the one just built.
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "customers.idx"
        started = time.perf_counter()
        save_snapshot(path, built.arrays(), {})
        save_seconds = time.perf_counter() - started
        snapshot_mb = path.stat().st_size / 2**20
        del built
        gc.collect()
        started = time.perf_counter()
        index = CustomerIndex.from_arrays(read_snapshot(path, expect={}).arrays)
        load_seconds = time.perf_counter() - started
    gc.collect()
    rss_delta = rss_bytes() - rss_before
    index_bytes = deep_size(index)
    # The generated book is a million tracked Python objects that a real process would not
    # hold; freezing them keeps full GC passes out of the latency figures.
    gc.freeze()

    for q in labelled[:20]:  # warm caches and lazy imports
        index.search(q.text)
    latencies: list[float] = []
    ours: list[list[int]] = []
    ours_scores: list[list[float]] = []
    for q in labelled:
        t0 = time.perf_counter()
        matches = index.search(q.text, limit=TOP, min_score=MIN_SCORE)
        latencies.append((time.perf_counter() - t0) * 1000)
        ours.append([m.customer_id for m in matches])
        ours_scores.append([m.score for m in matches])
    hits = [book.intended(found, q) for found, q in zip(ours, labelled, strict=True)]
    strict_hits = [q.customer_id in found for found, q in zip(ours, labelled, strict=True)]
    misses_by_kind: Counter[str] = Counter()
    tried_by_kind: Counter[str] = Counter()
    for hit, q in zip(hits, labelled, strict=True):
        for kind in set(q.kinds):
            tried_by_kind[kind] += 1
            misses_by_kind[kind] += not hit

    scan_ms: list[float] = []
    wratio_ms: list[float] = []
    scan_hits: list[bool] = []
    wratio_hits: list[bool] = []
    agree_rank = 0
    agree_ids = 0
    compared = 0
    for i, q in enumerate(labelled[:scan_queries]):
        t0 = time.perf_counter()
        full_ids, full_scores = full_scan(book, q.text)
        scan_ms.append((time.perf_counter() - t0) * 1000)
        scan_hits.append(book.intended(full_ids, q))
        t0 = time.perf_counter()
        wratio_top = wratio_scan(book, q.text)
        wratio_ms.append((time.perf_counter() - t0) * 1000)
        wratio_hits.append(book.intended(wratio_top, q))
        compared += len(full_ids)
        # Rank-wise: the index found a record as good as the scan's at each rank (ties in
        # score are interchangeable); id-wise: the very same records.
        agree_rank += sum(
            1 for r, s in enumerate(full_scores) if r < len(ours_scores[i]) and ours_scores[i][r] >= s
        )
        agree_ids += len(set(full_ids) & set(ours[i]))

    # Every query the index missed also goes through the full scan: a miss the scan shares is
    # the scorer's (or the book's: look-alike customers), not candidate generation's.
    missed = [q for hit, q in zip(hits, labelled, strict=True) if not hit]
    shared = sum(not book.intended(full_scan(book, q.text)[0], q) for q in missed)

    p50 = statistics.median(latencies)
    scan_p50 = statistics.median(scan_ms)
    return {
        "customers": size,
        "build_seconds": round(build_seconds, 2),
        "snapshot": {
            "save_seconds": round(save_seconds, 2),
            "load_seconds": round(load_seconds, 3),
            "file_mb": round(snapshot_mb, 1),
        },
        "memory_mb": {
            "index_deep_size": round(index_bytes / 2**20, 1),
            "rss_delta": round(rss_delta / 2**20, 1),
        },
        "queries": len(labelled),
        "ours_ms": {
            "p50": round(p50, 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies), 3),
        },
        "full_scan_queries": len(scan_ms),
        "full_scan_ms_p50": round(scan_p50, 1),
        "wratio_scan_ms_p50": round(statistics.median(wratio_ms), 1),
        "full_scan_threads": 2,
        "speedup_p50": round(scan_p50 / p50, 1),
        "intended_recall_at_5": {
            "ours": round(sum(hits) / len(hits), 4),
            "ours_same_id_only": round(sum(strict_hits) / len(strict_hits), 4),
            "ours_on_scan_subset": round(sum(hits[: len(scan_hits)]) / len(scan_hits), 4),
            "full_scan_same_scorer": round(sum(scan_hits) / len(scan_hits), 4),
            "full_scan_wratio": round(sum(wratio_hits) / len(wratio_hits), 4),
            "ours_misses_also_missed_by_full_scan": f"{shared}/{len(missed)}",
        },
        "agreement_with_full_scan_top5": {
            "rank_scores": round(agree_rank / max(1, compared), 4),
            "same_ids": round(agree_ids / max(1, compared), 4),
        },
        "misses_by_perturbation": {
            kind: f"{misses_by_kind[kind]}/{tried_by_kind[kind]}" for kind in sorted(tried_by_kind)
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="comma-separated book sizes (default: %(default)s)",
    )
    parser.add_argument("--queries", type=int, default=1000, help="typo'd queries per size")
    parser.add_argument(
        "--scan-queries", type=int, default=0, help="queries also run as full scans (0: by size)"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        default_scan = next((n for limit, n in sorted(SCAN_QUERIES.items()) if size <= limit), 30)
        scan = min(args.queries, args.scan_queries or default_scan)
        results.append(run_size(size, args.queries, scan, args.seed))
        gc.unfreeze()
        gc.collect()
    notes = {
        "intended": "hit if the meant id, or a record with the identical queried field, is in the top 5",
        "full_scan": "same scorer as the index over every record; speedup_p50 is against it",
        "wratio": "rapidfuzz WRatio over the same normalised name and company columns",
        "agreement": "rank_scores: the index's score equals the scan's at each of its ranks",
    }
    report = {
        "benchmark": "customer_lookup",
        "top": TOP,
        "min_score": MIN_SCORE,
        "notes": notes,
        "sizes": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
