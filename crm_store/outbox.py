"""The outbox: pushes decided in a transaction, claimed atomically by dispatchers, sent once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from crm_store.repo import Repo
from crm_store.tables import outbox, outbox_threads

STATES = ("pending", "sending", "sent", "failed")
MAX_ERROR = 200
# Claimed lowest first (outbox.priority): the conversation, notices, then bulk (campaigns).
CONVERSATION, NOTICE, BULK = 0, 1, 2
# last_error of a bulk row whose send has begun: found on a row taken over from a dead
# dispatcher, it means the message may have arrived, so it is not sent again (bulk_in_flight).
IN_FLIGHT = "in flight"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    platform: str
    target: str
    thread: str | None
    thread_key: str | None
    payload: dict[str, Any]
    idempotency_key: str
    state: str
    attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    lease_owner: str | None
    sent_message_id: str | None
    last_error: str | None
    created_at: datetime
    priority: int = NOTICE


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    thread_key: str
    platform: str
    target: str
    thread_id: str


def _row(r: RowMapping) -> OutboxRow:
    return OutboxRow(
        id=r["id"],
        platform=r["platform"],
        target=r["target"],
        thread=r["thread"],
        thread_key=r["thread_key"],
        payload=dict(r["payload"] or {}),
        idempotency_key=r["idempotency_key"],
        state=r["state"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        lease_until=r["lease_until"],
        lease_owner=r["lease_owner"],
        sent_message_id=r["sent_message_id"],
        last_error=r["last_error"],
        created_at=r["created_at"],
        priority=r["priority"],
    )


class OutboxRepo(Repo):
    async def enqueue(
        self,
        *,
        platform: str,
        target: str,
        payload: Mapping[str, Any],
        key: str,
        thread: str | None = None,
        thread_key: str | None = None,
        delay: timedelta = timedelta(0),
        priority: int = NOTICE,
    ) -> bool:
        """Add a push; False when a row with ``key`` exists already (the same decision, twice).
        ``priority``: CONVERSATION (a reply on a customer's ticket), NOTICE or BULK."""
        statement = (
            self.dialect_insert(outbox)
            .values(
                platform=platform,
                target=target,
                thread=thread,
                thread_key=thread_key,
                payload=dict(payload),
                idempotency_key=key[:200],
                state="pending",
                attempts=0,
                next_attempt_at=self.now + delay,
                created_at=self.now,
                priority=priority,
            )
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
        )
        result = await self.conn.execute(statement)
        return bool(result.rowcount)

    @staticmethod
    def _held(row_id: int, owner: str | None) -> list[ColumnElement[bool]]:
        """The row is still claimed (by ``owner``, when given: a dispatcher that stalled past its
        lease and lost the row to another must not record an outcome for it)."""
        held = [outbox.c.id == row_id, outbox.c.state == "sending"]
        if owner is not None:
            held.append(outbox.c.lease_owner == owner)
        return held

    def _due(self, table: Any) -> ColumnElement[bool]:
        return or_(
            and_(table.c.state == "pending", table.c.next_attempt_at <= self.now),
            and_(table.c.state == "sending", table.c.lease_until <= self.now),
        )

    async def claim_due(
        self,
        *,
        platforms: Iterable[str],
        limit: int,
        lease: timedelta,
        owner: str | None = None,
        bulk_limit: int | None = None,
    ) -> list[OutboxRow]:
        """Take up to ``limit`` due rows for sending, lowest priority number first and oldest
        first within one, at most one per chat, for ``owner`` (who renews the lease while sending
        and releases what it did not send). At most ``bulk_limit`` of them are BULK rows: a
        dispatcher holding few bulk rows comes back for a conversation's row within a few sends.

        Due: pending and past its next attempt, or sending with an expired lease (its dispatcher
        died). A row waits while an older row to the same chat is unsent, so each chat gets its
        messages in order and two dispatchers never send to one chat at once. On SQLite the
        caller's BEGIN IMMEDIATE makes the UPDATE atomic; PostgreSQL skips rows another
        dispatcher has locked."""
        platforms = list(platforms)
        if bulk_limit is None or bulk_limit >= limit:
            rows = await self._claim(platforms=platforms, limit=limit, lease=lease, owner=owner)
        else:
            rows = await self._claim(platforms=platforms, limit=limit, lease=lease, owner=owner, below=BULK)
            room = min(limit - len(rows), bulk_limit)
            if room > 0:
                rows += await self._claim(
                    platforms=platforms, limit=room, lease=lease, owner=owner, at_least=BULK
                )
        return sorted(rows, key=lambda row: (row.priority, row.id))

    async def _claim(
        self,
        *,
        platforms: list[str],
        limit: int,
        lease: timedelta,
        owner: str | None,
        below: int | None = None,
        at_least: int | None = None,
    ) -> list[OutboxRow]:
        # Aliases keep the subquery from correlating with the UPDATE's own table.
        candidate, older = outbox.alias("candidate"), outbox.alias("older")
        blocked = exists().where(
            older.c.platform == candidate.c.platform,
            older.c.target == candidate.c.target,
            older.c.id < candidate.c.id,
            older.c.state.in_(("pending", "sending")),
        )
        where = [self._due(candidate), candidate.c.platform.in_(platforms), ~blocked]
        if below is not None:
            where.append(candidate.c.priority < below)
        if at_least is not None:
            where.append(candidate.c.priority >= at_least)
        candidates = (
            select(candidate.c.id).where(*where).order_by(candidate.c.priority, candidate.c.id).limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=candidate)
        # Chosen once: as a plain subquery PostgreSQL may run it again for each row it updates,
        # each run skipping the rows this statement has just claimed, and so claim past ``limit``.
        chosen = candidates.cte("chosen").prefix_with("MATERIALIZED")
        statement = (
            update(outbox)
            # The state is checked again: on PostgreSQL a row may have changed since the select.
            .where(outbox.c.id.in_(select(chosen.c.id)), self._due(outbox))
            .values(
                state="sending",
                attempts=outbox.c.attempts + 1,
                lease_until=self.now + lease,
                lease_owner=owner,
            )
            .returning(outbox)
        )
        rows = (await self.conn.execute(statement)).mappings().all()
        return [_row(r) for r in rows]

    async def withdraw(self, key_prefix: str) -> list[str]:
        """Delete the rows whose key starts with ``key_prefix`` that no dispatcher has claimed
        yet (a cancelled campaign's); the keys withdrawn. A row being sent is left to finish."""
        pattern = key_prefix.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        result = await self.conn.execute(
            delete(outbox)
            .where(outbox.c.state == "pending", outbox.c.idempotency_key.like(pattern, escape="/"))
            .returning(outbox.c.idempotency_key)
        )
        return [str(key) for key in result.scalars()]

    async def bulk_backlog(self) -> int:
        """BULK rows not sent yet (pending or being sent): what a campaign has queued ahead."""
        query = select(func.count()).where(
            outbox.c.priority >= BULK, outbox.c.state.in_(("pending", "sending"))
        )
        return int((await self.conn.execute(query)).scalar_one())

    async def mark_in_flight(self, row_id: int, *, owner: str | None = None) -> bool:
        """The send of a claimed row begins now (see IN_FLIGHT); False if it is no longer held."""
        result = await self.conn.execute(
            update(outbox).where(*self._held(row_id, owner)).values(last_error=IN_FLIGHT)
        )
        return bool(result.rowcount)

    async def renew(self, owner: str, *, lease: timedelta) -> int:
        """Extend every claim ``owner`` holds to ``lease`` from now (it is alive and still
        sending, however long a platform makes it wait); the number of rows renewed."""
        result = await self.conn.execute(
            update(outbox)
            .where(outbox.c.lease_owner == owner, outbox.c.state == "sending")
            .values(lease_until=self.now + lease)
        )
        return int(result.rowcount or 0)

    async def release(self, owner: str) -> int:
        """Give back every claim ``owner`` holds, due at once and without spending an attempt
        (a clean stop), so another dispatcher need not wait for the leases to run out."""
        result = await self.conn.execute(
            update(outbox)
            .where(outbox.c.lease_owner == owner, outbox.c.state == "sending")
            .values(
                state="pending",
                next_attempt_at=self.now,
                lease_until=None,
                lease_owner=None,
                attempts=self._refund(),
            )
        )
        return int(result.rowcount or 0)

    def _refund(self) -> ColumnElement[int]:
        """One attempt back: the claim ended without the platform refusing anything."""
        if self.conn.dialect.name == "sqlite":
            return func.max(outbox.c.attempts - 1, 0)
        return func.greatest(outbox.c.attempts - 1, 0)

    async def mark_sent(self, row_id: int, message_id: str, *, owner: str | None = None) -> bool:
        """Sent, with the platform's message id, in one UPDATE (never 'sent' without an id)."""
        result = await self.conn.execute(
            update(outbox)
            .where(*self._held(row_id, owner))
            .values(
                state="sent",
                sent_message_id=message_id[:64],
                sent_at=self.now,
                lease_until=None,
                last_error=None,
            )
        )
        return bool(result.rowcount)

    async def retry(
        self, row_id: int, *, error: str, delay: timedelta, max_attempts: int, owner: str | None = None
    ) -> str:
        """After a failed send: back to pending after ``delay``, or parked as failed once the
        attempts reach ``max_attempts``. Returns the new state."""
        row = await self.get(row_id)
        if row is None or row.state != "sending" or (owner is not None and row.lease_owner != owner):
            return row.state if row else "missing"
        state = "failed" if row.attempts >= max_attempts else "pending"
        await self.conn.execute(
            update(outbox)
            .where(*self._held(row_id, owner))
            .values(
                state=state,
                next_attempt_at=self.now + delay,
                lease_until=None,
                last_error=error[:MAX_ERROR],
            )
        )
        return state

    async def postpone(
        self, row_id: int, *, delay: timedelta, error: str | None = None, owner: str | None = None
    ) -> None:
        """Back to pending after ``delay`` without spending an attempt (rate limits, 429s)."""
        values: dict[str, Any] = {
            "state": "pending",
            "next_attempt_at": self.now + delay,
            "lease_until": None,
            "attempts": self._refund(),
        }
        if error is not None:
            values["last_error"] = error[:MAX_ERROR]
        await self.conn.execute(update(outbox).where(*self._held(row_id, owner)).values(**values))

    async def fail(self, row_id: int, *, error: str, owner: str | None = None) -> bool:
        """Park a row that no retry can help (the chat is gone, the bot was blocked); False if
        the row was no longer this owner's to park."""
        result = await self.conn.execute(
            update(outbox)
            .where(*self._held(row_id, owner))
            .values(state="failed", lease_until=None, last_error=error[:MAX_ERROR])
        )
        return bool(result.rowcount)

    async def requeue(self, row_ids: Sequence[int]) -> int:
        """Failed rows back to pending with fresh attempts (an operator's retry)."""
        result = await self.conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(list(row_ids)), outbox.c.state == "failed")
            .values(state="pending", attempts=0, next_attempt_at=self.now, last_error=None)
        )
        return int(result.rowcount or 0)

    async def get(self, row_id: int) -> OutboxRow | None:
        row = (await self.conn.execute(select(outbox).where(outbox.c.id == row_id))).mappings().first()
        return None if row is None else _row(row)

    async def listing(self, *, states: Sequence[str] = STATES, limit: int = 100) -> list[OutboxRow]:
        query = select(outbox).where(outbox.c.state.in_(list(states))).order_by(outbox.c.id).limit(limit)
        return [_row(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def counts(self) -> dict[str, int]:
        query = select(outbox.c.state, func.count()).group_by(outbox.c.state)
        found = {str(state): int(n) for state, n in (await self.conn.execute(query)).all()}
        return {state: found.get(state, 0) for state in STATES}

    async def waiting_by_platform(self) -> dict[str, tuple[int, datetime]]:
        """Per platform: the rows waiting (pending or being sent) and the oldest one's creation
        (min() keeps the column's type, so it comes back an aware datetime on both backends)."""
        query = (
            select(outbox.c.platform, func.count(), func.min(outbox.c.created_at))
            .where(outbox.c.state.in_(("pending", "sending")))
            .group_by(outbox.c.platform)
        )
        rows = (await self.conn.execute(query)).all()
        return {str(platform): (int(n), oldest) for platform, n, oldest in rows}

    async def thread(self, thread_key: str, platform: str) -> ThreadRecord | None:
        row = (
            (
                await self.conn.execute(
                    select(outbox_threads).where(
                        outbox_threads.c.thread_key == thread_key, outbox_threads.c.platform == platform
                    )
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return ThreadRecord(
            thread_key=row["thread_key"],
            platform=row["platform"],
            target=row["target"],
            thread_id=row["thread_id"],
        )

    async def set_thread(self, thread_key: str, platform: str, *, target: str, thread_id: str) -> bool:
        """Remember where a conversation's thread is; the first one recorded stands."""
        statement = (
            self.dialect_insert(outbox_threads)
            .values(
                thread_key=thread_key,
                platform=platform,
                target=target,
                thread_id=thread_id[:64],
                created_at=self.now,
            )
            .on_conflict_do_nothing(index_elements=["thread_key", "platform"])
        )
        return bool((await self.conn.execute(statement)).rowcount)

    async def thread_key_at(self, platform: str, target: str, thread_id: str) -> str | None:
        """The conversation whose thread is ``thread_id`` in ``target`` (a reply in Slack's thread)."""
        value = (
            await self.conn.execute(
                select(outbox_threads.c.thread_key).where(
                    outbox_threads.c.platform == platform,
                    outbox_threads.c.target == target,
                    outbox_threads.c.thread_id == thread_id,
                )
            )
        ).scalar_one_or_none()
        return None if value is None else str(value)
