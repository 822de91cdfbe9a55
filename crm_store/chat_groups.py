"""Group chats linked to a customer company, and the groups told once how to link themselves."""

from __future__ import annotations

from sqlalchemy import and_, select, update
from sqlalchemy.engine import RowMapping

from crm_store.records import ChatGroupRecord
from crm_store.repo import Repo
from crm_store.tables import chat_groups, customers, tickets


def _record(row: RowMapping) -> ChatGroupRecord:
    return ChatGroupRecord(
        id=row["id"],
        platform=row["platform"],
        chat_id=row["chat_id"],
        customer_id=row["customer_id"],
        linked_by=row["linked_by"],
        linked_at=row["linked_at"],
        unlinked_at=row["unlinked_at"],
        hinted_at=row["hinted_at"],
    )


# Linked: a company set, not unlinked since, and the company not removed.
_LINKED = and_(chat_groups.c.customer_id.is_not(None), chat_groups.c.unlinked_at.is_(None))
_LIVE_COMPANY = select(customers.c.id).where(
    customers.c.id == chat_groups.c.customer_id, customers.c.deleted_at.is_(None)
)


class ChatGroupRepo(Repo):
    async def get(self, platform: str, chat_id: str) -> ChatGroupRecord | None:
        """The group's row, linked or not (None: the bot never linked nor answered it)."""
        row = (
            (
                await self.conn.execute(
                    select(chat_groups).where(
                        chat_groups.c.platform == platform, chat_groups.c.chat_id == chat_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def linked(self, platform: str, chat_id: str) -> ChatGroupRecord | None:
        """The group if it is linked now to a company that still exists."""
        row = (
            (
                await self.conn.execute(
                    select(chat_groups).where(
                        chat_groups.c.platform == platform,
                        chat_groups.c.chat_id == chat_id,
                        _LINKED,
                        _LIVE_COMPANY.exists(),
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def of_customer(self, customer_id: int) -> list[ChatGroupRecord]:
        """The company's linked groups, oldest link first."""
        rows = (
            (
                await self.conn.execute(
                    select(chat_groups)
                    .where(chat_groups.c.customer_id == customer_id, _LINKED)
                    .order_by(chat_groups.c.linked_at, chat_groups.c.id)
                )
            )
            .mappings()
            .all()
        )
        return [_record(r) for r in rows]

    async def link(self, platform: str, chat_id: str, *, customer_id: int, linked_by: str) -> ChatGroupRecord:
        """Link the group to ``customer_id`` (a row the bot kept for it is taken over)."""
        statement = (
            self.dialect_insert(chat_groups)
            .values(platform=platform, chat_id=chat_id, created_at=self.now)
            .on_conflict_do_nothing(index_elements=["platform", "chat_id"])
        )
        await self.conn.execute(statement)
        row = (
            (
                await self.conn.execute(
                    update(chat_groups)
                    .where(chat_groups.c.platform == platform, chat_groups.c.chat_id == chat_id)
                    .values(
                        customer_id=customer_id,
                        linked_by=linked_by[:96],
                        linked_at=self.now,
                        unlinked_at=None,
                        hinted_at=None,
                    )
                    .returning(chat_groups)
                )
            )
            .mappings()
            .one()
        )
        await self.audit.record("link_group", "customer", customer_id, platform=platform, group=row["id"])
        return _record(row)

    async def unlink(self, group_id: int, *, reason: str) -> bool:
        """Unlink a linked group; False if it was not linked. The company stays on the row (who
        it was for) and the group may be told once again how to link itself."""
        row = (
            (
                await self.conn.execute(
                    update(chat_groups)
                    .where(chat_groups.c.id == group_id, _LINKED)
                    .values(unlinked_at=self.now, hinted_at=None)
                    .returning(chat_groups.c.customer_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return False
        await self.audit.record("unlink_group", "customer", row["customer_id"], group=group_id, reason=reason)
        return True

    async def claim_hint(self, platform: str, chat_id: str) -> bool:
        """True exactly once for an unlinked group (across replicas): the caller tells it how to
        link. Only the group's id and the time are kept."""
        inserted = await self.conn.execute(
            self.dialect_insert(chat_groups)
            .values(platform=platform, chat_id=chat_id, hinted_at=self.now, created_at=self.now)
            .on_conflict_do_nothing(index_elements=["platform", "chat_id"])
        )
        if inserted.rowcount:
            return True
        claimed = await self.conn.execute(
            update(chat_groups)
            .where(
                chat_groups.c.platform == platform,
                chat_groups.c.chat_id == chat_id,
                chat_groups.c.hinted_at.is_(None),
                ~_LINKED,
            )
            .values(hinted_at=self.now)
        )
        return bool(claimed.rowcount)

    async def move(self, platform: str, old_chat_id: str, new_chat_id: str) -> bool:
        """A group became a supergroup under a new id: its row follows (once; a row already
        kept under the new id stands)."""
        if await self.get(platform, new_chat_id) is not None:
            return False
        moved = await self.conn.execute(
            update(chat_groups)
            .where(chat_groups.c.platform == platform, chat_groups.c.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
            .returning(chat_groups.c.id, chat_groups.c.customer_id)
        )
        row = moved.mappings().first()
        if row is None:
            return False
        await self.audit.record("move_group", "customer", row["customer_id"], group=row["id"])
        return True

    async def of_ticket(self, ticket_id: int) -> tuple[ChatGroupRecord, str | None] | None:
        """The group a ticket is worked in, if it is still linked to the ticket's company, and
        the Telegram id of the customer's last message there (answers are threaded on it)."""
        row = (
            (
                await self.conn.execute(
                    select(chat_groups, tickets.c.group_message_id)
                    .join(tickets, tickets.c.chat_group_id == chat_groups.c.id)
                    .where(
                        tickets.c.id == ticket_id,
                        tickets.c.customer_id == chat_groups.c.customer_id,
                        _LINKED,
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else (_record(row), row["group_message_id"])
