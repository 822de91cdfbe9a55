"""Benchmark the bulk loyalty recompute on SQLite; prints one JSON object.

Builds a book (default 1M customers, 10M orders, 1M interactions with sentiment, 100k
tickets, 100k feedback rows) in a migrated SQLite file with sqlite3 directly (executemany
inside BEGIN IMMEDIATE), then times ``LoyaltyRepo.recompute`` plus the alert selection, as
the nightly job runs them. The baseline scores a 1 % sample of customers row by row in Python
(one orders query per customer, quantiles in Python, one INSERT per score) and extrapolates.

Run from the repository root: ``.venv/bin/python bench/loyalty.py [--customers N --orders N]``
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import sqlite3
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

from crm_store.engine import create_engine  # noqa: E402
from crm_store.loyalty import TICKET_CAP, LoyaltyModel, run_date_of  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SEED = 20261123
CHUNK = 200_000
FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def _stamps(rng: np.random.Generator, count: int, days: int) -> list[str]:
    """``count`` timestamps in the ``days`` before NOW, as SQLite text (from a pool: fast)."""
    pool = [
        (NOW - timedelta(minutes=int(m))).replace(tzinfo=None).strftime(FORMAT)
        for m in range(0, days * 1440, 7)
    ]
    picks = rng.integers(0, len(pool), size=count)
    return [pool[i] for i in picks.tolist()]


def build(path: Path, *, customers: int, orders: int) -> dict[str, float]:
    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    created = NOW.replace(tzinfo=None).strftime(FORMAT)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO reps (id, display_name, role, created_at) VALUES (?, ?, 'rep', ?)",
        [(n, f"Rep {n}", created) for n in range(1, 51)],
    )
    for start in range(1, customers + 1, CHUNK):
        ids = range(start, min(start + CHUNK, customers + 1))
        conn.executemany(
            "INSERT INTO customers (id, name, company, email, phone, owner_rep_id, status, source, tags,"
            " custom, created_at, updated_at)"
            " VALUES (?, ?, '', '', '', ?, 'active', 'import', '[]', '{}', ?, ?)",
            # One customer in ten has an owner: the alert count stays readable.
            [(i, f"Customer {i}", (i % 50) + 1 if i % 10 == 0 else None, created, created) for i in ids],
        )
    conn.execute("COMMIT")
    # Skewed activity: a few customers order a lot, many rarely, some never.
    weights = rng.pareto(1.5, size=customers) + 0.05
    weights[rng.random(customers) < 0.1] = 0.0
    weights /= weights.sum()
    conn.execute("BEGIN IMMEDIATE")
    for start in range(0, orders, CHUNK):
        n = min(CHUNK, orders - start)
        who = (rng.choice(customers, size=n, p=weights) + 1).tolist()
        cents = rng.lognormal(9.0, 1.2, size=n).astype(np.int64).tolist()
        conn.executemany(
            "INSERT INTO orders (customer_id, amount_cents, currency, note, ordered_at, created_at)"
            " VALUES (?, ?, 'USD', '', ?, ?)",
            zip(who, cents, _stamps(rng, n, 730), [created] * n, strict=True),
        )
    conn.execute("COMMIT")
    conn.execute("BEGIN IMMEDIATE")
    n = customers
    who = rng.integers(1, customers + 1, size=n).tolist()
    scores = np.clip(rng.normal(0.1, 0.5, size=n), -1, 1).tolist()
    labels = ["negative" if s < -0.2 else "positive" if s > 0.2 else "neutral" for s in scores]
    conn.executemany(
        "INSERT INTO interactions (customer_id, channel, kind, direction, text, sentiment_label,"
        " sentiment_score, occurred_at, created_at) VALUES (?, 'console', 'call', 'out', 'x', ?, ?, ?, ?)",
        zip(who, labels, scores, _stamps(rng, n, 180), [created] * n, strict=True),
    )
    m = max(customers // 10, 1)
    who = rng.integers(1, customers + 1, size=m).tolist()
    states = rng.choice(["open", "pending", "resolved", "resolved"], size=m).tolist()
    opened = _stamps(rng, m, 120)
    conn.executemany(
        "INSERT INTO tickets (customer_id, subject, status, priority, source, csat_rating, created_at,"
        " updated_at, resolved_at, breached_at) VALUES (?, 's', ?, 'normal', 'telegram', ?, ?, ?, ?, ?)",
        [
            (
                c,
                s,
                int(r) if s == "resolved" else None,
                o,
                o,
                o if s == "resolved" else None,
                o if b else None,
            )
            for c, s, r, o, b in zip(
                who,
                states,
                rng.integers(1, 6, size=m).tolist(),
                opened,
                (rng.random(m) < 0.1).tolist(),
                strict=True,
            )
        ],
    )
    who = rng.integers(1, customers + 1, size=m).tolist()
    scores = np.clip(rng.normal(0.0, 0.6, size=m), -1, 1).tolist()
    conn.executemany(
        "INSERT INTO feedback (customer_id, text, rating, sentiment_label, sentiment_score, created_at)"
        " VALUES (?, 'x', ?, ?, ?, ?)",
        zip(
            who,
            rng.integers(1, 6, size=m).tolist(),
            ["negative" if s < -0.2 else "positive" if s > 0.2 else "neutral" for s in scores],
            scores,
            _stamps(rng, m, 180),
            strict=True,
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    return {"build_seconds": round(time.perf_counter() - started, 1)}


async def recompute(path: Path, model: LoyaltyModel) -> dict[str, Any]:
    store = Store.open(f"sqlite+aiosqlite:///{path}", clock=lambda: NOW)
    try:
        started = time.perf_counter()
        async with store.write("bench") as tx:
            scored = await tx.loyalty.recompute(model, run_date=run_date_of(NOW))
        scored_at = time.perf_counter()
        async with store.read() as tx:
            alerts = await tx.loyalty.alert_candidates(run_date_of(NOW), below=30.0, drop=15.0)
        done = time.perf_counter()
    finally:
        await store.close()
    return {
        "scored": scored,
        "recompute_seconds": round(scored_at - started, 2),
        "alert_selection_seconds": round(done - scored_at, 2),
        "alerts": len(alerts),
    }


def _cume(values: list[float]) -> list[float]:
    ordered = sorted(values)
    return [bisect.bisect_right(ordered, v) / len(ordered) for v in values]


def baseline(path: Path, model: LoyaltyModel, *, share: float) -> dict[str, Any]:
    """The same score, customer by customer in Python, on every 1/share-th customer."""
    conn = sqlite3.connect(path, isolation_level=None)
    total = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    step = max(int(1 / share), 1)
    since = (NOW - timedelta(days=model.window_days)).replace(tzinfo=None).strftime(FORMAT)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for (cid,) in conn.execute("SELECT id FROM customers WHERE id % ? = 0", (step,)).fetchall():
        found = conn.execute(
            "SELECT ordered_at, amount_cents FROM orders WHERE customer_id = ?", (cid,)
        ).fetchall()
        said = conn.execute(
            "SELECT sentiment_score, sentiment_label FROM interactions"
            " WHERE customer_id = ? AND occurred_at >= ?",
            (cid, since),
        ).fetchall()
        said += conn.execute(
            "SELECT sentiment_score, sentiment_label FROM feedback WHERE customer_id = ? AND created_at >= ?",
            (cid, since),
        ).fetchall()
        tickets = conn.execute(
            "SELECT status, breached_at FROM tickets"
            " WHERE customer_id = ? AND (status <> 'resolved' OR created_at >= ?)",
            (cid, since),
        ).fetchall()
        rows.append(
            {
                "id": cid,
                "last": max((o[0] for o in found), default=None),
                "n": len(found),
                "m": sum(o[1] for o in found),
                "sentiment": sum(s[0] for s in said) / len(said) if said else None,
                "bad": sum(1 for t in tickets if t[0] != "resolved") + 2 * sum(1 for t in tickets if t[1]),
            }
        )
    buyers = [r for r in rows if r["n"]]
    for key, out in (("last", "rq"), ("n", "fq"), ("m", "mq")):
        for r, q in zip(buyers, _cume([r[key] for r in buyers]), strict=True):  # type: ignore[misc]
            r[out] = q
    conn.execute("BEGIN IMMEDIATE")
    for r in rows:
        sentiment = 0.5 if r["sentiment"] is None else (r["sentiment"] + 1) / 2
        tickets_part = max(0.0, 1 - r["bad"] / TICKET_CAP)
        score = (
            100
            * (
                model.recency * r.get("rq", 0)
                + model.frequency * r.get("fq", 0)
                + model.monetary * r.get("mq", 0)
                + model.sentiment * sentiment
                + model.csat * 0.5
                + model.tickets * tickets_part
            )
            / model.total
        )
        risk = 1 / (1 + math.exp(-model.k * (model.theta - score)))
        conn.execute(
            "INSERT OR REPLACE INTO loyalty_scores (run_date, customer_id, score, churn_risk, order_count,"
            " revenue_cents, negatives, open_tickets, breached_tickets, computed_at)"
            " VALUES ('baseline', ?, ?, ?, ?, ?, 0, 0, 0, ?)",
            (r["id"], score, risk, r["n"], r["m"], since),
        )
    conn.execute("ROLLBACK")
    conn.close()
    seconds = time.perf_counter() - started
    return {
        "baseline_sample_customers": len(rows),
        "baseline_sample_seconds": round(seconds, 2),
        "baseline_extrapolated_seconds": round(seconds * total / max(len(rows), 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--db", type=Path, help="Reuse (or keep) this database file.")
    args = parser.parse_args()
    model = LoyaltyModel()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "loyalty.db"
        result: dict[str, Any] = {"customers": args.customers, "orders": args.orders}
        if not path.exists():
            result.update(build(path, customers=args.customers, orders=args.orders))
        result.update(asyncio.run(recompute(path, model)))
        result.update(baseline(path, model, share=0.01))
        result["speedup_vs_row_by_row"] = round(
            result["baseline_extrapolated_seconds"] / max(result["recompute_seconds"], 1e-9), 1
        )
        result["target_seconds"] = 60
        result["sqlite"] = sqlite3.sqlite_version
        print(json.dumps(result))


if __name__ == "__main__":
    main()
