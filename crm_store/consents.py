"""Consent and reach: who may get marketing messages on Telegram, and why the others may not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update

from crm_store.repo import Repo
from crm_store.tables import customer_consents, customers, identities

# Why a customer cannot be sent a campaign, in the order they are checked.
REASONS = ("erased", "no Telegram", "stopped", "blocked the bot")


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    customer_id: int
    topic: str
    state: str  # stopped or subscribed
    source: str  # button, command, staff, import, api
    campaign_id: int | None
    created_at: datetime


class ConsentRepo(Repo):
    # Blocking or unblocking a chat changes what Store.speaker caches about it.
    changed_people = False

    async def record(
        self,
        customer_id: int,
        state: str,
        *,
        source: str,
        topic: str = "marketing",
        campaign_id: int | None = None,
    ) -> None:
        """Add a consent event (``stopped`` or ``subscribed``); the latest one counts."""
        await self.conn.execute(
            insert(customer_consents).values(
                customer_id=customer_id,
                topic=topic,
                state=state,
                source=source,
                campaign_id=campaign_id,
                created_at=self.now,
            )
        )

    async def history(self, customer_id: int, topic: str = "marketing") -> list[ConsentEvent]:
        rows = (
            await self.conn.execute(
                select(customer_consents)
                .where(customer_consents.c.customer_id == customer_id, customer_consents.c.topic == topic)
                .order_by(customer_consents.c.created_at, customer_consents.c.id)
            )
        ).mappings()
        return [
            ConsentEvent(
                customer_id=r["customer_id"],
                topic=r["topic"],
                state=r["state"],
                source=r["source"],
                campaign_id=r["campaign_id"],
                created_at=r["created_at"],
            )
            for r in rows
        ]

    async def stopped(self, customer_ids: Iterable[int], topic: str = "marketing") -> set[int]:
        """Those of ``customer_ids`` whose latest consent event for ``topic`` is ``stopped``."""
        ids = list(customer_ids)
        if not ids:
            return set()
        latest = (
            select(
                customer_consents.c.customer_id,
                func.max(customer_consents.c.id).label("last_id"),
            )
            .where(customer_consents.c.topic == topic, customer_consents.c.customer_id.in_(ids))
            .group_by(customer_consents.c.customer_id)
            .subquery()
        )
        rows = await self.conn.execute(
            select(customer_consents.c.customer_id).join(
                latest,
                and_(
                    latest.c.last_id == customer_consents.c.id,
                    customer_consents.c.state == "stopped",
                ),
            )
        )
        return {r[0] for r in rows}

    async def unreachable(self, customer_ids: Iterable[int], platform: str = "telegram") -> dict[int, str]:
        """Why each of ``customer_ids`` that cannot get a marketing message cannot (a reason of
        ``REASONS``); the reachable ones are not in the answer."""
        ids = list(dict.fromkeys(customer_ids))
        reasons: dict[int, str] = {}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            people = (
                await self.conn.execute(
                    select(customers.c.id, customers.c.erased_at, customers.c.deleted_at).where(
                        customers.c.id.in_(chunk)
                    )
                )
            ).all()
            chats = (
                await self.conn.execute(
                    select(identities.c.customer_id, identities.c.blocked_at).where(
                        identities.c.platform == platform, identities.c.customer_id.in_(chunk)
                    )
                )
            ).all()
            linked: dict[int, bool] = {}
            for customer_id, blocked_at in chats:  # any unblocked chat reaches the customer
                linked[customer_id] = linked.get(customer_id, False) or blocked_at is None
            stopped = await self.stopped(chunk)
            for customer_id, erased_at, deleted_at in people:
                if erased_at is not None or deleted_at is not None:
                    reasons[customer_id] = "erased"
                elif customer_id not in linked:
                    reasons[customer_id] = "no Telegram"
                elif customer_id in stopped:
                    reasons[customer_id] = "stopped"
                elif not linked[customer_id]:
                    reasons[customer_id] = "blocked the bot"
            known = {row[0] for row in people}
            for customer_id in chunk:
                if customer_id not in known:  # no such customer: nothing to reach
                    reasons[customer_id] = "erased"
        return reasons

    async def mark_blocked(self, platform: str, external_id: str) -> bool:
        """The chat blocked the bot (Telegram 403): unreachable until it writes again."""
        result = await self.conn.execute(
            update(identities)
            .where(
                identities.c.platform == platform,
                identities.c.external_id == external_id,
                identities.c.blocked_at.is_(None),
            )
            .values(blocked_at=self.now)
        )
        self.changed_people = self.changed_people or bool(result.rowcount)
        return bool(result.rowcount)

    async def mark_unblocked(self, platform: str, external_id: str) -> bool:
        """The chat wrote to the bot again: reachable once more."""
        result = await self.conn.execute(
            update(identities)
            .where(
                identities.c.platform == platform,
                identities.c.external_id == external_id,
                identities.c.blocked_at.is_not(None),
            )
            .values(blocked_at=None)
        )
        self.changed_people = self.changed_people or bool(result.rowcount)
        return bool(result.rowcount)

    async def chats(self, customer_ids: Iterable[int], platform: str = "telegram") -> dict[int, str]:
        """The chat each of ``customer_ids`` is reached at on ``platform``: their first account
        that has not blocked the bot (the oldest linked); those with none are not in the answer."""
        ids = list(dict.fromkeys(customer_ids))
        found: dict[int, str] = {}
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            rows = await self.conn.execute(
                select(identities.c.customer_id, identities.c.external_id)
                .where(
                    identities.c.platform == platform,
                    identities.c.customer_id.in_(ids[start : start + 500]),
                    identities.c.blocked_at.is_(None),
                )
                .order_by(identities.c.id)
            )
            for customer_id, external_id in rows:
                found.setdefault(int(customer_id), str(external_id))
        return found
