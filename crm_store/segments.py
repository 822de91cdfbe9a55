"""Customer segments in the store: the features read in bulk (one aggregate pass per table, no
per-customer query), each run's segments and assignments, and the segment filter on customers."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.sql.elements import ColumnElement

from crm_store.customers import _record, visible_to
from crm_store.records import CustomerRecord
from crm_store.repo import Repo
from crm_store.tables import customer_segments, customers, loyalty_scores, segments
from insight.segment_features import COLUMN, FEATURES

# Sentiment, ratings and breached tickets older than this no longer describe a customer.
WINDOW_DAYS = 365
WRITE_BATCH = 20_000

_DAYS = {
    "sqlite": "(julianday(:now) - julianday({col}))",
    "postgresql": "(EXTRACT(EPOCH FROM (CAST(:now AS TIMESTAMPTZ) - {col})) / 86400.0)",
}

# One statement per table, each grouped by customer (the book's tables are read once each).
_CUSTOMERS = "SELECT id, {days} FROM customers WHERE deleted_at IS NULL ORDER BY id"
_ORDERS = """
SELECT customer_id, SUM(CASE WHEN amount_cents > 0 THEN 1 ELSE 0 END), SUM(amount_cents),
    SUM(CASE WHEN amount_cents > 0 THEN amount_cents ELSE 0 END), {last_days}, {first_days}
FROM orders WHERE ordered_at <= :now GROUP BY customer_id
"""
_LINES = """
SELECT customer_id, COUNT(DISTINCT product_id) FROM order_lines
WHERE quantity > 0 AND ordered_at <= :now GROUP BY customer_id
"""
_INTERACTIONS = """
SELECT customer_id, SUM(sentiment_score), COUNT(sentiment_score) FROM interactions
WHERE occurred_at >= :since AND sentiment_score IS NOT NULL GROUP BY customer_id
"""
_FEEDBACK = """
SELECT customer_id, SUM(sentiment_score), COUNT(sentiment_score), SUM(rating), COUNT(rating)
FROM feedback WHERE created_at >= :since GROUP BY customer_id
"""
_TICKETS = """
SELECT customer_id,
    SUM(CASE WHEN resolved_at >= :since THEN csat_rating END),
    COUNT(CASE WHEN resolved_at >= :since THEN csat_rating END),
    SUM(CASE WHEN status <> 'resolved' THEN 1 ELSE 0 END),
    SUM(CASE WHEN breached_at IS NOT NULL AND created_at >= :since THEN 1 ELSE 0 END)
FROM tickets GROUP BY customer_id
"""
_LOYALTY = "SELECT customer_id, score FROM loyalty_scores WHERE run_date = :run"


@dataclass(frozen=True, slots=True)
class FeatureBook:
    """Live customers (ascending ids) and their raw features (FEATURES order, NaN: missing)."""

    customer_ids: NDArray[np.int64]
    raw: NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class NewSegment:
    """One segment of a run, as the model named it."""

    slug: str
    name: str
    description: str
    size: int
    figures: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    id: int
    slug: str
    name: str
    description: str
    size: int
    figures: dict[str, Any]
    computed_at: datetime

    def z(self) -> list[float]:
        """The centre's z-scores in FEATURES order (0 for a feature it was not computed with)."""
        stored = self.figures.get("z", {})
        return [float(stored.get(name, 0.0)) for name in FEATURES]


@dataclass(frozen=True, slots=True)
class SavedRun:
    customers: int
    moved: int  # customers whose segment changed since the last run
    new: int  # customers with no segment before


@dataclass(frozen=True, slots=True)
class SegmentMove:
    from_name: str
    to_name: str
    customers: int


def _segment(row: RowMapping) -> SegmentRecord:
    return SegmentRecord(
        id=int(row["id"]),
        slug=str(row["slug"]),
        name=str(row["name"]),
        description=str(row["description"]),
        size=int(row["size"]),
        figures=dict(row["figures"] or {}),
        computed_at=row["computed_at"],
    )


def _norm(text_: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text_.casefold()).strip("-")


def in_segment(segment_id: int) -> ColumnElement[bool]:
    """Customers in segment ``segment_id``: a filter for any query over ``customers`` (lists,
    campaigns, the API)."""
    members = select(customer_segments.c.customer_id).where(customer_segments.c.segment_id == segment_id)
    return customers.c.id.in_(members)


class SegmentRepo(Repo):
    def _bind_time(self, moment: datetime) -> Any:
        # SQLite keeps UTC timestamps as naive text (crm_store.types): compare in that format.
        if self.conn.dialect.name == "sqlite":
            return moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    async def _rows(self, sql: str, params: dict[str, Any]) -> NDArray[np.float64]:
        """All rows of ``sql`` as a float matrix, read through the driver's own cursor: at a
        million rows, building SQLAlchemy Row objects would cost more than the query."""

        def fetch(sync_conn: Connection) -> list[Any]:
            compiled = text(sql).compile(dialect=sync_conn.dialect)
            bound = compiled.construct_params(params)
            positions = compiled.positiontup
            args: Any = tuple(bound[name] for name in positions) if positions is not None else bound
            cursor = sync_conn.connection.cursor()
            try:
                cursor.execute(compiled.string, args)
                return list(cursor.fetchall())
            finally:
                cursor.close()

        rows = await self.conn.run_sync(fetch)
        if not rows:
            return np.empty((0, 0))
        return np.array(rows, dtype=np.float64)

    async def features(self, *, window_days: int = WINDOW_DAYS) -> FeatureBook:
        """Every live customer's features as of now, one grouped pass over each table."""
        days = _DAYS[self.conn.dialect.name]
        now = self._bind_time(self.now)
        params = {"now": now, "since": self._bind_time(self.now - timedelta(days=window_days))}
        book = await self._rows(_CUSTOMERS.format(days=days.format(col="created_at")), params)
        n = book.shape[0]
        ids = book[:, 0].astype(np.int64) if n else np.empty(0, dtype=np.int64)
        raw = np.full((n, len(FEATURES)), np.nan)
        if n == 0:
            return FeatureBook(ids, raw)
        tenure = book[:, 1].copy()

        def place(found: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
            """Rows of ``found`` whose customer is live, and where each goes."""
            if found.size == 0:
                return np.empty(0, dtype=np.int64), np.empty((0, 0))
            where = np.searchsorted(ids, found[:, 0].astype(np.int64))
            where = np.minimum(where, n - 1)
            live = ids[where] == found[:, 0].astype(np.int64)
            return where[live], found[live]

        def put(name: str, at: NDArray[np.int64], values: NDArray[np.float64]) -> None:
            raw[at, COLUMN[name]] = values

        order_sql = _ORDERS.format(
            last_days=days.format(col="MAX(ordered_at)"), first_days=days.format(col="MIN(ordered_at)")
        )
        at, found = place(await self._rows(order_sql, {"now": now}))
        if at.size:
            bought = found[:, 1]
            put("frequency", at, bought)
            put("monetary", at, found[:, 2])
            put("aov", at, np.where(bought > 0, found[:, 3] / np.maximum(bought, 1), np.nan))
            put("recency_days", at, np.maximum(found[:, 4], 0.0))
            tenure[at] = np.fmax(tenure[at], found[:, 5])  # a first order before the record
        put("tenure_days", np.arange(n), np.maximum(tenure, 0.0))
        at, found = place(await self._rows(_LINES, {"now": now}))
        if at.size:
            put("breadth", at, found[:, 1])
        said = np.zeros((n, 2))  # sum and count of sentiment scores
        rated = np.zeros((n, 2))  # sum and count of ratings (tickets' CSAT and feedback)
        at, found = place(await self._rows(_INTERACTIONS, params))
        if at.size:
            said[at] += np.nan_to_num(found[:, 1:3])
        at, found = place(await self._rows(_FEEDBACK, params))
        if at.size:
            said[at] += np.nan_to_num(found[:, 1:3])
            rated[at] += np.nan_to_num(found[:, 3:5])
        at, found = place(await self._rows(_TICKETS, params))
        if at.size:
            rated[at] += np.nan_to_num(found[:, 1:3])
            put("open_tickets", at, np.nan_to_num(found[:, 3]))
            put("breached_tickets", at, np.nan_to_num(found[:, 4]))
        with np.errstate(invalid="ignore", divide="ignore"):
            put("sentiment", np.arange(n), np.where(said[:, 1] > 0, said[:, 0] / said[:, 1], np.nan))
            put("csat", np.arange(n), np.where(rated[:, 1] > 0, rated[:, 0] / rated[:, 1], np.nan))
        run = (await self.conn.execute(select(func.max(loyalty_scores.c.run_date)))).scalar_one_or_none()
        if run is not None:
            at, found = place(await self._rows(_LOYALTY, {"run": run}))
            if at.size:
                put("loyalty", at, found[:, 1])
        return FeatureBook(ids, raw)

    # -- runs ---------------------------------------------------------------------------------

    async def save_run(
        self, new: Sequence[NewSegment], *, customer_ids: NDArray[np.int64], labels: NDArray[np.int64]
    ) -> SavedRun:
        """Store one run: its segments (by slug; the others drop to size 0) and each customer's
        segment (``labels[i]`` indexes ``new`` for ``customer_ids[i]``). Only customers whose
        segment changed are written; a move keeps the segment they left."""
        ids_by_slug: dict[str, int] = {}
        existing = {
            str(r["slug"]): int(r["id"]) for r in (await self.conn.execute(select(segments))).mappings().all()
        }
        for segment in new:
            values = {
                "name": segment.name,
                "description": segment.description[:300],
                "size": segment.size,
                "figures": segment.figures,
                "computed_at": self.now,
            }
            if segment.slug in existing:
                await self.conn.execute(
                    update(segments).where(segments.c.id == existing[segment.slug]).values(**values)
                )
                ids_by_slug[segment.slug] = existing[segment.slug]
            else:
                adding = segments.insert().values(slug=segment.slug, **values).returning(segments.c.id)
                ids_by_slug[segment.slug] = int((await self.conn.execute(adding)).scalar_one())
        gone = [i for slug, i in existing.items() if slug not in ids_by_slug]
        if gone:
            await self.conn.execute(
                update(segments).where(segments.c.id.in_(gone)).values(size=0, computed_at=self.now)
            )
        segment_of = np.array([ids_by_slug[s.slug] for s in new], dtype=np.int64)[labels]
        before = await self._assignments()
        old = np.zeros(customer_ids.shape[0], dtype=np.int64)  # 0: no segment before
        if before.size:
            where = np.minimum(np.searchsorted(before[:, 0], customer_ids), before.shape[0] - 1)
            hit = before[where, 0] == customer_ids
            old[hit] = before[where[hit], 1]
        changed = np.flatnonzero(old != segment_of)
        statement = self.dialect_insert(customer_segments)
        statement = statement.on_conflict_do_update(
            index_elements=["customer_id"],
            set_={
                "segment_id": statement.excluded.segment_id,
                "previous_segment_id": statement.excluded.previous_segment_id,
                "moved_at": statement.excluded.moved_at,
            },
        )
        for start in range(0, changed.shape[0], WRITE_BATCH):
            part = changed[start : start + WRITE_BATCH]
            rows = [
                {
                    "customer_id": c,
                    "segment_id": s,
                    "previous_segment_id": p or None,
                    "moved_at": self.now,
                }
                for c, s, p in zip(
                    customer_ids[part].tolist(), segment_of[part].tolist(), old[part].tolist(), strict=True
                )
            ]
            await self.conn.execute(statement, rows)
        # Customers removed since: no segment (their rows would count in no list anyway).
        await self.conn.execute(
            delete(customer_segments).where(
                customer_segments.c.customer_id.in_(
                    select(customers.c.id).where(customers.c.deleted_at.is_not(None))
                )
            )
        )
        moved = int(np.count_nonzero(old[changed]))
        saved = SavedRun(customers=int(customer_ids.shape[0]), moved=moved, new=int(changed.shape[0]) - moved)
        await self.audit.record(
            "recompute", "segments", "", segments=len(new), customers=saved.customers, moved=saved.moved
        )
        return saved

    async def _assignments(self) -> NDArray[np.int64]:
        rows = (
            await self.conn.execute(
                select(customer_segments.c.customer_id, customer_segments.c.segment_id).order_by(
                    customer_segments.c.customer_id
                )
            )
        ).all()
        return np.array([tuple(r) for r in rows], dtype=np.int64).reshape(-1, 2)

    # -- reading ------------------------------------------------------------------------------

    async def live(self) -> list[SegmentRecord]:
        """The latest run's segments, largest first."""
        query = select(segments).where(segments.c.size > 0).order_by(segments.c.size.desc(), segments.c.id)
        return [_segment(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def get(self, segment_id: int) -> SegmentRecord | None:
        row = (
            (await self.conn.execute(select(segments).where(segments.c.id == segment_id))).mappings().first()
        )
        return None if row is None else _segment(row)

    async def matching(self, ref: str) -> list[SegmentRecord]:
        """The live segments ``ref`` names: its slug or its whole name exactly (one), else every
        segment whose name or slug holds it (one when it is unambiguous)."""
        wanted = _norm(ref)
        if not wanted:
            return []
        found = await self.live()
        exact = [s for s in found if wanted in (s.slug, _norm(s.name))]
        if exact:
            return exact[:1]
        return [s for s in found if wanted in s.slug or wanted in _norm(s.name)]

    async def of_customer(self, customer_id: int) -> SegmentRecord | None:
        query = (
            select(segments)
            .join(customer_segments, customer_segments.c.segment_id == segments.c.id)
            .where(customer_segments.c.customer_id == customer_id, segments.c.size > 0)
        )
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _segment(row)

    def _members_query(self, segment_id: int, visible_to_rep: int | None) -> Any:
        where = [in_segment(segment_id), customers.c.deleted_at.is_(None)]
        if visible_to_rep is not None:
            where.append(visible_to(visible_to_rep))
        return and_(*where)

    async def members(
        self,
        segment_id: int,
        *,
        limit: int,
        offset: int = 0,
        after_id: int | None = None,
        visible_to_rep: int | None = None,
    ) -> list[CustomerRecord]:
        """Segment members a reader may see, by id (stable pages; ``after_id``: those after it)."""
        where = self._members_query(segment_id, visible_to_rep)
        if after_id is not None:
            where = and_(where, customers.c.id > after_id)
        query = select(customers).where(where).order_by(customers.c.id).limit(limit).offset(offset)
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def member_count(self, segment_id: int, *, visible_to_rep: int | None = None) -> int:
        query = (
            select(func.count()).select_from(customers).where(self._members_query(segment_id, visible_to_rep))
        )
        return int((await self.conn.execute(query)).scalar_one())

    async def members_among(self, segment_id: int, customer_ids: Sequence[int]) -> set[int]:
        """Which of ``customer_ids`` are in segment ``segment_id``."""
        if not customer_ids:
            return set()
        query = select(customer_segments.c.customer_id).where(
            customer_segments.c.segment_id == segment_id,
            customer_segments.c.customer_id.in_(list(customer_ids)),
        )
        return {int(r[0]) for r in (await self.conn.execute(query)).all()}

    async def moves_between(
        self, since: datetime, until: datetime, *, visible_to_rep: int | None = None
    ) -> list[SegmentMove]:
        """Customers who moved segment in [since, until), per (from, to), most first."""
        previous = segments.alias("previous")
        query = (
            select(previous.c.name.label("from_name"), segments.c.name.label("to_name"), func.count())
            .select_from(
                customer_segments.join(segments, segments.c.id == customer_segments.c.segment_id)
                .join(previous, previous.c.id == customer_segments.c.previous_segment_id)
                .join(customers, customers.c.id == customer_segments.c.customer_id)
            )
            .where(
                customer_segments.c.moved_at >= since,
                customer_segments.c.moved_at < until,
                customers.c.deleted_at.is_(None),
            )
            .group_by(previous.c.name, segments.c.name)
            .order_by(func.count().desc(), previous.c.name, segments.c.name)
        )
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [SegmentMove(str(a), str(b), int(n)) for a, b, n in (await self.conn.execute(query)).all()]
