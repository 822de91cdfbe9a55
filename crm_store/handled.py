"""Handled messages: one claim per incoming message, taken by the first write of its handling."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from crm_store.repo import Repo
from crm_store.tables import handled_messages


class AlreadyHandled(Exception):
    """The message's handling wrote before (a repeat after a crash): this run must write nothing."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


class HandledRepo(Repo):
    async def claim(self, ref: str, actor_key: str) -> bool:
        """True the first time ``ref`` is claimed; False when an earlier run's writes committed."""
        statement = (
            self.dialect_insert(handled_messages)
            .values(ref=ref[:96], actor_key=actor_key[:96], reply=None, handled_at=self.now)
            .on_conflict_do_nothing(index_elements=["ref"])
        )
        return bool((await self.conn.execute(statement)).rowcount)

    async def save_reply(self, ref: str, reply: Mapping[str, Any]) -> None:
        await self.conn.execute(
            update(handled_messages).where(handled_messages.c.ref == ref[:96]).values(reply=dict(reply))
        )

    async def reply_of(self, ref: str) -> dict[str, Any] | None:
        """The answer the first run gave, if it got that far."""
        query = select(handled_messages.c.reply).where(handled_messages.c.ref == ref[:96])
        value = (await self.conn.execute(query)).scalar_one_or_none()
        return dict(value) if value else None

    async def purge_before(self, moment: datetime) -> int:
        result = await self.conn.execute(
            delete(handled_messages).where(handled_messages.c.handled_at < moment)
        )
        return int(result.rowcount or 0)
