"""Pending actions: the command behind a confirmation or pick-list button, keyed by a token."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, insert, select

from crm_store.records import PendingActionRecord
from crm_store.repo import Repo
from crm_store.tables import pending_actions

DEFAULT_TTL = timedelta(days=2)
# Built once (a pick list adds several per message); the values go in as parameters.
_ADD = insert(pending_actions)


class PendingActionRepo(Repo):
    async def add(
        self, *, actor_key: str, command: str, label: str = "", ttl: timedelta = DEFAULT_TTL
    ) -> str:
        return (await self.add_many(actor_key=actor_key, actions=[(command, label)], ttl=ttl))[0]

    async def add_many(
        self, *, actor_key: str, actions: Sequence[tuple[str, str]], ttl: timedelta = DEFAULT_TTL
    ) -> list[str]:
        """A token for each (command, label), in order, written in one statement."""
        tokens = [secrets.token_urlsafe(12) for _ in actions]
        rows = [
            {
                "token": token,
                "actor_key": actor_key,
                "command": command,
                "label": label[:200],
                "created_at": self.now,
                "expires_at": self.now + ttl,
            }
            for token, (command, label) in zip(tokens, actions, strict=True)
        ]
        if rows:
            await self.conn.execute(_ADD, rows)
        return tokens

    async def usable(self, token: str, *, actor_key: str) -> PendingActionRecord | None:
        """The action if it is this actor's and unexpired, left in place (see ``take``)."""
        row = (
            (await self.conn.execute(select(pending_actions).where(pending_actions.c.token == token)))
            .mappings()
            .first()
        )
        if row is None or row["actor_key"] != actor_key or row["expires_at"] <= self.now:
            return None
        return PendingActionRecord(
            token=row["token"],
            actor_key=row["actor_key"],
            command=row["command"],
            label=row["label"],
            expires_at=row["expires_at"],
        )

    async def take(self, token: str, *, actor_key: str) -> PendingActionRecord | None:
        """The action if it is this actor's and unexpired; it is consumed (one press, one run)."""
        found = await self.usable(token, actor_key=actor_key)
        if found is not None:
            await self.conn.execute(delete(pending_actions).where(pending_actions.c.token == token))
        return found

    async def purge_expired(self) -> int:
        result = await self.conn.execute(
            delete(pending_actions).where(pending_actions.c.expires_at <= self.now)
        )
        return int(result.rowcount or 0)
