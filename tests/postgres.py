"""The PostgreSQL the store tests run on: a fresh database per test, created through the
server's maintenance database; a server that cannot be used fails the test, never skips it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest
import sqlalchemy as sa

from crm_store.engine import create_engine

SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
# Set to 1 on a machine without PostgreSQL: its tests are then skipped, and say why.
SKIP_VARIABLE = "CRM_TEST_SKIP_POSTGRES"
# Every server has one of these; the tests need no database of their own to exist first.
_MAINTENANCE_DATABASES = ("postgres", "template1")
_NO_SUCH_DATABASE = "3D000"


async def _execute(server: str, statement: str) -> None:
    """Run ``statement`` outside a transaction on the first maintenance database that exists."""
    for database in _MAINTENANCE_DATABASES:
        engine = create_engine(f"{server}/{database}")
        try:
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql(statement)
            return
        except sa.exc.DBAPIError as exc:
            missing = getattr(exc.orig, "sqlstate", None) == _NO_SUCH_DATABASE
            if not missing or database == _MAINTENANCE_DATABASES[-1]:
                raise
        finally:
            await engine.dispose()


async def create_database(
    server: str = SERVER, *, env: Mapping[str, str], template: str | None = None
) -> str:
    """A new database on ``server``, empty or a copy of the database at URL ``template``; its URL.
    Fails the test with what went wrong and how to fix it, or skips it when ``env`` opts out of
    PostgreSQL."""
    if env.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"PostgreSQL tests skipped: {SKIP_VARIABLE}=1")
    name = f"crm_test_{uuid.uuid4().hex[:10]}"
    try:
        copy = f" TEMPLATE {template.rpartition('/')[2]}" if template else ""
        await _execute(server, f"CREATE DATABASE {name}{copy}")
    except (OSError, sa.exc.SQLAlchemyError) as exc:
        where = sa.engine.make_url(server).render_as_string(hide_password=True)
        pytest.fail(
            f"PostgreSQL tests need a server at {where} that lets this role create databases, "
            f"and got {type(exc).__name__}: {exc}. Start PostgreSQL (trust auth for user postgres), "
            f"or set {SKIP_VARIABLE}=1 to skip the PostgreSQL tests on a machine without it.",
            pytrace=False,
        )
    return f"{server}/{name}"


async def drop_database(url: str) -> None:
    """Drop a database made by create_database (connections still open to it are ended)."""
    server, _, name = url.rpartition("/")
    await _execute(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
