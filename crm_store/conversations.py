"""Conversations: where each actor is in a multi-step flow, kept in the store so any replica can
continue it, and forgotten after a day without a word."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from crm_store.repo import Repo
from crm_store.tables import conversations

DEFAULT_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    actor_key: str
    flow: str
    step: str
    data: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class ConversationRepo(Repo):
    """Not audited: the rows are drafts in the customer's words, and the audit log keeps no text."""

    async def get(self, actor_key: str, *, for_update: bool = False) -> ConversationRecord | None:
        """The actor's unexpired conversation; ``for_update`` locks it on PostgreSQL (SQLite's
        write transactions are serialized already), so two replicas never both advance it."""
        query = select(conversations).where(
            conversations.c.actor_key == actor_key, conversations.c.expires_at > self.now
        )
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            return None
        return ConversationRecord(
            actor_key=row["actor_key"],
            flow=row["flow"],
            step=row["step"],
            data=dict(row["data"] or {}),
            updated_at=row["updated_at"],
        )

    async def save(
        self,
        actor_key: str,
        *,
        flow: str,
        step: str,
        data: Mapping[str, Any],
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        """Start or advance the actor's conversation (one per actor: a new flow replaces the old)."""
        values = {
            "actor_key": actor_key,
            "flow": flow,
            "step": step,
            "data": dict(data),
            "updated_at": self.now,
            "expires_at": self.now + ttl,
        }
        statement = self.dialect_insert(conversations).values(**values)
        changed = {k: statement.excluded[k] for k in ("flow", "step", "data", "updated_at", "expires_at")}
        await self.conn.execute(statement.on_conflict_do_update(index_elements=["actor_key"], set_=changed))

    async def end(self, actor_key: str) -> bool:
        """Forget the actor's conversation; True if there was one (expired or not)."""
        result = await self.conn.execute(delete(conversations).where(conversations.c.actor_key == actor_key))
        return bool(result.rowcount)

    async def purge_expired(self) -> int:
        result = await self.conn.execute(delete(conversations).where(conversations.c.expires_at <= self.now))
        return int(result.rowcount or 0)
