"""Who a privacy request is about: the customer record, leads merged into it, their chat
accounts, and the SQL conditions that pick their rows out of each table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, and_, cast, exists, false, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from crm_store.tables import (
    audit_log,
    customers,
    feedback,
    identities,
    interactions,
    link_tokens,
    orders,
    outbox,
    reminders,
    tickets,
)

# Audit rows that name a customer in their detail rather than their entity id.
_DETAIL_ROWS = (("link_token", "redeem"), ("link_token", "refuse"), ("ticket", "move"), ("customer", "merge"))


@dataclass(frozen=True, slots=True)
class Subject:
    customer_id: int
    customer_ids: tuple[int, ...]  # the record and any leads merged into it (the same person)
    chats: tuple[tuple[str, str], ...]  # (platform, external id) of their linked accounts
    name: str
    email: str
    phone: str
    audit_extra: tuple[int, ...]  # audit rows about them found through their detail

    @property
    def actor_keys(self) -> tuple[str, ...]:
        """How the audit log, conversations and pending actions name their accounts."""
        return tuple(f"{platform}:{external_id}" for platform, external_id in self.chats)

    def tickets(self) -> Select[Any]:
        return select(tickets.c.id).where(tickets.c.customer_id.in_(self.customer_ids))

    def chat_rows(self, platform: ColumnElement[Any], target: ColumnElement[Any]) -> ColumnElement[bool]:
        if not self.chats:
            return false()
        return or_(*(and_(platform == p, target == t) for p, t in self.chats))

    def outbox_rows(self) -> ColumnElement[bool]:
        """Pushes to their chats, into their tickets' threads, and reminders, alerts and
        feedback posts about them."""
        ticket_threads = select(literal_column("'ticket:'", String) + cast(tickets.c.id, String)).where(
            tickets.c.customer_id.in_(self.customer_ids)
        )
        reminder_pushes = exists().where(
            reminders.c.customer_id.in_(self.customer_ids),
            outbox.c.idempotency_key.like(
                literal_column("'reminder:'", String) + cast(reminders.c.id, String) + literal_column("':%'")
            ),
        )
        loyalty_alerts = [outbox.c.idempotency_key.like(f"loyalty:{cid}:%") for cid in self.customer_ids]
        feedback_posts = [outbox.c.idempotency_key.like(f"feedback:{cid}:%") for cid in self.customer_ids]
        return or_(
            self.chat_rows(outbox.c.platform, outbox.c.target),
            outbox.c.thread_key.in_(ticket_threads),
            reminder_pushes,
            *loyalty_alerts,
            *feedback_posts,
        )

    def audit_rows(self) -> ColumnElement[bool]:
        """Audit entries about them: their records by id, their own actions, and the few whose
        detail names them."""

        def ids(column: ColumnElement[Any], owner: ColumnElement[Any]) -> Select[Any]:
            return select(cast(column, String)).where(owner.in_(self.customer_ids))

        # Audit entities that are rows carrying a customer_id, by the name the audit log uses.
        owned = {
            "ticket": tickets,
            "interaction": interactions,
            "order": orders,
            "feedback": feedback,
            "reminder": reminders,
            "link_token": link_tokens,
        }
        by_entity = [
            and_(
                audit_log.c.entity == "customer",
                audit_log.c.entity_id.in_([str(i) for i in self.customer_ids]),
            ),
            *(
                and_(
                    audit_log.c.entity == name,
                    audit_log.c.entity_id.in_(ids(table.c.id, table.c.customer_id)),
                )
                for name, table in owned.items()
            ),
        ]
        return or_(
            *by_entity,
            audit_log.c.actor.in_(self.actor_keys),
            audit_log.c.id.in_(self.audit_extra),
        )


async def find_subject(conn: AsyncConnection, customer_id: int) -> Subject:
    """The subject of a request about ``customer_id`` (erased or soft-deleted records too)."""
    row = (await conn.execute(select(customers).where(customers.c.id == customer_id))).mappings().first()
    if row is None:
        raise LookupError(f"customer {customer_id} not found")
    detail_rows = (
        await conn.execute(
            select(
                audit_log.c.id,
                audit_log.c.entity,
                audit_log.c.action,
                audit_log.c.entity_id,
                audit_log.c.detail,
            ).where(or_(*(and_(audit_log.c.entity == e, audit_log.c.action == a) for e, a in _DETAIL_ROWS)))
        )
    ).all()
    merged = await _merged_leads(conn, customer_id, detail_rows)
    ids = (customer_id, *merged)
    chats = tuple(
        (str(p), str(e))
        for p, e in await conn.execute(
            select(identities.c.platform, identities.c.external_id)
            .where(identities.c.customer_id.in_(ids))
            .order_by(identities.c.id)
        )
    )
    keys = {f"{p}:{e}" for p, e in chats}
    extra = []
    for audit_id, entity, _action, _entity_id, detail in detail_rows:
        detail = dict(detail or {})
        named = {detail.get("customer_id"), detail.get("source"), detail.get("target"), detail.get("into")}
        if named & set(ids) or (entity == "link_token" and detail.get("by") in keys):
            extra.append(int(audit_id))
    return Subject(
        customer_id=customer_id,
        customer_ids=ids,
        chats=chats,
        name=str(row["name"]),
        email=str(row["email"]),
        phone=str(row["phone"]),
        audit_extra=tuple(extra),
    )


async def _merged_leads(conn: AsyncConnection, customer_id: int, detail_rows: Any) -> tuple[int, ...]:
    """Leads that a Telegram account had become before an invite merged them into this record:
    the same person, under another id (tickets moved, or a ``merge`` entry)."""
    found: set[int] = set()
    for _id, entity, action, entity_id, detail in detail_rows:
        detail = dict(detail or {})
        if entity == "ticket" and action == "move" and detail.get("target") == customer_id:
            found.add(int(detail["source"]))
        elif entity == "customer" and action == "merge" and detail.get("into") == customer_id:
            lead = _int(entity_id)
            if lead is not None:
                found.add(lead)
    found.discard(customer_id)
    if not found:
        return ()
    # Only records that were retired: a live customer is never swept into someone else's erasure.
    rows = await conn.execute(
        select(customers.c.id).where(customers.c.id.in_(sorted(found)), customers.c.deleted_at.is_not(None))
    )
    return tuple(sorted(int(r) for r in rows.scalars()))


def _int(value: object) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None
