"""A migrated SQLite store holding a synthetic customer book, built once and cached for benches."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.synthetic_book import make_book
from crm_store.migrate import upgrade
from crm_store.store import Store

CACHE_DIR = Path(os.environ.get("CRM_BENCH_CACHE", "/tmp/crm-bench"))
# Rows per insert transaction: large enough to be fast, small enough to keep memory flat.
BATCH = 50_000


async def _fill(url: str, size: int, seed: int) -> None:
    store = Store.open(url)
    try:
        await upgrade(store.engine)
        book = make_book(size, seed)
        for start in range(0, size, BATCH):
            rows = [
                {"name": c.name, "company": c.company, "email": c.email, "phone": c.phone}
                for c in book[start : start + BATCH]
            ]
            async with store.write("bench:book") as tx:
                await tx.customers.add_many(rows, source="bench")
    finally:
        await store.close()


def book_db(size: int, seed: int = 7) -> Path:
    """The cached book of ``size`` customers (ids 1..size, as bench.synthetic_book makes them).

    Built into a temporary file and renamed, so an interrupted build never leaves a file
    that looks finished.  Callers copy it before a run that writes (see copy_of).
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    target = CACHE_DIR / f"book-{size}-seed{seed}.db"
    if not target.exists():
        building = target.with_suffix(f".building-{os.getpid()}")
        building.unlink(missing_ok=True)
        asyncio.run(_fill(f"sqlite+aiosqlite:///{building}", size, seed))
        os.replace(building, target)
    return target


def copy_of(source: Path, directory: Path) -> Path:
    """A private copy of a cached book in ``directory`` (the bot migrates and writes to it)."""
    target = directory / "crm.db"
    shutil.copyfile(source, target)
    return target


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["1000000"]:
        print(book_db(int(arg)))
