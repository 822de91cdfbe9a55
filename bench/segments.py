"""Benchmark customer segments at 1M customers on SQLite; prints one JSON object.

The book: bench/synthetic_book.py's customers, orders, order lines, interactions, tickets
and feedback, all written with sqlite3 executemany, in six planted groups (champions,
regulars, slipping big spenders, new customers, hibernating, leads), and a loyalty run; that
book is cached too. Timed, as the nightly job runs them: the features (one grouped pass per
table), the model (k by silhouette on a sample, MiniBatchKMeans) and the names; then storing
the run; then a second run on the same data (the same names, nobody moved). Baselines in the
same run: plain KMeans (full Lloyd passes, k-means++) on all customers with the same k, and the
per-customer query path (six queries per customer) on a sample, extrapolated. Peak RSS is read
after our path, before the baselines.

Run from the repository root: ``.venv/bin/python bench/segments.py [--customers N]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.book_db import CACHE_DIR  # noqa: E402
from bench.synthetic_book import BookMaker  # noqa: E402
from crm_store.loyalty import LoyaltyModel, run_date_of  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from handlers.segment_run import model_run, new_segments  # noqa: E402
from insight.segment_features import Scaling, impute, transform  # noqa: E402
from insight.segment_model import THREADS  # noqa: E402
from insight.segment_names import PreviousSegment  # noqa: E402

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
SEED = 20261201
FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PRODUCTS = 2_000
TARGET_SECONDS = 60
TARGET_RSS_MB = 2_048
# group: share, mean orders, (recency days lo, hi), history days, mean order $, lines per order,
#        sentiment mean, rating mean, tickets per customer, share of tickets breached
GROUPS: dict[str, tuple[float, float, tuple[int, int], int, float, float, float, float, float, float]] = {
    "champions": (0.08, 14, (0, 20), 400, 120, 2.5, 0.6, 4.8, 0.1, 0.0),
    "regulars": (0.17, 6, (20, 70), 700, 60, 1.2, 0.2, 4.2, 0.2, 0.05),
    "slipping": (0.05, 5, (130, 250), 500, 600, 1.2, -0.5, 1.8, 1.8, 0.5),
    "new": (0.10, 1, (0, 25), 25, 50, 1.2, 0.1, 4.0, 0.05, 0.0),
    "hibernating": (0.25, 1.5, (300, 700), 700, 35, 1.2, 0.0, 3.5, 0.05, 0.0),
    "leads": (0.35, 0, (0, 0), 0, 0, 0, 0.0, 3.5, 0.02, 0.0),
}


def _hours_pool(days: int) -> list[str]:
    return [(NOW - timedelta(hours=h)).replace(tzinfo=None).strftime(FORMAT) for h in range(days * 24 + 24)]


def build(path: Path, customers: int) -> dict[str, Any]:
    """The activity book on a copy of the cached customers; returns build figures."""
    started = time.perf_counter()

    async def _migrate() -> None:
        store = Store.open(f"sqlite+aiosqlite:///{path}")
        await upgrade(store.engine)
        await store.close()

    asyncio.run(_migrate())
    rng = np.random.default_rng(SEED)
    pool = _hours_pool(1_500)
    names = list(GROUPS)
    truth = rng.choice(len(names), size=customers, p=[g[0] for g in GROUPS.values()])
    np.save(path.with_suffix(".truth.npy"), truth)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    # Customers as bench/synthetic_book.py makes them (book_db's book; here written with
    # executemany, which is ten times faster); one in ten is owned by one of 50 reps.
    conn.executemany(
        "INSERT INTO reps (id, display_name, role, created_at) VALUES (?, ?, 'rep', ?)",
        [(n, f"Rep {n}", pool[0]) for n in range(1, 51)],
    )
    maker = BookMaker(7, surnames=max(300, min(20_000, customers // 20)))
    for start in range(1, customers + 1, 100_000):
        people = [maker.customer(i) for i in range(start, min(start + 100_000, customers + 1))]
        conn.executemany(
            "INSERT INTO customers (id, name, company, email, phone, owner_rep_id, status, source, tags,"
            " custom, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'active', 'import', '[]', '{}', ?, ?)",
            [
                (
                    c.id,
                    c.name,
                    c.company,
                    c.email,
                    c.phone,
                    (c.id % 50) + 1 if c.id % 10 == 0 else None,
                    pool[0],
                    pool[0],
                )
                for c in people
            ],
        )
    conn.executemany(
        "INSERT INTO products (id, sku, name, category, price_cents, currency, created_at, updated_at)"
        " VALUES (?, ?, ?, '', NULL, 'USD', ?, ?)",
        [(p, f"SKU-{p}", f"Product {p}", pool[0], pool[0]) for p in range(1, PRODUCTS + 1)],
    )
    tenure = rng.integers(0, 900, size=customers)
    order_id = 0
    counts = {"orders": 0, "order_lines": 0}
    for g, (name, spec) in enumerate(GROUPS.items()):
        _, mean_orders, (lo, hi), history, dollars, per_order, *_ = spec
        members = np.flatnonzero(truth == g) + 1
        if mean_orders == 0:
            continue
        n_orders = np.maximum(rng.poisson(mean_orders, size=members.size), 1)
        who = np.repeat(members, n_orders)
        first = np.concatenate([[True], who[1:] != who[:-1]])
        recency = rng.integers(lo, hi + 1, size=members.size)
        days = np.repeat(recency, n_orders) + np.where(
            first, 0, rng.integers(0, max(history, 1), size=who.size)
        )
        tenure[members - 1] = np.maximum(
            tenure[members - 1], np.maximum.reduceat(days, np.flatnonzero(first)) + 1
        )
        if name == "new":
            tenure[members - 1] = recency + rng.integers(0, 10, size=members.size)
        hours = days * 24 + rng.integers(0, 24, size=who.size)
        stamps = [pool[h] for h in hours.tolist()]
        cents = (rng.lognormal(0, 0.5, size=who.size) * dollars * 100).astype(np.int64)
        ids = np.arange(order_id + 1, order_id + who.size + 1)
        order_id += who.size
        conn.executemany(
            "INSERT INTO orders (id, customer_id, amount_cents, currency, note, ordered_at, created_at)"
            " VALUES (?, ?, ?, 'USD', '', ?, ?)",
            zip(ids.tolist(), who.tolist(), cents.tolist(), stamps, stamps, strict=True),
        )
        n_lines = np.maximum(rng.poisson(per_order, size=who.size), 1)
        line_order = np.repeat(np.arange(who.size), n_lines)
        # taste: each group favours its own block of products
        product = (g * 300 + rng.zipf(1.6, size=line_order.size) % PRODUCTS) % PRODUCTS + 1
        price = cents[line_order] // n_lines[line_order]
        conn.executemany(
            "INSERT INTO order_lines (order_id, product_id, customer_id, quantity, unit_price_cents,"
            " line_cents, ordered_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
            zip(
                ids[line_order].tolist(),
                product.tolist(),
                who[line_order].tolist(),
                price.tolist(),
                price.tolist(),
                [stamps[i] for i in line_order.tolist()],
                strict=True,
            ),
        )
        counts["orders"] += who.size
        counts["order_lines"] += line_order.size
    conn.executemany(
        "UPDATE customers SET created_at = ? WHERE id = ?",
        zip([pool[t * 24] for t in tenure.tolist()], range(1, customers + 1), strict=True),
    )
    sentiment = np.array([s[6] for s in GROUPS.values()])[truth]
    rating = np.array([s[7] for s in GROUPS.values()])[truth]
    m = customers * 6 // 10
    who = rng.integers(1, customers + 1, size=m)
    scores = np.clip(sentiment[who - 1] + rng.normal(0, 0.3, size=m), -1, 1)
    conn.executemany(
        "INSERT INTO interactions (customer_id, channel, kind, direction, text, sentiment_label,"
        " sentiment_score, occurred_at, created_at) VALUES (?, 'console', 'call', 'out', 'x', ?, ?, ?, ?)",
        zip(
            who.tolist(),
            ["negative" if s < -0.2 else "positive" if s > 0.2 else "neutral" for s in scores.tolist()],
            scores.tolist(),
            [pool[h] for h in rng.integers(0, 180 * 24, size=m).tolist()],
            [pool[0]] * m,
            strict=True,
        ),
    )
    per = np.array([s[8] for s in GROUPS.values()])[truth]
    n_tickets = rng.poisson(per)
    who = np.repeat(np.arange(1, customers + 1), n_tickets)
    breach = np.array([s[9] for s in GROUPS.values()])[truth][who - 1]
    slipping = truth[who - 1] == names.index("slipping")
    resolved = ~slipping & (rng.random(who.size) < 0.8)
    stars = np.clip(np.round(rating[who - 1] + rng.normal(0, 0.6, size=who.size)), 1, 5).astype(int)
    opened = [pool[h] for h in rng.integers(24, 120 * 24, size=who.size).tolist()]
    conn.executemany(
        "INSERT INTO tickets (customer_id, subject, status, priority, source, csat_rating, created_at,"
        " updated_at, resolved_at, breached_at) VALUES (?, 's', ?, 'normal', 'telegram', ?, ?, ?, ?, ?)",
        [
            (c, "resolved" if r else "open", s if r else None, o, o, o if r else None, o if b else None)
            for c, r, s, o, b in zip(
                who.tolist(),
                resolved.tolist(),
                stars.tolist(),
                opened,
                (rng.random(who.size) < breach).tolist(),
                strict=True,
            )
        ],
    )
    m = customers // 10
    who = rng.integers(1, customers + 1, size=m)
    scores = np.clip(sentiment[who - 1] + rng.normal(0, 0.3, size=m), -1, 1)
    stars = np.clip(np.round(rating[who - 1] + rng.normal(0, 0.6, size=m)), 1, 5).astype(int)
    conn.executemany(
        "INSERT INTO feedback (customer_id, text, rating, sentiment_label, sentiment_score, created_at)"
        " VALUES (?, 'x', ?, ?, ?, ?)",
        zip(
            who.tolist(),
            stars.tolist(),
            ["negative" if s < -0.2 else "positive" if s > 0.2 else "neutral" for s in scores.tolist()],
            scores.tolist(),
            [pool[h] for h in rng.integers(0, 180 * 24, size=m).tolist()],
            strict=True,
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    built = time.perf_counter()

    async def _loyalty() -> None:
        store = Store.open(f"sqlite+aiosqlite:///{path}", clock=lambda: NOW)
        async with store.write("bench") as tx:
            await tx.loyalty.recompute(LoyaltyModel(), run_date=run_date_of(NOW))
        await store.close()

    asyncio.run(_loyalty())
    return {
        **counts,
        "build_seconds": round(built - started, 1),
        "loyalty_seconds": round(time.perf_counter() - built, 1),
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def our_path(url: str) -> dict[str, Any]:
    """Two runs as the nightly job makes them, the second on the same data."""
    from sklearn.metrics import adjusted_rand_score

    store = Store.open(url, clock=lambda: NOW)
    out: dict[str, Any] = {}
    try:
        names_by_run = []
        for run in (1, 2):
            t0 = time.perf_counter()
            async with store.read() as tx:
                book = await tx.segments.features()
                previous = [PreviousSegment(s.slug, s.name, s.z()) for s in await tx.segments.live()]
            t1 = time.perf_counter()
            fit, names = await asyncio.to_thread(model_run, book, previous)
            t2 = time.perf_counter()
            made = new_segments(fit, names)
            async with store.write("bench") as tx:
                saved = await tx.segments.save_run(made, customer_ids=book.customer_ids, labels=fit.labels)
            t3 = time.perf_counter()
            names_by_run.append([(s.name, s.size) for s in made])
            out[f"run{run}"] = {
                "features_seconds": round(t1 - t0, 2),
                "model_and_names_seconds": round(t2 - t1, 2),
                "total_seconds": round(t2 - t0, 2),
                "store_seconds": round(t3 - t2, 2),
                "moved": saved.moved,
            }
            if run == 1:
                out["customers"] = int(book.customer_ids.shape[0])
                out["k"] = fit.k
                out["silhouettes"] = {k: round(v, 3) for k, v in fit.silhouettes.items()}
                out["segments"] = [{"name": s.name, "size": s.size, "about": s.description} for s in made]
                truth = np.load(Path(url.split("///", 1)[1]).with_suffix(".truth.npy"))
                out["ari_vs_planted"] = round(float(adjusted_rand_score(truth, fit.labels)), 3)
                raw = book.raw
        out["peak_rss_mb"] = round(_rss_mb())
        out["rerun_same_names"] = names_by_run[0] == names_by_run[1] and out["run2"]["moved"] == 0
        # Without the last run to match: the fixed random state alone gives the same names.
        fresh, fresh_names = await asyncio.to_thread(model_run, book, [])
        out["fresh_rerun_same_names"] = [
            (n.name, int(s)) for n, s in zip(fresh_names, fresh.sizes, strict=True)
        ] == (names_by_run[0])
        out["raw_for_baseline"] = raw
        out["k_chosen"] = out["k"]
    finally:
        await store.close()
    return out


def plain_kmeans(raw: np.ndarray, k: int) -> float:
    """Full KMeans (Lloyd, k-means++, 4 starts) on every customer, the same k and features, on
    the same one native thread."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    filled = transform(impute(raw))
    x = Scaling.fit(filled).apply(filled)
    with threadpool_limits(limits=THREADS):
        KMeans(n_clusters=k, n_init=4, random_state=0).fit(x)
    return time.perf_counter() - started


def per_customer(path: Path, *, sample: int) -> tuple[int, float]:
    """The features customer by customer (six queries each) on ``sample`` customers."""
    conn = sqlite3.connect(path)
    now = NOW.replace(tzinfo=None).strftime(FORMAT)
    since = (NOW - timedelta(days=365)).replace(tzinfo=None).strftime(FORMAT)
    total = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    step = max(total // sample, 1)
    ids = [r[0] for r in conn.execute("SELECT id FROM customers WHERE id % ? = 0", (step,))]
    started = time.perf_counter()
    for cid in ids:
        conn.execute(
            "SELECT COUNT(*), SUM(amount_cents), julianday(?) - julianday(MAX(ordered_at)),"
            " julianday(?) - julianday(MIN(ordered_at)) FROM orders WHERE customer_id = ?",
            (now, now, cid),
        ).fetchall()
        conn.execute(
            "SELECT COUNT(DISTINCT product_id) FROM order_lines WHERE customer_id = ? AND quantity > 0",
            (cid,),
        ).fetchall()
        conn.execute(
            "SELECT AVG(sentiment_score) FROM interactions WHERE customer_id = ? AND occurred_at >= ?",
            (cid, since),
        ).fetchall()
        conn.execute(
            "SELECT AVG(sentiment_score), AVG(rating) FROM feedback"
            " WHERE customer_id = ? AND created_at >= ?",
            (cid, since),
        ).fetchall()
        conn.execute(
            "SELECT AVG(csat_rating), SUM(status <> 'resolved'), COUNT(breached_at) FROM tickets"
            " WHERE customer_id = ?",
            (cid,),
        ).fetchall()
        conn.execute(
            "SELECT score FROM loyalty_scores WHERE customer_id = ? ORDER BY run_date DESC LIMIT 1", (cid,)
        ).fetchall()
    seconds = time.perf_counter() - started
    conn.close()
    return len(ids), seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline-sample", type=int, default=5_000)
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cached = CACHE_DIR / f"segments-{args.customers}-seed{SEED}.db"
    figures: dict[str, Any] = {}
    if args.build_only:
        building = cached.with_suffix(f".building-{os.getpid()}.db")
        print(json.dumps(build(building, args.customers)))
        os.replace(building.with_suffix(".truth.npy"), cached.with_suffix(".truth.npy"))
        os.replace(building, cached)
        return
    if not cached.exists():
        # In a child: the build's memory must not count in this process's peak RSS.
        made = subprocess.run(
            [sys.executable, __file__, "--customers", str(args.customers), "--build-only"],
            check=True,
            capture_output=True,
            text=True,
        )
        figures["build"] = json.loads(made.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory(dir=CACHE_DIR) as tmp:
        path = Path(tmp) / "crm.db"
        shutil.copyfile(cached, path)
        shutil.copyfile(cached.with_suffix(".truth.npy"), path.with_suffix(".truth.npy"))
        ours = asyncio.run(our_path(f"sqlite+aiosqlite:///{path}"))
        raw = ours.pop("raw_for_baseline")
        kmeans_seconds = plain_kmeans(raw, ours.pop("k_chosen"))
        del raw
        sampled, sample_seconds = per_customer(path, sample=args.baseline_sample)
    total = ours["run1"]["total_seconds"]
    per_customer_extrapolated = sample_seconds / max(sampled, 1) * ours["customers"]
    conn = sqlite3.connect(cached)
    counts = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("orders", "order_lines")}
    conn.close()
    result = {
        "customers": ours["customers"],
        **counts,
        **figures,
        "k": ours["k"],
        "silhouettes": ours["silhouettes"],
        "ari_vs_planted": ours["ari_vs_planted"],
        "features_seconds": ours["run1"]["features_seconds"],
        "model_and_names_seconds": ours["run1"]["model_and_names_seconds"],
        "total_seconds": total,
        "store_first_run_seconds": ours["run1"]["store_seconds"],
        "rerun": ours["run2"],
        "rerun_same_names": ours["rerun_same_names"],
        "fresh_rerun_same_names": ours["fresh_rerun_same_names"],
        "peak_rss_mb": ours["peak_rss_mb"],
        "baseline_plain_kmeans_model_seconds": round(kmeans_seconds, 2),
        "model_speedup_vs_plain_kmeans": round(
            kmeans_seconds / max(ours["run1"]["model_and_names_seconds"], 1e-9), 2
        ),
        "baseline_per_customer_sample": sampled,
        "baseline_per_customer_features_extrapolated_seconds": round(per_customer_extrapolated, 1),
        "features_speedup_vs_per_customer": round(
            per_customer_extrapolated / max(ours["run1"]["features_seconds"], 1e-9), 1
        ),
        "target_seconds": TARGET_SECONDS,
        "target_rss_mb": TARGET_RSS_MB,
        "meets_targets": total < TARGET_SECONDS
        and ours["peak_rss_mb"] < TARGET_RSS_MB
        and ours["rerun_same_names"],
        "segments": ours["segments"],
        "sqlite": sqlite3.sqlite_version,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
