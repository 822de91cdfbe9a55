"""Engine set-up for SQLite (WAL, busy timeout, BEGIN IMMEDIATE for writes) and PostgreSQL, pooled."""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from config.settings import sqlite_path
from crm_store import sqlite_driver

_LOGGER = logging.getLogger(__name__)

# Marks a connection whose next transaction writes; the begin hook turns it into BEGIN IMMEDIATE.
WRITE_OPTION = "crm_write"
BUSY_TIMEOUT_MS = 10_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """How many connections one process keeps (CRM_DB_POOL_SIZE, CRM_DB_MAX_OVERFLOW,
    CRM_DB_POOL_TIMEOUT). PostgreSQL: ``size`` stay open, ``overflow`` more are opened in a
    burst and closed when handed back. SQLite: ``size`` reader connections plus the one writer
    (the Store queues the rest; ``overflow`` does not apply). ``timeout``: seconds a transaction
    waits for a connection, or on SQLite for its turn, before it fails with an error."""

    size: int = 5
    overflow: int = 5
    timeout: float = 30.0


def create_engine(url: str, *, echo: bool = False, pool: PoolSettings | None = None) -> AsyncEngine:
    pool = pool or PoolSettings()
    if is_sqlite(url):
        return _create_sqlite_engine(url, echo=echo, pool=pool)
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,  # a connection the server dropped (restart, idle cut) is replaced, not failed
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
    )


def _create_sqlite_engine(url: str, *, echo: bool, pool: PoolSettings) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # Connections are kept: opening one costs a thread, a connect, the PRAGMAs and the math
    # probe. The Store lets at most ``size`` readers and one writer in at a time per event loop,
    # so the pool itself never has to make anyone wait (its queue would bind to one loop, and
    # tests run many); anything opened beyond it (migrations, another loop) is closed on return.
    options: dict[str, Any] = {}
    if path is not None:
        options["async_creator"] = partial(sqlite_driver.connect, path)
    engine = create_async_engine(
        url, echo=echo, poolclass=AsyncAdaptedQueuePool, pool_size=pool.size + 1, max_overflow=-1, **options
    )
    configure_sqlite(engine)
    return engine


def configure_sqlite(engine: AsyncEngine) -> None:
    """Set each new connection up once (WAL, busy timeout, foreign keys, exp()) and open write
    transactions with BEGIN IMMEDIATE."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so we can emit BEGIN IMMEDIATE
        # (the driver's implicit deferred BEGIN fails at once with "database is locked"
        # when a read-then-write transaction meets another writer).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        add_missing_math(dbapi_connection)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        statement = "BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN"
        driver = conn.connection.driver_connection
        if isinstance(driver, sqlite_driver.OneTripConnection):
            driver.pending_begin = statement  # sent with the first statement, in the same trip
        else:
            conn.exec_driver_sql(statement)


def _exp(value: float | None) -> float | None:
    """SQLite's own exp(): NULL stays NULL and an overflow is infinity, not an error."""
    if value is None:
        return None
    try:
        return math.exp(value)
    except OverflowError:
        return math.inf


def add_missing_math(dbapi_connection: Any) -> bool:
    """Register ``exp`` when this SQLite lacks its math functions (built without
    SQLITE_ENABLE_MATH_FUNCTIONS, or older than 3.35): the loyalty recompute needs it. True if
    it had to be added."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT exp(0)")
        cursor.fetchall()
        return False
    except sqlite3.OperationalError:
        dbapi_connection.create_function("exp", 1, _exp, deterministic=True)
        _LOGGER.debug("SQLite has no exp(); registered a Python one")
        return True
    finally:
        cursor.close()
