"""Benchmark `crm-bot import customers` on SQLite; prints one JSON object.

Writes a generated customer CSV of ``--rows`` rows (UTF-8, some non-ASCII names and emails,
custom columns) and imports it streamed from the file through handlers.imports (the function
the CLI calls) into a fresh migrated SQLite store; then imports the same file again with
``--upsert-by email`` (every row matched and unchanged, nothing written). A file a tenth as
long is imported first into its own store so the peak memory of the big import can be compared
with it (streamed in batches, the peak should hardly grow). The baseline writes the first
``--baseline-rows`` rows the simple way, one write transaction per row (``tx.customers.add``).

Run from the repository root: ``.venv/bin/python bench/csv_import.py [--rows 100000]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# First on the path: bench/handlers.py (a sibling script) must not shadow the handlers package.
sys.path.insert(0, str(ROOT))

from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from handlers.imports import ImportReport, import_customers  # noqa: E402

HEADER = ["name", "email", "phone", "company", "status", "tags", "industry", "city"]
FIRST = ["Anna", "Chloé", "Jürgen", "Mei", "Omar", "Zoë", "Lars", "Priya", "José", "Ngozi"]
LAST = ["Smith", "Dupont", "Weiß", "Chen", "Haddad", "Novák", "Berg", "Patel", "García", "Okafor"]
INDUSTRIES = ["retail", "logistics", "software", "health", "energy"]


def _write(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = FIRST[i % 10], LAST[(i // 10) % 10]
            writer.writerow(
                [
                    f"{first} {last} {i}",
                    f"{first.lower()}.{i}@firma{i % 97}.example",
                    f"+1 555 {i:07d}",
                    f"Company {i // 7}",
                    ("lead", "prospect", "active")[i % 3],
                    "vip,b2b" if i % 11 == 0 else "",
                    INDUSTRIES[i % 5],
                    "Zürich" if i % 2 else "Lyon",
                ]
            )


async def _fresh(path: Path) -> Store:
    store = Store.open(f"sqlite+aiosqlite:///{path}")
    await upgrade(store.engine)
    return store


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _import(store: Store, path: Path, upsert_by: str | None = None) -> tuple[float, ImportReport]:
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as handle:
        report = await import_customers(store, handle, actor="bench", upsert_by=upsert_by)
    return time.perf_counter() - started, report


async def _baseline(store: Store, path: Path, rows: int) -> float:
    """The first ``rows`` rows, one transaction per customer."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        wanted = [next(reader) for _ in range(rows)]
    started = time.perf_counter()
    for row in wanted:
        async with store.write("bench") as tx:
            await tx.customers.add(
                name=row["name"],
                email=row["email"],
                phone=row["phone"],
                company=row["company"],
                status=row["status"],
                tags=[t for t in row["tags"].split(",") if t],
                custom={"industry": row["industry"], "city": row["city"]},
            )
    return time.perf_counter() - started


async def main(rows: int, baseline_rows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        small_file, big_file = Path(tmp) / "small.csv", Path(tmp) / "big.csv"
        _write(small_file, rows // 10)
        _write(big_file, rows)
        small_store = await _fresh(Path(tmp) / "small.db")
        start_mb = _peak_mb()
        small_s, small = await _import(small_store, small_file)
        small_peak = _peak_mb()
        await small_store.close()
        store = await _fresh(Path(tmp) / "big.db")
        big_s, big = await _import(store, big_file)
        big_peak = _peak_mb()
        again_s, again = await _import(store, big_file, "email")
        async with store.read() as tx:
            stored = await tx.customers.count()
        await store.close()
        base_store = await _fresh(Path(tmp) / "base.db")
        base_s = await _baseline(base_store, big_file, baseline_rows)
        await base_store.close()
        size_mb = big_file.stat().st_size / 1e6
    per_s = big.rows / big_s
    base_per_s = baseline_rows / base_s
    return {
        "rows": big.rows,
        "file_mb": round(size_mb, 1),
        "created": big.imported,
        "skipped": big.rejected,
        "import_s": round(big_s, 2),
        "rows_per_s": round(per_s),
        "reimport_s": round(again_s, 2),
        "reimport_unchanged": again.unchanged,
        "reimport_created": again.imported,
        "customers_stored": stored,
        "baseline_rows": baseline_rows,
        "baseline_one_tx_per_row_per_s": round(base_per_s),
        "speedup_vs_baseline": round(per_s / base_per_s, 1),
        "small_rows": small.rows,
        "small_import_s": round(small_s, 2),
        "peak_rss_growth_small_mb": round(small_peak - start_mb, 1),
        "peak_rss_growth_big_over_small_mb": round(big_peak - small_peak, 1),
        "million_rows_estimate_min": round(1_000_000 / per_s / 60, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.rows, args.baseline_rows))))
