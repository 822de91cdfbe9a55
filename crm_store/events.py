"""Processed platform events: each event id is answered once, whatever retries and replicas deliver."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from crm_store.repo import Repo
from crm_store.tables import processed_events

# What a delivery finds: it now holds the event, another delivery holds it, or it was answered.
Hold = Literal["taken", "held", "answered"]


class EventRepo(Repo):
    def _key(self, platform: str, event_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        return processed_events.c.platform == platform, processed_events.c.event_id == event_id[:128]

    async def claim(self, platform: str, event_id: str) -> bool:
        """Record ``(platform, event_id)`` as answered at once: True the first time, False for
        every later delivery (one use of a request signature)."""
        values = {
            "platform": platform,
            "event_id": event_id[:128],
            "received_at": self.now,
            "answered_at": self.now,
        }
        statement = self.dialect_insert(processed_events).values(**values).on_conflict_do_nothing()
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    async def take(self, platform: str, event_id: str, *, ttl: timedelta) -> Hold:
        """Hold the event for ``ttl`` to answer it: "taken" when it is new, or unanswered and not
        held (its last holder released it, or died and let the lease lapse); else who has it."""
        lease = self.now + ttl
        values = {"platform": platform, "event_id": event_id[:128], "received_at": self.now}
        inserted = await self.conn.execute(
            self.dialect_insert(processed_events)
            .values(**values, lease_until=lease, answered_at=None)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount:
            return "taken"
        free = or_(processed_events.c.lease_until.is_(None), processed_events.c.lease_until <= self.now)
        taken = await self.conn.execute(
            update(processed_events)
            .where(*self._key(platform, event_id), processed_events.c.answered_at.is_(None), free)
            .values(lease_until=lease)
        )
        if taken.rowcount:
            return "taken"
        answered = await self.conn.execute(
            select(processed_events.c.answered_at).where(*self._key(platform, event_id))
        )
        return "held" if answered.scalar_one_or_none() is None else "answered"

    async def renew(self, platform: str, event_id: str, *, ttl: timedelta) -> None:
        """Still answering: keep other deliveries waiting for another ``ttl``."""
        await self.conn.execute(
            update(processed_events)
            .where(*self._key(platform, event_id), processed_events.c.answered_at.is_(None))
            .values(lease_until=self.now + ttl)
        )

    async def answered(self, platform: str, event_id: str) -> None:
        """The answer went out: every later delivery of the event stops."""
        await self.conn.execute(
            update(processed_events)
            .where(*self._key(platform, event_id))
            .values(answered_at=self.now, lease_until=None)
        )

    async def release(self, platform: str, event_id: str) -> None:
        """Answering failed: the next delivery may take the event at once."""
        await self.conn.execute(
            update(processed_events)
            .where(*self._key(platform, event_id), processed_events.c.answered_at.is_(None))
            .values(lease_until=None)
        )

    async def purge_before(self, moment: datetime) -> int:
        """Forget events older than any retry could be (Slack retries within minutes)."""
        result = await self.conn.execute(
            delete(processed_events).where(processed_events.c.received_at < moment)
        )
        return int(result.rowcount or 0)
