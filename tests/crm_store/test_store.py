"""Store.write and Store.read on SQLite: a write transaction holds the write lock from its
BEGIN (BEGIN IMMEDIATE), so its reads cannot go stale under another writer; a read does not."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from crm_store.engine import sqlite_path
from crm_store.store import Store


@contextmanager
def _other_writer(db_url: str) -> Iterator[sqlite3.Connection]:
    """A second connection that never waits for a lock: it answers "locked" at once."""
    path = sqlite_path(db_url)
    assert path is not None
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _can_take_write_lock(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    conn.execute("ROLLBACK")
    return True


async def test_a_write_transaction_holds_the_write_lock_before_its_first_write(
    store: Store, db_url: str
) -> None:
    with _other_writer(db_url) as other:
        assert _can_take_write_lock(other)
        async with store.write("test") as tx:
            # Only a read so far: with a deferred BEGIN the lock would still be free, and this
            # read's snapshot could be invalidated by another writer before we write.
            assert await tx.customers.get(1) is None
            assert not _can_take_write_lock(other)
        assert _can_take_write_lock(other)


async def test_a_read_transaction_leaves_the_write_lock_free(store: Store, db_url: str) -> None:
    with _other_writer(db_url) as other:
        async with store.read() as tx:
            assert await tx.customers.get(1) is None
            assert _can_take_write_lock(other)


async def test_read_then_write_waits_for_the_writer_holding_the_lock(store: Store) -> None:
    """One Store.write holds the lock; another does read-then-write meanwhile. The holder
    commits only once the other has either begun (and waits for the lock) or already read, so
    the outcome does not depend on timing: the second waits and reads the committed value
    (BEGIN IMMEDIATE), where a deferred BEGIN would read the old value and then fail with
    "database is locked"."""
    async with store.write("test") as tx:
        counter = await tx.customers.add(name="Counter", custom={"n": 0})
    holder_conn: list[Any] = []
    holding, other_begun_or_read = asyncio.Event(), asyncio.Event()

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if holding.is_set() and conn is not holder_conn[0] and statement.startswith("BEGIN IMMEDIATE"):
            other_begun_or_read.set()

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if holding.is_set() and conn is not holder_conn[0] and statement.lstrip().startswith("SELECT"):
            other_begun_or_read.set()

    async def increment(actor: str) -> None:
        async with store.write(actor) as tx:
            current = await tx.customers.get(counter.id)
            assert current is not None
            await tx.customers.update(counter.id, fields={}, custom={"n": current.custom["n"] + 1})
            if actor == "holder":
                holder_conn.append(tx.conn.sync_connection)
                holding.set()
                await asyncio.wait_for(other_begun_or_read.wait(), timeout=60)

    async def contender() -> None:
        await asyncio.wait_for(holding.wait(), timeout=60)
        await increment("contender")

    event.listen(store.engine.sync_engine, "before_cursor_execute", before)
    event.listen(store.engine.sync_engine, "after_cursor_execute", after)
    try:
        await asyncio.gather(increment("holder"), contender())
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", before)
        event.remove(store.engine.sync_engine, "after_cursor_execute", after)
    async with store.read() as tx:
        final = await tx.customers.get(counter.id)
    assert final is not None and final.custom == {"n": 2}
