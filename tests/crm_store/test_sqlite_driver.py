"""The one-trip aiosqlite connection: what SQLAlchemy reads from a cursor is all there after one
trip, a BEGIN goes with the first statement, and an empty transaction costs no trip at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crm_store import sqlite_driver


class _Trips:
    """Counts the hand-offs to the connection's thread."""

    def __init__(self, connection: sqlite_driver.OneTripConnection) -> None:
        self.count = 0
        self._execute = connection._execute

        async def counted(fn: object, *args: object, **kwargs: object) -> object:
            self.count += 1
            return await self._execute(fn, *args, **kwargs)

        connection._execute = counted  # type: ignore[method-assign]


async def test_a_statement_its_rows_and_its_counts_come_back_in_one_trip(tmp_path: Path) -> None:
    connection = await sqlite_driver.connect(tmp_path / "d.db")
    try:
        assert connection._thread.daemon
        cursor = connection.cursor()
        await cursor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        trips = _Trips(connection)
        await cursor.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",), ("c",)])
        assert cursor.rowcount == 3
        await cursor.execute("INSERT INTO t (name) VALUES (?)", ("d",))
        assert cursor.lastrowid == 4
        await cursor.execute("SELECT id, name FROM t ORDER BY id")
        assert [d[0] for d in cursor.description] == ["id", "name"]
        assert await cursor.fetchone() == (1, "a")
        assert await cursor.fetchmany(2) == [(2, "b"), (3, "c")]
        assert await cursor.fetchall() == [(4, "d")]
        await cursor.close()
        assert trips.count == 3
    finally:
        await connection.close()


async def test_begin_rides_with_the_first_statement_and_an_empty_transaction_costs_nothing(
    tmp_path: Path,
) -> None:
    connection = await sqlite_driver.connect(tmp_path / "d.db")
    try:
        cursor = connection.cursor()
        await cursor.execute("CREATE TABLE t (n INTEGER)")
        trips = _Trips(connection)
        await cursor.execute("BEGIN IMMEDIATE")
        await connection.commit()  # nothing ran: no transaction, no trip
        assert trips.count == 0 and not connection._conn.in_transaction
        await cursor.execute("BEGIN")
        await cursor.execute("INSERT INTO t VALUES (1)")
        assert trips.count == 1 and connection._conn.in_transaction
        await connection.rollback()
        assert trips.count == 2 and not connection._conn.in_transaction
        await connection.rollback()  # nothing open: no trip
        assert trips.count == 2
    finally:
        await connection.close()


async def test_a_failing_statement_raises_and_the_transaction_can_be_rolled_back(tmp_path: Path) -> None:
    connection = await sqlite_driver.connect(tmp_path / "d.db")
    try:
        cursor = connection.cursor()
        await cursor.execute("CREATE TABLE t (n INTEGER NOT NULL)")
        connection.pending_begin = "BEGIN IMMEDIATE"
        await cursor.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(sqlite3.IntegrityError):
            await cursor.execute("INSERT INTO t VALUES (NULL)")
        await connection.rollback()
        await cursor.execute("SELECT count(*) FROM t")
        assert await cursor.fetchall() == [(0,)]
    finally:
        await connection.close()
