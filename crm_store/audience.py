"""The customers an audience filter selects (segment, tag, status, owner, custom field, loyalty
band, last order before/after, country), in one query: `find` and campaigns both read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, and_, cast, exists, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from crm_store.customers import _record, visible_to
from crm_store.records import CustomerRecord
from crm_store.repo import Repo
from crm_store.segments import in_segment
from crm_store.tables import customers, loyalty_scores, orders


@dataclass(frozen=True, slots=True)
class AudienceQuery:
    """Plain values, already checked: every given kind must hold (AND); within a kind, any of
    the values will do (OR). Empty: the whole book."""

    segment_ids: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    # Owner rep ids; None in the tuple stands for "no owner".
    owners: tuple[int | None, ...] = ()
    countries: tuple[str, ...] = ()
    # Loyalty score ranges [low, high) in the latest loyalty run.
    loyalty: tuple[tuple[float, float], ...] = ()
    last_order_before: datetime | None = None  # never ordered counts as before
    last_order_after: datetime | None = None
    custom: dict[str, tuple[str, ...]] = field(default_factory=dict)


class AudienceRepo(Repo):
    def _has_tag(self, tag: str) -> ColumnElement[bool]:
        if self.conn.dialect.name == "postgresql":
            return cast(customers.c.tags, JSONB).contains([tag])
        each = func.json_each(customers.c.tags).table_valued("value")
        return exists(select(1).select_from(each).where(each.c.value == tag))

    def _where(self, query: AudienceQuery) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [customers.c.deleted_at.is_(None)]
        if query.segment_ids:
            where.append(or_(*(in_segment(s) for s in query.segment_ids)))
        if query.tags:
            where.append(or_(*(self._has_tag(t) for t in query.tags)))
        if query.statuses:
            where.append(customers.c.status.in_(query.statuses))
        if query.owners:
            named = [o for o in query.owners if o is not None]
            either = [customers.c.owner_rep_id.in_(named)] if named else []
            if None in query.owners:
                either.append(customers.c.owner_rep_id.is_(None))
            where.append(or_(*either))
        if query.countries:
            where.append(func.lower(customers.c.country).in_([c.lower() for c in query.countries]))
        if query.loyalty:
            latest = select(func.max(loyalty_scores.c.run_date)).scalar_subquery()
            score = loyalty_scores.c.score
            scored = select(loyalty_scores.c.customer_id).where(
                loyalty_scores.c.run_date == latest,
                or_(*(and_(score >= lo, score < hi) for lo, hi in query.loyalty)),
            )
            where.append(customers.c.id.in_(scored))
        if query.last_order_before is not None or query.last_order_after is not None:
            last = (
                select(func.max(orders.c.ordered_at))
                .where(orders.c.customer_id == customers.c.id)
                .correlate(customers)
                .scalar_subquery()
            )
            if query.last_order_before is not None:
                where.append(or_(last.is_(None), last < query.last_order_before))
            if query.last_order_after is not None:
                where.append(last >= query.last_order_after)
        for key, values in query.custom.items():
            value = func.lower(cast(customers.c.custom[key].as_string(), String))
            where.append(value.in_([v.lower() for v in values]))
        return where

    async def ids(self, query: AudienceQuery, *, visible_to_rep: int | None = None) -> list[int]:
        """The ids of the customers ``query`` selects (live ones only), in id order."""
        where = self._where(query)
        if visible_to_rep is not None:
            where.append(visible_to(visible_to_rep))
        rows = await self.conn.execute(select(customers.c.id).where(*where).order_by(customers.c.id))
        return [int(r[0]) for r in rows]

    async def page(
        self, query: AudienceQuery, *, limit: int, offset: int = 0, visible_to_rep: int | None = None
    ) -> tuple[int, list[CustomerRecord]]:
        """(how many ``query`` selects, one page of them in id order)."""
        where = self._where(query)
        if visible_to_rep is not None:
            where.append(visible_to(visible_to_rep))
        total = (
            await self.conn.execute(select(func.count()).select_from(customers).where(*where))
        ).scalar_one()
        rows = await self.conn.execute(
            select(customers).where(*where).order_by(customers.c.id).limit(limit).offset(offset)
        )
        return int(total), [_record(r) for r in rows.mappings().all()]
