"""aiosqlite connections that run each statement, with its rows, in one trip to their thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite

# A BEGIN (set by the engine's begin hook, or run as SQL) is kept back and sent with the
# transaction's first statement: a trip fewer, and none at all for a transaction that runs nothing.
_BEGINS = frozenset({"BEGIN", "BEGIN IMMEDIATE"})

_Outcome = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, sql: str, parameters: Any, *, begin: str | None, many: bool) -> _Outcome:
    """On the connection's thread: the statement, all its rows, and what the cursor reports."""
    cursor = conn.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """The part of an aiosqlite cursor SQLAlchemy's adapter uses, each statement one trip: the
    plain cursor takes four (open, execute, fetch, close), each a thread hand-off."""

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.arraysize = 1
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        if not parameters and sql in _BEGINS:
            self._connection.pending_begin = sql
            self.description, self.rowcount, self.lastrowid, self._rows = None, -1, None, []
            return self
        outcome = await self._connection.run(sql, parameters, many=False)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        outcome = await self._connection.run(sql, list(parameters), many=True)
        self.description, self.rowcount, self.lastrowid, self._rows = outcome
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement; a BEGIN waits for the
    transaction's first statement and goes with it."""

    pending_begin: str | None = None

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def run(self, sql: str, parameters: Any, *, many: bool) -> _Outcome:
        begin, self.pending_begin = self.pending_begin, None
        work = partial(_run, self._conn, sql, parameters, begin=begin, many=many)
        result: _Outcome = await self._execute(work)  # type: ignore[no-untyped-call]
        return result

    def _idle(self) -> bool:
        """No transaction open: a commit or rollback has nothing to do (the pool rolls back
        every connection handed back to it, mostly after a commit)."""
        if self.pending_begin is not None:
            self.pending_begin = None  # nothing ran: the transaction never began
            return True
        # Read between statements, never while one runs on the thread: this connection is
        # used by one task at a time.
        return not self._conn.in_transaction

    async def commit(self) -> None:
        if not self._idle():
            await super().commit()

    async def rollback(self) -> None:
        if not self._idle():
            await super().rollback()


async def connect(database: str | Path) -> OneTripConnection:
    """A connection on a daemon thread: one left open by mistake never keeps the process alive."""
    connection = OneTripConnection(partial(sqlite3.connect, str(database), check_same_thread=False), 64)
    connection._thread.daemon = True
    await connection
    return connection
