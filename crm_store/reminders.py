"""Follow-up reminders a rep sets, with or without a customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.engine import RowMapping

from crm_store.records import ReminderRecord
from crm_store.repo import Repo
from crm_store.tables import customers, identities, reminders


@dataclass(frozen=True, slots=True)
class DueReminder:
    """A due reminder and where its rep can be reached."""

    reminder: ReminderRecord
    platform: str
    target: str


def _record(row: RowMapping) -> ReminderRecord:
    return ReminderRecord(
        id=row["id"],
        rep_id=row["rep_id"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        text=row["text"],
        due_at=row["due_at"],
        status=row["status"],
        created_at=row["created_at"],
        done_at=row["done_at"],
    )


# Built once (statements are immutable: each .where() makes a new one).
_SELECT: Select[tuple[object, ...]] = select(reminders, customers.c.name.label("customer_name")).outerjoin(
    customers, customers.c.id == reminders.c.customer_id
)
_GET = _SELECT.where(reminders.c.id == bindparam("reminder_id"))


def _select() -> Select[tuple[object, ...]]:
    return _SELECT


class ReminderRepo(Repo):
    async def add(
        self, *, rep_id: int, customer_id: int | None, text: str, due_at: datetime
    ) -> ReminderRecord:
        new_id = (
            await self.conn.execute(
                insert(reminders)
                .values(
                    rep_id=rep_id,
                    customer_id=customer_id,
                    text=text,
                    due_at=due_at,
                    status="pending",
                    created_at=self.now,
                )
                .returning(reminders.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "reminder", new_id, customer_id=customer_id)
        found = await self.get(int(new_id))
        assert found is not None
        return found

    async def get(self, reminder_id: int) -> ReminderRecord | None:
        row = (await self.conn.execute(_GET, {"reminder_id": reminder_id})).mappings().first()
        return None if row is None else _record(row)

    async def open_for_rep(self, rep_id: int, *, limit: int = 50) -> list[ReminderRecord]:
        """Reminders not yet done (pending or already pushed), soonest first."""
        query = (
            _select()
            .where(reminders.c.rep_id == rep_id, reminders.c.status != "done")
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit)
        )
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def mark_done(self, reminder_id: int) -> None:
        await self.conn.execute(
            update(reminders).where(reminders.c.id == reminder_id).values(status="done", done_at=self.now)
        )
        await self.audit.record("done", "reminder", reminder_id)

    async def snooze(self, reminder_id: int, due_at: datetime) -> None:
        # Back to pending so the scheduler pushes it again at the new time.
        await self.conn.execute(
            update(reminders)
            .where(reminders.c.id == reminder_id)
            .values(due_at=due_at, status="pending", done_at=None)
        )
        await self.audit.record("snooze", "reminder", reminder_id, due_at=due_at.isoformat())

    async def due(self, *, platforms: Sequence[str], limit: int = 500) -> list[DueReminder]:
        """Pending reminders due by now whose rep has an account on one of ``platforms`` (in
        that order of preference); the others wait until such a front end runs."""
        rank = {p: n for n, p in enumerate(platforms)}
        query = (
            _select()
            .add_columns(identities.c.platform.label("via"), identities.c.external_id.label("target"))
            .join(identities, identities.c.rep_id == reminders.c.rep_id)
            .where(
                reminders.c.status == "pending",
                reminders.c.due_at <= self.now,
                identities.c.platform.in_(list(platforms)),
            )
            .order_by(reminders.c.due_at, reminders.c.id)
            .limit(limit * max(len(platforms), 1))
        )
        best: dict[int, DueReminder] = {}
        for row in (await self.conn.execute(query)).mappings().all():
            found = DueReminder(_record(row), str(row["via"]), str(row["target"]))
            kept = best.get(found.reminder.id)
            if kept is None or rank[found.platform] < rank[kept.platform]:
                best[found.reminder.id] = found
        return list(best.values())[:limit]

    async def mark_sent(self, reminder_id: int, due_at: datetime) -> bool:
        """Pending -> sent, only if nobody moved or sent it meanwhile (the claim)."""
        result = await self.conn.execute(
            update(reminders)
            .where(
                reminders.c.id == reminder_id, reminders.c.status == "pending", reminders.c.due_at == due_at
            )
            .values(status="sent")
        )
        return bool(result.rowcount)

    async def overdue_count(self) -> int:
        """Reminders past due and not done (pushed or not)."""
        query = select(func.count()).where(reminders.c.status != "done", reminders.c.due_at < self.now)
        return int((await self.conn.execute(query)).scalar_one())
