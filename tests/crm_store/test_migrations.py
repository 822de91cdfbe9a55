"""Migrations: they build exactly the schema of tables.py, on SQLite and (when up) PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crm_store.engine import create_engine
from crm_store.migrate import current_revision, head_revision, upgrade
from crm_store.tables import metadata


def _diff(sync_conn: sa.Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(sync_conn), metadata))


async def test_sqlite_migrations_match_metadata(db_url: str) -> None:
    engine = create_engine(db_url)
    assert await current_revision(engine) == head_revision()
    assert await upgrade(engine) == head_revision()  # idempotent
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


async def test_postgres_migrations_match_metadata(pg_url: str) -> None:
    engine = create_engine(pg_url)
    assert await upgrade(engine) == head_revision()
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []
    await engine.dispose()


async def test_handlers_run_on_postgres(pg_url: str) -> None:
    """The same command flow as on SQLite, on PostgreSQL (aware timestamps, RETURNING, JSON)."""
    from crm_store.store import Store
    from handlers.context import Services
    from handlers.lookup import CustomerLookup
    from handlers.people import customer_actor, staff_actor
    from handlers.router import Router
    from tests.conftest import Chat, FakeClock

    store = Store.open(pg_url, clock=FakeClock())
    await upgrade(store.engine)
    try:
        router = Router(Services(store=store, lookup=CustomerLookup(store, refresh_seconds=0)))
        rep = await staff_actor(store, platform="slack", user_id="U1", display_name="Sam", role="rep")
        chat = Chat(router, rep)
        assert "Added Acme Corp" in (await chat.say("add Acme Corp email=ops@acme.example industry=x")).text
        assert (await chat.say("find acmee corp")).title == "Acme Corp (#1)"
        assert "Logged a call" in (await chat.say("log acme call: renewal")).text
        assert "tomorrow 10:00" in (await chat.say("remind acme tomorrow 10:00: quote")).text
        customer = await customer_actor(store, platform="telegram", user_id="9", display_name="Carla")
        assert "is open" in (await Chat(router, customer).say("/ticket Broken\nIt does not start")).text
        assert "Replied" in (await chat.say("reply 1 on it")).text
        assert "Status: pending" in "\n".join(
            f"{f.label}: {f.value}" for f in (await chat.say("ticket 1")).fields
        )
    finally:
        await store.close()
