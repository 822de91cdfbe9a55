"""Benchmark next products to offer; prints one JSON object.

Hit rate@5 on each customer's held-back last order (every customer with at least two orders;
the model and the baseline see everything else), for the item-to-item model against
recommending the most popular products the customer has not bought, on:
- the retail sample (../shared/data/retail/online_retail_sample.csv, read with csv and mapped
  as in issue 11: InvoiceNo -> order, StockCode -> sku, Description -> product, CustomerID ->
  customer, "C" invoices and negative quantities are returns, guest lines skipped);
- a generated book (default 100k customers x 5k products) with planted co-purchase structure:
  customers in taste groups, products in families, long-tailed popularity.
Then, on the generated book: the online answer for one customer (p50/p99 over 2,000 random
customers, history lookup and reasons included) and the batch of every customer's top 5
written to a CSV file, against the targets (20 ms; 60 s); and the bot's own path with the book
in SQLite: the background build (every line read, then the fit) and one `recommend` answer
with the customer's products read from the store.

Run from the repository root: ``.venv/bin/python bench/recommend.py [--customers N --products N]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from crm_store.engine import create_engine  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from handlers.recommend_model import ModelHolder  # noqa: E402
from insight.recommend import History, ItemRecommender, Purchases, RecommendSettings  # noqa: E402

RETAIL = ROOT.parent.parent / "shared" / "data" / "retail" / "online_retail_sample.csv"
if not RETAIL.exists():
    RETAIL = Path("/work/shared/data/retail/online_retail_sample.csv")
SEED = 20261203
K = 5
FAMILY_SIZE = 20
GROUP_FAMILIES = 5
TASTE_SHARE = 0.85  # of a customer's picks, from their group's families; the rest from anywhere
ZIPF_ANYWHERE = 1.0  # popularity of the picks from anywhere
ORACLE_SAMPLE = 10_000
STAMP = "%Y-%m-%d %H:%M:%S.%f"


@dataclass(frozen=True, slots=True)
class Book:
    purchases: Purchases
    group: np.ndarray  # each customer's taste group (customer id - 1 -> group)
    chance: np.ndarray  # groups x products: the planted chance that a pick is that product


def generated_book(customers: int, products: int, *, seed: int = SEED) -> Book:
    """Customers in taste groups, each group fond of a few product families; products in
    families of 20; popularity long-tailed (Zipf) across families, within each and overall."""
    rng = np.random.default_rng(seed)
    families = max(products // FAMILY_SIZE, 1)
    groups = max(families // 3, 1)
    anywhere_p = rng.permutation(1.0 / np.arange(1, products + 1) ** ZIPF_ANYWHERE)
    anywhere_p /= anywhere_p.sum()
    in_family = 1.0 / np.arange(1, FAMILY_SIZE + 1) ** 1.0
    in_family /= in_family.sum()
    family_weight = 1.0 / np.arange(1, families + 1) ** 0.8
    family_weight /= family_weight.sum()
    fond_of = rng.choice(families, size=(groups, GROUP_FAMILIES), p=family_weight)
    group = rng.integers(0, groups, size=customers)
    n_orders = 1 + np.minimum(rng.poisson(2.5, size=customers), 15)
    order_customer = np.repeat(np.arange(customers), n_orders)
    order_day = rng.uniform(0, 365, size=len(order_customer))
    lines_per_order = 1 + np.minimum(rng.poisson(1.6, size=len(order_customer)), 12)
    line_order = np.repeat(np.arange(len(order_customer)), lines_per_order)
    line_customer = order_customer[line_order]
    count = len(line_order)
    taste = rng.random(count) < TASTE_SHARE
    family = fond_of[group[line_customer], rng.integers(0, GROUP_FAMILIES, size=count)]
    in_fam = rng.choice(FAMILY_SIZE, size=count, p=in_family)
    anywhere = rng.choice(products, size=count, p=anywhere_p)
    product = np.where(taste, np.minimum(family * FAMILY_SIZE + in_fam, products - 1), anywhere)
    chance = np.tile((1 - TASTE_SHARE) * anywhere_p, (groups, 1))
    for g in range(groups):
        for f in fond_of[g].tolist():
            span = slice(f * FAMILY_SIZE, min((f + 1) * FAMILY_SIZE, products))
            chance[g, span] += (TASTE_SHARE / GROUP_FAMILIES * in_family)[: span.stop - span.start]
    purchases = Purchases(
        customer_ids=line_customer.astype(np.int64) + 1,
        product_ids=product.astype(np.int64) + 1,
        quantities=rng.integers(1, 4, size=count).astype(np.int64),
        order_ids=line_order.astype(np.int64) + 1,
        days=order_day[line_order],
    )
    return Book(purchases, group, chance)


def retail_sample(path: Path) -> tuple[Purchases, dict[int, tuple[str, str]]]:
    """The shop export, mapped as `crm-bot import order-lines` maps it."""
    skus: dict[str, int] = {}
    names: dict[int, tuple[str, str]] = {}
    orders: dict[str, int] = {}
    rows: list[tuple[int, int, int, int, float]] = []
    epoch = datetime(2010, 1, 1)
    with path.open(encoding="latin-1", newline="") as handle:
        for line in csv.DictReader(handle):
            customer = line["CustomerID"].strip()
            if not customer:
                continue  # a guest checkout: nobody to recommend to
            sku = line["StockCode"].strip()
            product = skus.setdefault(sku, len(skus) + 1)
            names.setdefault(product, (sku, line["Description"].strip()))
            invoice = line["InvoiceNo"].strip()
            quantity = int(line["Quantity"])
            if invoice.upper().startswith("C"):
                quantity = -abs(quantity)
            when = datetime.strptime(line["InvoiceDate"], "%Y-%m-%d %H:%M:%S")
            rows.append(
                (
                    int(float(customer)),
                    product,
                    quantity,
                    orders.setdefault(invoice, len(orders) + 1),
                    (when - epoch).total_seconds() / 86400,
                )
            )
    return Purchases.of(rows), names


def hold_out_last(p: Purchases) -> tuple[Purchases, np.ndarray, np.ndarray, np.ndarray]:
    """(training lines, held-back customer ids, their held-back order's day, held-back
    (customer, product) keys): each customer's last order with a purchase in it, for every
    customer with at least two such orders."""
    bought = p.quantities > 0
    c, o, d = p.customer_ids[bought], p.order_ids[bought], p.days[bought]
    by = np.lexsort((o, d, c))
    c, o, d = c[by], o[by], d[by]
    last_of = np.ones(len(c), dtype=bool)
    last_of[:-1] = c[:-1] != c[1:]
    last_order = dict(zip(c[last_of].tolist(), o[last_of].tolist(), strict=True))
    last_day = dict(zip(c[last_of].tolist(), d[last_of].tolist(), strict=True))
    distinct = np.ones(len(c), dtype=bool)
    distinct[1:] = (c[1:] != c[:-1]) | (o[1:] != o[:-1])
    orders_per = np.bincount(np.unique(c[distinct], return_inverse=True)[1])
    customers = np.unique(c[distinct])[orders_per >= 2]
    held_orders = np.array([last_order[x] for x in customers.tolist()], dtype=np.int64)
    held_line = np.isin(p.order_ids, held_orders) & np.isin(p.customer_ids, customers)
    train = Purchases(
        p.customer_ids[~held_line],
        p.product_ids[~held_line],
        p.quantities[~held_line],
        p.order_ids[~held_line],
        p.days[~held_line],
    )
    wanted = held_line & (p.quantities > 0)
    keys = np.unique(p.customer_ids[wanted] * (1 << 32) + p.product_ids[wanted])
    days = np.array([last_day[x] for x in customers.tolist()])
    return train, customers, days, keys


def hit_rate(
    customers: np.ndarray, rec_customers: np.ndarray, rec_products: np.ndarray, held: np.ndarray
) -> float:
    hits = np.isin(rec_customers * (1 << 32) + rec_products, held)
    hit_customers = np.unique(rec_customers[hits])
    return float(np.isin(customers, hit_customers).mean()) if len(customers) else 0.0


def popularity(model: ItemRecommender, customers: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: the k products most customers bought that this customer has not."""
    f = model.f
    ranked = np.lexsort((f.product_ids, -f.buyers))[: k + 200]
    rows = np.searchsorted(f.customer_ids, customers)
    rows = np.minimum(rows, len(f.customer_ids) - 1)
    known = f.customer_ids[rows] == customers
    held = f.bought[rows][:, ranked].toarray() > 0
    held[~known] = False
    pick = np.argsort(held, axis=1, kind="stable")[:, :k]
    chosen = ranked[pick]
    return np.repeat(customers, k), f.product_ids[chosen].ravel()


def oracle(model: ItemRecommender, book: Book, customers: np.ndarray, held: np.ndarray) -> float:
    """The ceiling: the k products likeliest under the planted taste groups that the customer
    has not bought (on a sample of customers), which no model of the data alone can beat."""
    rng = np.random.default_rng(SEED)
    sample = rng.choice(customers, size=min(ORACLE_SAMPLE, len(customers)), replace=False)
    tops = []
    for start in range(0, len(sample), 1_000):  # a dense block of 1,000 customers at a time
        part = sample[start : start + 1_000]
        rows = np.searchsorted(model.f.customer_ids, part)
        chance = book.chance[book.group[part - 1]][:, model.f.product_ids - 1]
        chance[model.f.bought[rows].toarray() > 0] = -1
        tops.append(np.argsort(-chance, axis=1, kind="stable")[:, :K])
    top = np.concatenate(tops)
    return hit_rate(sample, np.repeat(sample, K), model.f.product_ids[top].ravel(), held)


def evaluate(
    p: Purchases,
    catalogue: dict[int, tuple[str, str]],
    settings: RecommendSettings,
    *,
    book: Book | None = None,
) -> dict[str, Any]:
    train, customers, days, held = hold_out_last(p)
    model = ItemRecommender.fit(train, catalogue, settings)
    today = np.full(model.customers, float(train.days.max()))
    rows = np.searchsorted(model.f.customer_ids, customers)
    today[rows] = days  # a held-back customer is asked just before that order
    batch = model.recommend_all(k=K, today=today)
    model_rate = hit_rate(customers, batch.customer_ids, batch.product_ids, held)
    pop_customers, pop_products = popularity(model, customers, K)
    pop_rate = hit_rate(customers, pop_customers, pop_products, held)
    mine = np.isin(batch.customer_ids, customers)
    mine_kinds = [batch.kinds[i] for i in np.flatnonzero(mine).tolist()]
    kinds = {kind: mine_kinds.count(kind) for kind in ("similar", "rebuy", "best_seller")}
    found: dict[str, Any] = {
        "customers_evaluated": len(customers),
        "lines": len(p),
        "products": model.products,
        "hit_rate_at_5": round(model_rate, 4),
        "popularity_hit_rate_at_5": round(pop_rate, 4),
        "ratio": round(model_rate / pop_rate, 2) if pop_rate else None,
        "recommended_by_kind": kinds,
    }
    if book is not None:
        found["oracle_hit_rate_at_5"] = round(oracle(model, book, customers, held), 4)
    return found


def timings(p: Purchases, settings: RecommendSettings, *, samples: int) -> dict[str, Any]:
    catalogue = {int(x): (f"SKU-{int(x)}", f"Product {int(x)}") for x in np.unique(p.product_ids)}
    started = time.perf_counter()
    model = ItemRecommender.fit(p, catalogue, settings)
    fit_s = time.perf_counter() - started
    today = float(p.days.max())
    rng = np.random.default_rng(SEED)
    picks = rng.choice(model.f.customer_ids, size=min(samples, model.customers), replace=False)
    spent = []
    for customer in picks.tolist():
        t0 = time.perf_counter()
        model.recommend(model.history_of(customer), k=K, today=today)
        spent.append((time.perf_counter() - t0) * 1000)
    ms = np.array(spent)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        batch = model.recommend_all(k=K, today=today)
        out = Path(tmp) / "recommend.csv"
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer_id", "rank", "sku", "product", "score", "reason"])
            writer.writerows(
                zip(
                    batch.customer_ids.tolist(),
                    batch.ranks.tolist(),
                    batch.skus,
                    batch.names,
                    [f"{s:.4f}" for s in batch.scores.tolist()],
                    batch.reasons,
                    strict=True,
                )
            )
        batch_s = time.perf_counter() - started
    return {
        "customers": model.customers,
        "products": model.products,
        "fit_seconds": round(fit_s, 2),
        "online_ms_p50": round(float(np.percentile(ms, 50)), 3),
        "online_ms_p99": round(float(np.percentile(ms, 99)), 3),
        "online_target_ms": 20,
        "batch_seconds_all_customers": round(batch_s, 2),
        "batch_rows": len(batch.ranks),
        "batch_target_seconds": 60,
    }


def _sqlite_book(path: Path, p: Purchases, names: dict[int, tuple[str, str]]) -> None:
    """The generated book in a migrated SQLite file (sqlite3 executemany: fast to build)."""

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    epoch = datetime(2026, 1, 1)
    stamp = [(epoch + timedelta(days=float(d))).strftime(STAMP) for d in np.arange(0, 366)]
    created = epoch.strftime(STAMP)
    conn = sqlite3.connect(path)
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO customers (id, name, company, email, phone, status, source, tags, custom,"
        " created_at, updated_at) VALUES (?, ?, '', '', '', 'active', 'import', '[]', '{}', ?, ?)",
        ((int(c), f"Customer {int(c)}", created, created) for c in np.unique(p.customer_ids).tolist()),
    )
    conn.executemany(
        "INSERT INTO products (id, sku, name, category, currency, created_at, updated_at)"
        " VALUES (?, ?, ?, '', 'USD', ?, ?)",
        ((pid, sku, name, created, created) for pid, (sku, name) in names.items()),
    )
    first = np.unique(p.order_ids, return_index=True)[1]
    conn.executemany(
        "INSERT INTO orders (id, customer_id, amount_cents, currency, note, ordered_at, created_at)"
        " VALUES (?, ?, 0, 'USD', '', ?, ?)",
        (
            (o, c, stamp[int(d)], created)
            for o, c, d in zip(
                p.order_ids[first].tolist(),
                p.customer_ids[first].tolist(),
                p.days[first].tolist(),
                strict=True,
            )
        ),
    )
    conn.executemany(
        "INSERT INTO order_lines (order_id, product_id, customer_id, quantity, unit_price_cents, line_cents,"
        " ordered_at) VALUES (?, ?, ?, ?, 100, ?, ?)",
        (
            (o, pr, c, q, q * 100, stamp[int(d)])
            for o, pr, c, q, d in zip(
                p.order_ids.tolist(),
                p.product_ids.tolist(),
                p.customer_ids.tolist(),
                p.quantities.tolist(),
                p.days.tolist(),
                strict=True,
            )
        ),
    )
    conn.execute("COMMIT")
    conn.close()


def from_store(p: Purchases, *, samples: int) -> dict[str, Any]:
    """The bot's own path on SQLite: the background build (every line read in bulk, then the
    fit) and one answer as `recommend` gives it (the customer's products read, then ranked)."""
    names = {int(x): (f"SKU-{int(x)}", f"Product {int(x)}") for x in np.unique(p.product_ids)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.db"
        _sqlite_book(path, p, names)

        async def _measure() -> dict[str, Any]:
            store = Store.open(f"sqlite+aiosqlite:///{path}")
            try:
                holder = ModelHolder()
                started = time.perf_counter()
                model = await holder.rebuild(store)
                build_s = time.perf_counter() - started
                rng = np.random.default_rng(SEED + 1)
                picks = rng.choice(model.f.customer_ids, size=min(samples, model.customers), replace=False)
                today = float(p.days.max())
                spent = []
                for customer in picks.tolist():
                    t0 = time.perf_counter()
                    async with store.read() as tx:
                        held = await tx.recommend.held(customer)
                    model.recommend(History.of(held), k=K, today=today)
                    spent.append((time.perf_counter() - t0) * 1000)
            finally:
                await store.close()
            ms = np.array(spent)
            return {
                "lines": len(p),
                "model_build_seconds": round(build_s, 2),
                "online_with_store_ms_p50": round(float(np.percentile(ms, 50)), 3),
                "online_with_store_ms_p99": round(float(np.percentile(ms, 99)), 3),
            }

        return asyncio.run(_measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--alpha", type=float, default=RecommendSettings().alpha)
    parser.add_argument("--neighbours", type=int, default=RecommendSettings().neighbours)
    args = parser.parse_args()
    settings = RecommendSettings(alpha=args.alpha, neighbours=args.neighbours)
    retail, retail_names = retail_sample(RETAIL)
    book = generated_book(args.customers, args.products)
    lines = book.purchases
    book_names = {int(x): (f"SKU-{int(x)}", f"Product {int(x)}") for x in np.unique(lines.product_ids)}
    result: dict[str, Any] = {
        "settings": {"k": K, "alpha": settings.alpha, "neighbours": settings.neighbours},
        "generator": {
            "customers": args.customers,
            "products": args.products,
            "family_size": FAMILY_SIZE,
            "families_per_group": GROUP_FAMILIES,
            "taste_share": TASTE_SHARE,
            "zipf_anywhere": ZIPF_ANYWHERE,
        },
        "retail_sample": evaluate(retail, retail_names, settings),
        "generated_book": evaluate(lines, book_names, settings, book=book),
        "speed": timings(lines, settings, samples=args.samples),
        "sqlite": from_store(lines, samples=args.samples // 4),
    }
    gen, ret, speed = result["generated_book"], result["retail_sample"], result["speed"]
    result["targets_met"] = {
        "generated_2x_popularity": bool(gen["ratio"] and gen["ratio"] >= 2),
        "retail_above_popularity": ret["hit_rate_at_5"] > ret["popularity_hit_rate_at_5"],
        "online_p99_under_20ms": speed["online_ms_p99"] < 20
        and result["sqlite"]["online_with_store_ms_p99"] < 20,
        "batch_under_60s": speed["batch_seconds_all_customers"] < 60,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
