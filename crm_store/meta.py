"""Facts about the store itself: its identity."""

from __future__ import annotations

from sqlalchemy import select

from crm_store.repo import Repo
from crm_store.tables import store_meta


class MetaRepo(Repo):
    async def store_id(self) -> str | None:
        """The id made when the store was created (see migration 0014_index)."""
        query = select(store_meta.c.value).where(store_meta.c.key == "store_id")
        value = (await self.conn.execute(query)).scalar_one_or_none()
        return None if value is None else str(value)
