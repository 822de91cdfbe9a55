"""The inbox: raw incoming updates stored before they are confirmed to the platform, claimed
by one worker at a time, and marked done once answered."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from crm_store.repo import Repo
from crm_store.tables import inbox

CLAIM_TTL = timedelta(minutes=2)  # a worker that died holding a row frees it after this
MAX_ATTEMPTS = 5  # then the row is 'failed' and kept for an operator, not retried forever
MAX_ERROR = 200


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 900))


class InboxRepo(Repo):
    async def add(
        self,
        platform: str,
        event_id: str,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str | None = None,
        claim_ttl: timedelta | None = None,
    ) -> bool:
        """Store an update; False when that ``event_id``, or an update carrying the same message
        or press (``dedupe_key``), is already here: a re-delivery. With ``claim_ttl`` a new row
        is claimed by this worker at once, as ``claim`` would (one write instead of two)."""
        values = {
            "platform": platform,
            "event_id": event_id[:128],
            "dedupe_key": dedupe_key[:128] if dedupe_key is not None else None,
            "payload": dict(payload),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": self.now,
            "received_at": self.now,
        }
        if claim_ttl is not None:
            values.update(state="working", attempts=1, lease_until=self.now + claim_ttl)
        result = await self.conn.execute(self.dialect_insert(inbox).values(**values).on_conflict_do_nothing())
        return bool(result.rowcount)

    def _claimable(self, *, due_only: bool) -> ColumnElement[bool]:
        pending = inbox.c.state == "pending"
        if due_only:
            pending = and_(pending, inbox.c.next_attempt_at <= self.now)
        abandoned = and_(inbox.c.state == "working", inbox.c.lease_until <= self.now)
        return or_(pending, abandoned)

    async def unfinished(self, platform: str, *, due_only: bool = True, limit: int = 100) -> list[str]:
        """Event ids waiting to be handled, oldest first; ``due_only=False`` (at start) also
        takes rows still backing off after a failure."""
        query = (
            select(inbox.c.event_id)
            .where(inbox.c.platform == platform, self._claimable(due_only=due_only))
            .order_by(inbox.c.id)
            .limit(limit)
        )
        return [str(v) for v in (await self.conn.execute(query)).scalars()]

    async def claim(
        self, platform: str, event_id: str, *, due_only: bool = True, ttl: timedelta = CLAIM_TTL
    ) -> dict[str, Any] | None:
        """The payload if this worker now owns the row; None if it is done, failed or another
        worker's."""
        claimed = await self.conn.execute(
            update(inbox)
            .where(
                inbox.c.platform == platform,
                inbox.c.event_id == event_id,
                self._claimable(due_only=due_only),
            )
            .values(state="working", lease_until=self.now + ttl, attempts=inbox.c.attempts + 1)
        )
        if not claimed.rowcount:
            return None
        query = select(inbox.c.payload).where(inbox.c.platform == platform, inbox.c.event_id == event_id)
        payload = (await self.conn.execute(query)).scalar_one()
        return dict(payload or {})

    async def finish(self, platform: str, event_id: str) -> None:
        """Done: the payload (customer text) goes; the id stays to refuse re-deliveries."""
        await self.conn.execute(
            update(inbox)
            .where(inbox.c.platform == platform, inbox.c.event_id == event_id)
            .values(state="done", payload={}, lease_until=None, done_at=self.now, last_error=None)
        )

    async def release(self, platform: str, event_id: str, *, error: str) -> str:
        """Handling failed: back to 'pending' after a backoff, or 'failed' after MAX_ATTEMPTS.
        ``error`` is an exception type, never its message (which may quote the customer)."""
        where = (inbox.c.platform == platform, inbox.c.event_id == event_id)
        attempts = (await self.conn.execute(select(inbox.c.attempts).where(*where))).scalar_one_or_none()
        if attempts is None:
            return "missing"
        state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        await self.conn.execute(
            update(inbox)
            .where(*where)
            .values(
                state=state,
                lease_until=None,
                next_attempt_at=self.now + _backoff(attempts),
                last_error=error[:MAX_ERROR],
            )
        )
        return state

    async def state(self, platform: str, event_id: str) -> str | None:
        query = select(inbox.c.state).where(inbox.c.platform == platform, inbox.c.event_id == event_id)
        return (await self.conn.execute(query)).scalar_one_or_none()

    async def purge_done_before(self, moment: datetime) -> int:
        """Forget handled updates older than any re-delivery (Telegram keeps updates 24 h)."""
        result = await self.conn.execute(
            delete(inbox).where(inbox.c.state == "done", inbox.c.received_at < moment)
        )
        return int(result.rowcount or 0)
