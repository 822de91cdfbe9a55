"""The base every repository shares: its connection, the audit trail and the clock."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from crm_store.audit import AuditRepo


class Repo:
    def __init__(self, conn: AsyncConnection, audit: AuditRepo, *, now: datetime) -> None:
        self.conn = conn
        self.audit = audit
        self.now = now

    def dialect_insert(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that offers ``on_conflict_do_nothing`` on both SQLite and PostgreSQL."""
        if self.conn.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
