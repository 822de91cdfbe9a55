"""tests/postgres.py: PostgreSQL tests fail, never skip, when the server cannot be used, unless
CRM_TEST_SKIP_POSTGRES=1 opts out; a fresh database needs no other database but the server's own."""

from __future__ import annotations

import os
import socket

import pytest
import sqlalchemy as sa

from crm_store.engine import create_engine
from tests import postgres

# These talk to the real server, so the opt-out applies to them as to every PostgreSQL test.
needs_server = pytest.mark.skipif(
    os.environ.get(postgres.SKIP_VARIABLE) == "1", reason=f"{postgres.SKIP_VARIABLE}=1"
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _outcome(server: str, env: dict[str, str]) -> BaseException:
    """What create_database raised: a fail or a skip (caught here, so a skip cannot pass as one)."""
    try:
        await postgres.create_database(server, env=env)
    except (pytest.fail.Exception, pytest.skip.Exception) as outcome:
        return outcome
    raise AssertionError(f"{server}: no failure and no skip")


async def _databases() -> set[str]:
    engine = create_engine(f"{postgres.SERVER}/postgres")
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(sa.text("SELECT datname FROM pg_database"))).scalars())
    finally:
        await engine.dispose()


async def test_an_unreachable_server_fails_with_how_to_fix_it() -> None:
    server = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}"
    failed = await _outcome(server, {})
    assert isinstance(failed, pytest.fail.Exception)
    message = str(failed)
    assert f"127.0.0.1:{server.rsplit(':', 1)[1]}" in message and "ConnectionRefusedError" in message
    assert "CRM_TEST_SKIP_POSTGRES=1" in message


@needs_server
async def test_an_unknown_role_fails_even_with_a_server_there() -> None:
    failed = await _outcome("postgresql+asyncpg://no_such_role_x@127.0.0.1:5432", {})
    assert isinstance(failed, pytest.fail.Exception)
    assert 'role "no_such_role_x" does not exist' in str(failed)


async def test_the_opt_out_skips_and_says_so() -> None:
    server = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}"
    skipped = await _outcome(server, {"CRM_TEST_SKIP_POSTGRES": "1"})
    assert isinstance(skipped, pytest.skip.Exception)
    assert str(skipped) == "PostgreSQL tests skipped: CRM_TEST_SKIP_POSTGRES=1"
    # Anything else is no opt-out.
    assert isinstance(await _outcome(server, {"CRM_TEST_SKIP_POSTGRES": "0"}), pytest.fail.Exception)


@needs_server
async def test_a_fresh_database_is_created_and_dropped() -> None:
    url = await postgres.create_database(env={})
    name = url.rsplit("/", 1)[1]
    assert url == f"{postgres.SERVER}/{name}" and name.startswith("crm_test_")
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT current_database()"))).scalar_one() == name
    finally:
        await engine.dispose()
    assert name in await _databases()
    await postgres.drop_database(url)
    assert name not in await _databases()


@needs_server
async def test_a_missing_maintenance_database_falls_back_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "_MAINTENANCE_DATABASES", ("crm_no_such_maintenance_db", "template1"))
    url = await postgres.create_database(env={})
    try:
        assert url.rsplit("/", 1)[1] in await _databases()
    finally:
        await postgres.drop_database(url)
