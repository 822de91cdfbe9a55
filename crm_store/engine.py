"""Engine set-up for SQLite (WAL, busy timeout, BEGIN IMMEDIATE for writes) and PostgreSQL."""

from __future__ import annotations

import logging
import math
import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from config.settings import sqlite_path

_LOGGER = logging.getLogger(__name__)

# Marks a connection whose next transaction writes; the begin hook turns it into BEGIN IMMEDIATE.
WRITE_OPTION = "crm_write"
BUSY_TIMEOUT_MS = 10_000


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if is_sqlite(url):
        return _create_sqlite_engine(url, echo=echo)
    return create_async_engine(url, echo=echo, pool_pre_ping=True)


def _create_sqlite_engine(url: str, *, echo: bool) -> AsyncEngine:
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # NullPool: aiosqlite runs each connection on its own thread; pooling buys little and
    # keeps file handles open across event loops (tests open many loops).
    engine = create_async_engine(url, echo=echo, poolclass=NullPool)

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
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


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
