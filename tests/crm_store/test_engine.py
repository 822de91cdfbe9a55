"""SQLite write mode: WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE under contention."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from crm_store.engine import BUSY_TIMEOUT_MS, add_missing_math, create_engine
from crm_store.store import Store

WRITERS = 8
OPERATIONS = 1_200


@pytest.mark.sqlite_only(reason="the SQLite pragmas (WAL, busy timeout, foreign keys) the engine sets")
async def test_pragmas(store: Store) -> None:
    async with store.read() as tx:
        mode = (await tx.conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one()
        timeout = (await tx.conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one()
        fks = (await tx.conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
    assert mode == "wal" and timeout == BUSY_TIMEOUT_MS >= 5_000 and fks == 1


async def _read_then_write(engine: sa.ext.asyncio.AsyncEngine, ops: int, *, immediate: bool) -> int:
    errors = 0
    for _ in range(ops):
        try:
            async with engine.connect() as conn:
                if immediate:
                    await conn.execution_options(crm_write=True)
                async with conn.begin():
                    value = (await conn.exec_driver_sql("SELECT n FROM counter")).scalar_one()
                    await conn.exec_driver_sql(f"UPDATE counter SET n = {value + 1}")
        except OperationalError as exc:
            assert "locked" in str(exc)
            errors += 1
    return errors


async def _contend(path: Path, *, immediate: bool) -> tuple[int, int]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.connect() as conn:
        await conn.execution_options(crm_write=True)
        async with conn.begin():
            await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS counter (n INTEGER)")
            await conn.exec_driver_sql("DELETE FROM counter")
            await conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    per = OPERATIONS // WRITERS
    results = await asyncio.gather(
        *(_read_then_write(engine, per, immediate=immediate) for _ in range(WRITERS))
    )
    async with engine.connect() as conn:
        final = (await conn.exec_driver_sql("SELECT n FROM counter")).scalar_one()
    await engine.dispose()
    return sum(results), final


async def test_begin_immediate_has_no_lock_errors_and_loses_no_update(tmp_path: Path) -> None:
    errors, final = await _contend(tmp_path / "c.db", immediate=True)
    assert errors == 0
    assert final == OPERATIONS  # read-then-write is serialised: no lost update


async def test_deferred_begin_fails_under_the_same_load(tmp_path: Path) -> None:
    """The control: the same harness with a deferred BEGIN hits "database is locked"."""
    errors, final = await _contend(tmp_path / "d.db", immediate=False)
    assert errors > 0
    assert final == OPERATIONS - errors


async def test_foreign_keys_enforced(store: Store) -> None:
    try:
        async with store.write("test") as tx:
            await tx.interactions.add(customer_id=999, rep_id=None, channel="t", kind="note", text="x")
    except Exception as exc:  # IntegrityError wrapped by the driver
        assert "foreign key" in str(exc).lower()
    else:
        raise AssertionError("foreign key not enforced")


async def test_exp_works_on_every_connection(store: Store) -> None:
    """The loyalty churn curve uses EXP(): built in here, or registered by the connect hook."""
    async with store.read() as tx:
        value = (await tx.conn.exec_driver_sql("SELECT exp(1), exp(NULL)")).one()
    assert math.isclose(value[0], math.e) and value[1] is None


class _NoMathConnection:
    """A real sqlite3 connection that answers as a build without math functions would."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:")
        self.registered: list[tuple[str, int, bool]] = []

    def cursor(self) -> _NoMathCursor:
        return _NoMathCursor(self.conn.cursor(), registered=bool(self.registered))

    def create_function(self, name: str, narg: int, func: Any, *, deterministic: bool = False) -> None:
        self.registered.append((name, narg, deterministic))
        self.conn.create_function(name, narg, func, deterministic=deterministic)


class _NoMathCursor:
    def __init__(self, cursor: sqlite3.Cursor, *, registered: bool) -> None:
        self.cursor = cursor
        self.registered = registered

    def execute(self, sql: str) -> sqlite3.Cursor:
        if "exp(" in sql and not self.registered:
            raise sqlite3.OperationalError("no such function: exp")
        return self.cursor.execute(sql)

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()

    def close(self) -> None:
        self.cursor.close()


def test_exp_is_registered_only_where_sqlite_lacks_it() -> None:
    builtin = sqlite3.connect(":memory:")
    has_math = True
    try:
        builtin.execute("SELECT exp(0)")
    except sqlite3.OperationalError:
        has_math = False
    assert add_missing_math(builtin) is not has_math  # this build: nothing to add when it has exp
    builtin.close()

    missing = _NoMathConnection()
    assert add_missing_math(missing) is True
    assert missing.registered == [("exp", 1, True)]
    rows = missing.cursor().execute("SELECT exp(1), exp(NULL), 1.0 / (1.0 + exp(1000))").fetchall()
    assert math.isclose(rows[0][0], math.e) and rows[0][1] is None and rows[0][2] == 0.0
    missing.conn.close()
