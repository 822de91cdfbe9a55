"""Counts what a piece of work costs the store: transactions (read and write), new connections,
connection checkouts and threads started, through SQLAlchemy events and Thread.start."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event

from crm_store.engine import WRITE_OPTION
from crm_store.store import Store


@dataclass(slots=True)
class StoreCounts:
    reads: int = 0
    writes: int = 0
    connections: int = 0  # new DBAPI connections (on SQLite each is a new aiosqlite thread)
    checkouts: int = 0
    threads: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "reads": self.reads,
            "writes": self.writes,
            "connections": self.connections,
            "checkouts": self.checkouts,
            "threads": self.threads,
        }


@contextmanager
def counting(store: Store) -> Iterator[StoreCounts]:
    """Everything ``store`` does inside the block, counted."""
    counts = StoreCounts()
    sync_engine = store.engine.sync_engine
    pool = sync_engine.pool

    def on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            counts.writes += 1
        else:
            counts.reads += 1

    def on_connect(*_: Any) -> None:
        counts.connections += 1

    def on_checkout(*_: Any) -> None:
        counts.checkouts += 1

    real_start = threading.Thread.start

    def counted_start(thread: threading.Thread) -> None:
        counts.threads += 1
        real_start(thread)

    event.listen(sync_engine, "begin", on_begin)
    event.listen(pool, "connect", on_connect)
    event.listen(pool, "checkout", on_checkout)
    threading.Thread.start = counted_start  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        threading.Thread.start = real_start  # type: ignore[method-assign]
        event.remove(sync_engine, "begin", on_begin)
        event.remove(pool, "connect", on_connect)
        event.remove(pool, "checkout", on_checkout)
