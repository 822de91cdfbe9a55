"""SQLite write mode: WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE under contention."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from crm_store.engine import BUSY_TIMEOUT_MS, create_engine
from crm_store.store import Store

WRITERS = 8
OPERATIONS = 1_200


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
        assert "FOREIGN KEY" in str(exc)
    else:
        raise AssertionError("foreign key not enforced")
