"""The audit log: who changed what, when; written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_store.records import AuditRecord
from crm_store.tables import audit_log
from crm_store.webhook_shapes import AUDIT_EVENTS

# Built once: every write records an entry (the values go in as parameters).
_RECORD = insert(audit_log)


class AuditRepo:
    def __init__(self, conn: AsyncConnection, *, actor: str, now: datetime) -> None:
        self.conn = conn
        self.actor = actor
        self.now = now
        # (event type, entity id, detail) of this transaction's changes that are webhook events.
        self.events: list[tuple[str, str | None, dict[str, Any]]] = []

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
        # The one place changes become webhook events. Queued when the transaction ends (Store.write,
        # crm_store.webhooks.emit_pending), so the event carries the object as committed (an
        # order with the lines added after its audit record); a rollback queues nothing.
        event_type = AUDIT_EVENTS.get((action, entity))
        if event_type is not None:
            self.events.append((event_type, None if entity_id is None else str(entity_id), detail))

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
