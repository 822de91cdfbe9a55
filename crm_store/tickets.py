"""Support tickets and their messages: open, list, assign, reply, resolve, reopen."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import aliased

from crm_store.customers import visible_to
from crm_store.records import TicketMessageRecord, TicketRecord
from crm_store.repo import Repo
from crm_store.tables import customers, reps, ticket_messages, tickets

PRIORITIES = ("low", "normal", "high", "urgent")
_OPEN_STATES = ("open", "pending")


def _record(row: RowMapping) -> TicketRecord:
    return TicketRecord(
        id=row["id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        subject=row["subject"],
        status=row["status"],
        priority=row["priority"],
        assignee_rep_id=row["assignee_rep_id"],
        assignee_name=row["assignee_name"],
        source=row["source"],
        csat_rating=row["csat_rating"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"],
    )


# Built once (statements are immutable: each .where() makes a new one).
_SELECT: Select[Any] = (
    select(
        tickets,
        customers.c.name.label("customer_name"),
        reps.c.display_name.label("assignee_name"),
    )
    .join(customers, customers.c.id == tickets.c.customer_id)
    .outerjoin(reps, reps.c.id == tickets.c.assignee_rep_id)
)
_GET = _SELECT.where(tickets.c.id == bindparam("ticket_id"))


def _select() -> Select[Any]:
    return _SELECT


class TicketRepo(Repo):
    async def open(
        self,
        *,
        customer_id: int,
        subject: str,
        source: str,
        first_message: str = "",
        author_kind: str = "customer",
        author_rep_id: int | None = None,
        author_customer_id: int | None = None,
        priority: str = "normal",
        attachments: Sequence[Mapping[str, Any]] = (),
        sentiment_label: str | None = None,
        sentiment_score: float | None = None,
    ) -> TicketRecord:
        new_id = (
            await self.conn.execute(
                insert(tickets)
                .values(
                    customer_id=customer_id,
                    subject=subject,
                    status="open",
                    priority=priority,
                    source=source,
                    created_at=self.now,
                    updated_at=self.now,
                )
                .returning(tickets.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "ticket", new_id, customer_id=customer_id)
        if first_message or attachments:
            await self.add_message(
                int(new_id),
                author_kind=author_kind,
                author_rep_id=author_rep_id,
                author_customer_id=author_customer_id,
                text=first_message,
                attachments=attachments,
                sentiment_label=sentiment_label,
                sentiment_score=sentiment_score,
            )
        ticket = await self.get(int(new_id))
        assert ticket is not None
        return ticket

    async def get(self, ticket_id: int) -> TicketRecord | None:
        row = (await self.conn.execute(_GET, {"ticket_id": ticket_id})).mappings().first()
        return None if row is None else _record(row)

    async def get_for_customer(self, ticket_id: int, customer_id: int) -> TicketRecord | None:
        """The ticket only if it belongs to ``customer_id``: customers never see others' tickets."""
        row = (
            (
                await self.conn.execute(
                    _select().where(tickets.c.id == ticket_id, tickets.c.customer_id == customer_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def find(
        self,
        *,
        status: str = "open",
        customer_id: int | None = None,
        assignee_rep_id: int | None = None,
        visible_to_rep: int | None = None,
        limit: int = 50,
    ) -> list[TicketRecord]:
        """``status``: "open" (open or pending), "resolved" or "all". ``visible_to_rep``: only
        tickets of customers that rep owns or nobody owns (CRM_CUSTOMER_ACCESS=owner)."""
        query = _select().order_by(tickets.c.updated_at.desc(), tickets.c.id.desc()).limit(limit)
        if status == "open":
            query = query.where(tickets.c.status.in_(_OPEN_STATES))
        elif status != "all":
            query = query.where(tickets.c.status == status)
        if customer_id is not None:
            query = query.where(tickets.c.customer_id == customer_id)
        if assignee_rep_id is not None:
            query = query.where(tickets.c.assignee_rep_id == assignee_rep_id)
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def page(
        self,
        *,
        limit: int,
        status: str = "all",
        customer_id: int | None = None,
        updated_since: datetime | None = None,
        after: tuple[datetime, int] | None = None,
        visible_to_rep: int | None = None,
    ) -> list[TicketRecord]:
        """Tickets least recently updated first (then by id), those strictly after the ``after``
        (updated_at, id) key: a ticket that changes while a client pages moves behind its
        cursor and is read again, never skipped. ``status`` as in ``find``."""
        query = _select().order_by(tickets.c.updated_at, tickets.c.id).limit(limit)
        if status == "open":
            query = query.where(tickets.c.status.in_(_OPEN_STATES))
        elif status != "all":
            query = query.where(tickets.c.status == status)
        if customer_id is not None:
            query = query.where(tickets.c.customer_id == customer_id)
        if updated_since is not None:
            query = query.where(tickets.c.updated_at >= updated_since)
        if after is not None:
            at, last_id = after
            query = query.where(
                or_(tickets.c.updated_at > at, and_(tickets.c.updated_at == at, tickets.c.id > last_id))
            )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def latest_open_for_customer(self, customer_id: int) -> TicketRecord | None:
        found = await self.find(status="open", customer_id=customer_id, limit=1)
        return found[0] if found else None

    async def count_open(self) -> int:
        query = select(func.count()).where(tickets.c.status.in_(_OPEN_STATES))
        return int((await self.conn.execute(query)).scalar_one())

    async def messages(self, ticket_id: int, *, limit: int = 50) -> list[TicketMessageRecord]:
        author = aliased(reps)
        contact = aliased(customers)
        query = (
            select(
                ticket_messages,
                func.coalesce(author.c.display_name, contact.c.name).label("author_name"),
            )
            .outerjoin(author, author.c.id == ticket_messages.c.author_rep_id)
            .outerjoin(contact, contact.c.id == ticket_messages.c.author_customer_id)
            .where(ticket_messages.c.ticket_id == ticket_id)
            .order_by(ticket_messages.c.id.desc())
            .limit(limit)
        )
        rows = (await self.conn.execute(query)).mappings().all()
        return [
            TicketMessageRecord(
                id=r["id"],
                ticket_id=r["ticket_id"],
                author_kind=r["author_kind"],
                author_rep_id=r["author_rep_id"],
                author_name=r["author_name"],
                text=r["text"],
                attachments=tuple(r["attachments"] or ()),
                sentiment_label=r["sentiment_label"],
                created_at=r["created_at"],
                author_customer_id=r["author_customer_id"],
            )
            for r in reversed(rows)
        ]

    async def add_message(
        self,
        ticket_id: int,
        *,
        author_kind: str,
        text: str,
        author_rep_id: int | None = None,
        author_customer_id: int | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
        sentiment_label: str | None = None,
        sentiment_score: float | None = None,
    ) -> int:
        new_id = (
            await self.conn.execute(
                insert(ticket_messages)
                .values(
                    ticket_id=ticket_id,
                    author_kind=author_kind,
                    author_rep_id=author_rep_id,
                    author_customer_id=author_customer_id,
                    text=text,
                    attachments=[dict(a) for a in attachments],
                    sentiment_label=sentiment_label,
                    sentiment_score=sentiment_score,
                    created_at=self.now,
                )
                .returning(ticket_messages.c.id)
            )
        ).scalar_one()
        values: dict[str, Any] = {"updated_at": self.now}
        if author_kind == "rep":
            # The first rep message is the first response (SLA); a rep answer leaves the
            # ticket waiting on the customer.
            values["first_response_at"] = func.coalesce(tickets.c.first_response_at, self.now)
            values["status"] = "pending"
        elif author_kind == "customer":
            values["status"] = "open"
        await self.conn.execute(
            update(tickets).where(tickets.c.id == ticket_id, tickets.c.status != "resolved").values(**values)
        )
        await self.audit.record("reply", "ticket", ticket_id, author=author_kind, message_id=new_id)
        return int(new_id)

    async def set_group(self, ticket_id: int, group_id: int, message_id: str) -> None:
        """The ticket is worked in this group chat; answers thread on ``message_id`` there."""
        await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(chat_group_id=group_id, group_message_id=message_id[:64])
        )

    async def assign(self, ticket_id: int, rep_id: int | None) -> None:
        await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(assignee_rep_id=rep_id, updated_at=self.now)
        )
        await self.audit.record("assign", "ticket", ticket_id, rep_id=rep_id)

    async def resolve(self, ticket_id: int) -> None:
        await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(status="resolved", resolved_at=self.now, updated_at=self.now)
        )
        await self.audit.record("resolve", "ticket", ticket_id)

    async def reopen(self, ticket_id: int) -> None:
        await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id)
            .values(status="open", resolved_at=None, updated_at=self.now)
        )
        await self.audit.record("reopen", "ticket", ticket_id)

    async def set_csat(self, ticket_id: int, customer_id: int, rating: int) -> bool:
        """Store the customer's rating once: False if the ticket is not theirs, not resolved, or
        already rated (a second press changes nothing)."""
        if not 1 <= rating <= 5:
            raise ValueError("a rating is 1 to 5")
        result = await self.conn.execute(
            update(tickets)
            .where(
                tickets.c.id == ticket_id,
                tickets.c.customer_id == customer_id,
                tickets.c.status == "resolved",
                tickets.c.csat_rating.is_(None),
            )
            .values(csat_rating=rating)
        )
        if not result.rowcount:
            return False
        await self.audit.record("rate", "ticket", ticket_id, rating=rating)
        return True

    async def move_customer(self, from_customer_id: int, to_customer_id: int) -> int:
        """Hand every ticket of one customer record to another (a lead that turned out to be known)."""
        result = await self.conn.execute(
            update(tickets)
            .where(tickets.c.customer_id == from_customer_id)
            .values(customer_id=to_customer_id)
        )
        moved = int(result.rowcount or 0)
        if moved:
            await self.audit.record("move", "ticket", None, source=from_customer_id, target=to_customer_id)
        return moved

    async def set_priority(self, ticket_id: int, priority: str) -> None:
        if priority not in PRIORITIES:
            raise ValueError(f"unknown priority {priority!r}")
        await self.conn.execute(update(tickets).where(tickets.c.id == ticket_id).values(priority=priority))
        await self.audit.record("set_priority", "ticket", ticket_id, priority=priority)
