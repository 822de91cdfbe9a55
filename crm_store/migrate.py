"""Applies Alembic migrations to the store's database, at start and from `crm-bot migrate`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from crm_store.engine import WRITE_OPTION

_LOGGER = logging.getLogger(__name__)
_MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass(frozen=True, slots=True)
class MigrationRun:
    """What one upgrade did: the revision before, the one after, and those applied in between."""

    before: str | None
    after: str
    applied: tuple[str, ...]  # oldest first


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    def _current(sync_conn: Any) -> str | None:
        rev: str | None = MigrationContext.configure(sync_conn).get_current_revision()
        return rev

    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str:
    """Bring the database to ``revision``; returns the revision it ends at."""
    cfg = alembic_config()

    def _upgrade(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.connect() as conn:
        # Writes take the SQLite write lock up front, so two starting replicas queue instead of failing.
        await conn.execution_options(**{WRITE_OPTION: True})
        async with conn.begin():
            await conn.run_sync(_upgrade)
    final = await current_revision(engine)
    _LOGGER.info("store at revision %s", final)
    return final or ""


async def migrate(engine: AsyncEngine) -> MigrationRun:
    """Upgrade to head and say what changed (for `crm-bot migrate`)."""
    before = await current_revision(engine)
    after = await upgrade(engine)
    script = ScriptDirectory.from_config(alembic_config())
    applied = [r.revision for r in script.iterate_revisions(after, before or "base")] if after else []
    return MigrationRun(before=before, after=after, applied=tuple(reversed(applied)))
