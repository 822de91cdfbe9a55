"""The Store's connection model on SQLite: pooled connections set up once, one in-process writer
queue that never meets "database is locked" (also with another process writing), BEGIN
IMMEDIATE for writes (a write holds the lock from its BEGIN; a read does not), clean
cancellation and close; and PostgreSQL's bounded pool."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.exc import OperationalError

from config.settings import sqlite_path
from crm_store.engine import BUSY_TIMEOUT_MS, PoolSettings
from crm_store.store import Store, StoreBusy
from tests.conftest import FakeClock
from tests.other_writer import finish, other_process
from tests.store_counter import counting

pytestmark = pytest.mark.sqlite_only(
    reason="SQLite's connection model (one writer turn, file locks, connection threads); on "
    "PostgreSQL writers run side by side under READ COMMITTED and the asyncpg pool belongs to one "
    "event loop (its bound is test_postgres_pool_is_bounded_as_configured)"
)

WRITERS = 1_200
OTHER_PROCESS_OPS = 300
SLOW_QUERY = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) SELECT count(*) FROM c"
)


async def _counter(store: Store) -> None:
    async with store.write("test") as tx:
        await tx.conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)")
        await tx.conn.exec_driver_sql("DELETE FROM counter")
        await tx.conn.exec_driver_sql("INSERT INTO counter VALUES (0)")


async def _count(store: Store) -> int:
    async with store.read() as tx:
        return int((await tx.conn.exec_driver_sql("SELECT n FROM counter")).scalar_one())


async def _increment(store: Store) -> None:
    async with store.write("test") as tx:
        value = (await tx.conn.exec_driver_sql("SELECT n FROM counter")).scalar_one()
        await asyncio.sleep(0)  # let every other task pile up behind this one
        await tx.conn.exec_driver_sql(f"UPDATE counter SET n = {value + 1}")


async def test_hundreds_of_writers_and_another_process_never_see_a_lock_and_lose_nothing(
    store: Store, db_url: str
) -> None:
    await _counter(store)
    async with other_process(db_url, OTHER_PROCESS_OPS, "counter") as other:
        results = await asyncio.gather(*(_increment(store) for _ in range(WRITERS)), return_exceptions=True)
        assert await finish(other) == "errors 0"
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    # Read-then-write transactions of both processes were serialised: no update was lost.
    assert await _count(store) == WRITERS + OTHER_PROCESS_OPS


async def test_write_takes_the_write_lock_at_begin_and_read_does_not(store: Store, db_url: str) -> None:
    """BEGIN IMMEDIATE: a write transaction holds SQLite's write lock from its start, even while
    it has only read, so a read-then-write cannot fail halfway. A read transaction does not."""
    path = sqlite_path(db_url)
    assert path is not None
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    traced: list[str] = []
    try:
        async with store.write("test") as tx:
            raw = await tx.conn.get_raw_connection()
            raw.driver_connection._conn.set_trace_callback(traced.append)  # type: ignore[union-attr]
            await tx.customers.count()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            raw.driver_connection._conn.set_trace_callback(None)  # type: ignore[union-attr]
        assert traced[0] == "BEGIN IMMEDIATE"
        async with store.read() as tx:
            await tx.customers.count()
            other.execute("BEGIN IMMEDIATE")  # a reader leaves the write lock free
            other.execute("ROLLBACK")
    finally:
        other.close()


async def test_connections_are_reused_and_each_is_set_up_once(store: Store) -> None:
    async def read_pragmas() -> tuple[str, int, int]:
        async with store.read() as tx:
            mode = (await tx.conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
            timeout = (await tx.conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
            fks = (await tx.conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
            await asyncio.sleep(0.01)  # overlap, so several pooled connections are in use
            return mode, timeout, fks

    await asyncio.gather(*(read_pragmas() for _ in range(20)))  # warm: the pool is full
    with counting(store) as counts:
        seen = await asyncio.gather(*(read_pragmas() for _ in range(50)))
        for _ in range(20):
            async with store.write("test") as tx:
                await tx.customers.count()
    assert set(seen) == {("wal", BUSY_TIMEOUT_MS, 1)}  # every connection was set up
    assert counts.reads == 50 and counts.writes == 20
    assert counts.connections == 0 and counts.threads == 0  # none opened, none started


async def test_connections_stay_within_the_readers_and_the_writer(db_url: str) -> None:
    store = Store.open(db_url, pool=PoolSettings(size=3))
    busy, most = 0, 0

    async def read() -> None:
        nonlocal busy, most
        async with store.read() as tx:
            busy += 1
            most = max(most, busy)
            await tx.customers.count()
            await asyncio.sleep(0.01)
            busy -= 1

    try:
        with counting(store) as counts:
            await asyncio.gather(*(read() for _ in range(30)), *(_write_nothing(store) for _ in range(10)))
        assert most == 3  # readers queue for one of the three reader connections
        assert counts.connections <= 4  # three readers and the writer
    finally:
        await store.close()


async def _write_nothing(store: Store) -> None:
    async with store.write("test") as tx:
        await tx.customers.count()


async def test_a_read_inside_a_write_does_not_wait_behind_readers_waiting_to_write(db_url: str) -> None:
    """Every reader slot taken by a task that, inside its read, waits to write; the writer reads
    inside its write: it must not queue behind them (they wait for it)."""
    store = Store.open(db_url, pool=PoolSettings(size=2, timeout=60))
    writing = asyncio.Event()

    async def writer() -> int:
        async with store.write("test") as tx:
            writing.set()
            await asyncio.sleep(0.05)  # the readers take their slots and queue to write
            async with store.read() as inner:
                return await inner.customers.count() + await tx.customers.count()

    async def reader_then_writer() -> None:
        await writing.wait()
        async with store.read():
            await _write_nothing(store)

    try:
        results = await asyncio.wait_for(
            asyncio.gather(writer(), reader_then_writer(), reader_then_writer()), timeout=60
        )
        assert results[0] == 0
    finally:
        await store.close()


async def test_a_write_inside_a_write_of_the_same_task_fails_at_once(store: Store) -> None:
    with pytest.raises(RuntimeError, match="wait for itself"):
        async with store.write("test"), store.write("test"):
            pass
    async with store.write("test") as tx:  # the turn was given back
        assert await tx.customers.count() == 0


async def test_waiting_too_long_for_the_turn_to_write_fails_clearly_and_writes_nothing(db_url: str) -> None:
    store = Store.open(db_url, pool=PoolSettings(timeout=0.2))
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with store.write("test"):
            held.set()
            await release.wait()

    task = asyncio.create_task(holder())
    try:
        await held.wait()
        with pytest.raises(StoreBusy, match=r"waited 0\.2 s to write"):
            async with store.write("test") as tx:
                await tx.customers.add(name="Never")
        release.set()
        await task
        async with store.read() as tx:
            assert await tx.customers.count() == 0
    finally:
        release.set()
        await store.close()


async def test_a_cancelled_query_gives_its_connection_back_and_the_next_writer_waits_for_it(
    store: Store,
) -> None:
    async def slow() -> None:
        async with store.write("test") as tx:
            await tx.conn.exec_driver_sql(SLOW_QUERY)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)  # the query is running on the connection's thread
    task.cancel()
    task.cancel()  # twice, as a shutdown that cancels what is left does
    with pytest.raises(asyncio.CancelledError):
        await task
    # The next writer starts only once the cancelled one's connection is back: never a lock.
    async with store.write("test") as tx:
        await tx.customers.add(name="After")
    pool = store.engine.sync_engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_close_leaves_no_connection_thread_running(db_url: str) -> None:
    store = Store.open(db_url)
    await asyncio.gather(*(_write_nothing(store) for _ in range(5)), *(_read(store) for _ in range(10)))
    workers = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    assert workers and all(t.daemon for t in workers)  # none could keep the process alive
    await store.close()
    for thread in workers:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in workers)


async def _read(store: Store) -> None:
    async with store.read() as tx:
        await tx.customers.count()
        await asyncio.sleep(0.01)


def test_one_store_serves_one_event_loop_after_another(db_url: str) -> None:
    """Tests and the CLI run several loops in turn; the store's queues belong to each loop."""
    store = Store.open(db_url, clock=FakeClock())

    async def work(name: str) -> int:
        await asyncio.gather(*(_write_nothing(store) for _ in range(5)), *(_read(store) for _ in range(5)))
        async with store.write("test") as tx:
            await tx.customers.add(name=name)
        async with store.read() as tx:
            return await tx.customers.count()

    assert asyncio.run(work("First")) == 1
    assert asyncio.run(work("Second")) == 2
    asyncio.run(store.close())


async def test_postgres_pool_is_bounded_as_configured(pg_url: str) -> None:
    from crm_store.migrate import upgrade

    store = Store.open(pg_url, pool=PoolSettings(size=2, overflow=1, timeout=0.5))
    release = asyncio.Event()
    all_held = asyncio.Event()
    held = 0

    async def hold() -> None:
        nonlocal held
        async with store.read() as tx:
            await tx.customers.count()
            held += 1
            if held == 3:
                all_held.set()
            await release.wait()

    try:
        await upgrade(store.engine)
        pool = store.engine.sync_engine.pool
        assert pool.size() == 2  # type: ignore[attr-defined]
        holders = [asyncio.create_task(hold()) for _ in range(3)]
        await asyncio.wait_for(all_held.wait(), timeout=60)
        with pytest.raises(StoreBusy, match=r"waited 0\.5 s for a connection"):
            async with store.read() as tx:
                await tx.customers.count()
        release.set()
        await asyncio.gather(*holders)
        async with store.write("test") as tx:  # the pool recovers at once
            await tx.customers.add(name="After the burst")
    finally:
        release.set()
        await store.close()


def test_store_busy_is_a_timeout() -> None:
    assert issubclass(StoreBusy, TimeoutError)
    assert not issubclass(StoreBusy, OperationalError)  # never mistaken for "database is locked"


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


async def test_an_urgent_write_goes_ahead_of_the_waiting_ones_never_of_the_one_writing(store: Store) -> None:
    order: list[str] = []
    writing = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with store.write("t") as tx:
            await tx.events.claim("test", "first")
            order.append("first")
            writing.set()
            await release.wait()

    async def write(name: str, *, urgent: bool = False) -> None:
        async with store.write("t", urgent=urgent) as tx:
            await tx.events.claim("test", name)
            order.append(name)

    holder = asyncio.create_task(first())
    await writing.wait()
    waiting = [asyncio.create_task(write(f"ordinary-{n}")) for n in range(3)]
    await asyncio.sleep(0)  # queued for the turn, in this order
    urgent = [asyncio.create_task(write(f"urgent-{n}", urgent=True)) for n in range(2)]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *waiting, *urgent)
    assert order == ["first", "urgent-0", "urgent-1", "ordinary-0", "ordinary-1", "ordinary-2"]


async def test_a_writer_cancelled_while_waiting_or_as_its_turn_comes_passes_the_turn_on(store: Store) -> None:
    release = asyncio.Event()
    writing = asyncio.Event()

    async def holder() -> None:
        async with store.write("t"):
            writing.set()
            await release.wait()

    async def writer(name: str) -> str:
        async with store.write("t") as tx:
            await tx.events.claim("test", name)
        return name

    held = asyncio.create_task(holder())
    await writing.wait()
    gone = asyncio.create_task(writer("gone"))
    kept = asyncio.create_task(writer("kept"))
    await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0)
    gone.cancel()  # the turn may just have been handed to it
    await held
    assert await kept == "kept"
    with pytest.raises(asyncio.CancelledError):
        await gone
    async with store.write("t") as tx:  # the turn is free again
        assert await tx.events.claim("test", "after")
