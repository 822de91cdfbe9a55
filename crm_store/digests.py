"""Digest subscriptions: who gets a digest where, how often, at what local time; and the claim
of each period, so a period is sent once whatever the number of replicas or restarts."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import RowMapping

from crm_store.repo import Repo
from crm_store.tables import digest_subscriptions

CADENCES = ("daily", "weekly")


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    rep_id: int
    platform: str
    target: str
    cadence: str
    local_time: str
    timezone: str
    last_period: str | None


def _sub(row: RowMapping) -> Subscription:
    return Subscription(
        id=row["id"],
        rep_id=row["rep_id"],
        platform=row["platform"],
        target=row["target"],
        cadence=row["cadence"],
        local_time=row["local_time"],
        timezone=row["timezone"],
        last_period=row["last_period"],
    )


class DigestRepo(Repo):
    """Shares the outbox repository's dialect-aware INSERT ... ON CONFLICT."""

    async def subscribe(
        self,
        *,
        rep_id: int,
        platform: str,
        target: str,
        cadence: str,
        local_time: str,
        timezone: str,
        current_period: str,
    ) -> Subscription:
        """Add or change the subscription of ``target``; the period under way counts as sent,
        so subscribing at 10:00 to an 08:00 digest does not send this morning's at once."""
        if cadence not in CADENCES:
            raise ValueError(f"unknown cadence {cadence!r}")
        values = {
            "rep_id": rep_id,
            "cadence": cadence,
            "local_time": local_time,
            "timezone": timezone,
            "last_period": current_period,
        }
        statement = (
            self.dialect_insert(digest_subscriptions)
            .values(platform=platform, target=target, created_at=self.now, **values)
            .on_conflict_do_update(index_elements=["platform", "target"], set_=values)
        )
        await self.conn.execute(statement)
        await self.audit.record("subscribe", "digest", None, cadence=cadence, local_time=local_time)
        found = await self.conn.execute(
            select(digest_subscriptions).where(
                digest_subscriptions.c.platform == platform, digest_subscriptions.c.target == target
            )
        )
        return _sub(found.mappings().one())

    async def unsubscribe(self, rep_id: int) -> int:
        result = await self.conn.execute(
            delete(digest_subscriptions).where(digest_subscriptions.c.rep_id == rep_id)
        )
        removed = int(result.rowcount or 0)
        if removed:
            await self.audit.record("unsubscribe", "digest", None, removed=removed)
        return removed

    async def subscriptions(self, *, rep_id: int | None = None) -> list[Subscription]:
        query = select(digest_subscriptions).order_by(digest_subscriptions.c.id)
        if rep_id is not None:
            query = query.where(digest_subscriptions.c.rep_id == rep_id)
        return [_sub(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def claim_period(self, subscription_id: int, period: str) -> bool:
        """Record ``period`` as sent; False when it (or a later one) already was. Periods are
        ISO dates or weeks, so text order is time order."""
        result = await self.conn.execute(
            update(digest_subscriptions)
            .where(
                digest_subscriptions.c.id == subscription_id,
                or_(
                    digest_subscriptions.c.last_period.is_(None), digest_subscriptions.c.last_period < period
                ),
            )
            .values(last_period=period)
        )
        return bool(result.rowcount)
