"""Processed platform events: claim an event id once, so retries and replicas never handle it twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from crm_store.repo import Repo
from crm_store.tables import processed_events


class EventRepo(Repo):
    async def claim(self, platform: str, event_id: str) -> bool:
        """True the first time ``(platform, event_id)`` is seen, False for every later delivery."""
        values = {"platform": platform, "event_id": event_id[:128], "received_at": self.now}
        statement = self.dialect_insert(processed_events).values(**values).on_conflict_do_nothing()
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    async def purge_before(self, moment: datetime) -> int:
        """Forget events older than any retry could be (Slack retries within minutes)."""
        result = await self.conn.execute(
            delete(processed_events).where(processed_events.c.received_at < moment)
        )
        return int(result.rowcount or 0)
