"""The audit log: who changed what, when; written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_store.records import AuditRecord
from crm_store.tables import audit_log
from crm_store.webhooks import emit

# Built once: every write records an entry (the values go in as parameters).
_RECORD = insert(audit_log)


class AuditRepo:
    def __init__(self, conn: AsyncConnection, *, actor: str, now: datetime) -> None:
        self.conn = conn
        self.actor = actor
        self.now = now

    async def record(self, action: str, entity: str, entity_id: object = None, **detail: Any) -> None:
        await self.conn.execute(
            _RECORD,
            {
                "actor": self.actor,
                "action": action,
                "entity": entity,
                "entity_id": None if entity_id is None else str(entity_id),
                "detail": detail,
                "at": self.now,
            },
        )
        # The one place changes become webhook events: queued in this same transaction.
        await emit(self, action, entity, None if entity_id is None else str(entity_id), detail)

    async def recent(
        self, *, entity: str | None = None, entity_id: object = None, limit: int = 50
    ) -> list[AuditRecord]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if entity is not None:
            query = query.where(audit_log.c.entity == entity)
        if entity_id is not None:
            query = query.where(audit_log.c.entity_id == str(entity_id))
        rows = (await self.conn.execute(query)).mappings().all()
        return [
            AuditRecord(
                id=r["id"],
                actor=r["actor"],
                action=r["action"],
                entity=r["entity"],
                entity_id=r["entity_id"],
                detail=dict(r["detail"] or {}),
                at=r["at"],
            )
            for r in rows
        ]
