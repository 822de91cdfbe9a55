"""Named leases: at most one holder of an unexpired lease, taken and renewed by conditional
writes that work alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update

from crm_store.repo import Repo
from crm_store.tables import leases


class LeaseRepo(Repo):
    async def acquire(self, name: str, *, holder: str, ttl: timedelta) -> bool:
        """Take or renew ``name`` for ``ttl``; True if ``holder`` now holds it. The UPDATE only
        matches our own or an expired row, and the INSERT only a missing one, so of two
        replicas racing for it exactly one wins (PostgreSQL re-checks the WHERE after the row
        lock; SQLite runs one write transaction at a time)."""
        renewed = await self.conn.execute(
            update(leases)
            .where(leases.c.name == name, or_(leases.c.holder == holder, leases.c.expires_at <= self.now))
            .values(holder=holder, expires_at=self.now + ttl)
        )
        if renewed.rowcount:
            return True
        inserted = await self.conn.execute(
            self.dialect_insert(leases)
            .values(name=name, holder=holder, expires_at=self.now + ttl, acquired_at=self.now)
            .on_conflict_do_nothing()
        )
        return bool(inserted.rowcount)

    async def release(self, name: str, *, holder: str) -> bool:
        """Give ``name`` up at once (a clean stop), so another replica need not wait out the ttl."""
        result = await self.conn.execute(
            update(leases).where(leases.c.name == name, leases.c.holder == holder).values(expires_at=self.now)
        )
        return bool(result.rowcount)

    async def holder(self, name: str) -> str | None:
        """Who holds ``name`` now, if anyone."""
        query = select(leases.c.holder).where(leases.c.name == name, leases.c.expires_at > self.now)
        return (await self.conn.execute(query)).scalar_one_or_none()
