"""What the next-product model reads: every order line in bulk (one scan), one customer's
products, the customers to recommend to, and the customer's segment once segments exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, func, select

from crm_store import tables
from crm_store.customers import visible_to
from crm_store.repo import Repo
from crm_store.tables import customers, order_lines

_BATCH = 50_000  # rows fetched per round trip in the bulk scan


def day_of(moment: datetime) -> float:
    """A moment as days since the Unix epoch (the model's clock)."""
    return moment.timestamp() / 86_400.0


@dataclass(frozen=True, slots=True)
class LineColumns:
    """Every order line as columns, in the order the model takes them."""

    customer_ids: npt.NDArray[np.int64]
    product_ids: npt.NDArray[np.int64]
    quantities: npt.NDArray[np.int64]
    order_ids: npt.NDArray[np.int64]
    days: npt.NDArray[np.float64]


class RecommendRepo(Repo):
    async def lines(self) -> LineColumns:
        """Every order line of customers not deleted, streamed in batches into arrays."""
        query = (
            select(
                order_lines.c.customer_id,
                order_lines.c.product_id,
                order_lines.c.quantity,
                order_lines.c.order_id,
                order_lines.c.ordered_at,
            )
            .join(customers, customers.c.id == order_lines.c.customer_id)
            .where(customers.c.deleted_at.is_(None))
        )
        # Each batch becomes arrays at once, so a book of millions of lines never sits in
        # memory as Python tuples.
        tables: list[npt.NDArray[np.int64]] = [np.zeros((0, 4), dtype=np.int64)]
        days: list[npt.NDArray[np.float64]] = [np.zeros(0)]
        result = await self.conn.stream(query.execution_options(yield_per=_BATCH))
        async for part in result.partitions(_BATCH):
            tables.append(np.array([tuple(r[:4]) for r in part], dtype=np.int64).reshape(-1, 4))
            days.append(np.fromiter((day_of(r[4]) for r in part), dtype=np.float64, count=len(part)))
        table = np.concatenate(tables)
        return LineColumns(
            customer_ids=table[:, 0].copy(),
            product_ids=table[:, 1].copy(),
            quantities=table[:, 2].copy(),
            order_ids=table[:, 3].copy(),
            days=np.concatenate(days),
        )

    async def held(self, customer_id: int) -> dict[int, float]:
        """The products a customer holds (bought, net of returns) and the day each was last bought."""
        query = (
            select(
                order_lines.c.product_id,
                func.max(order_lines.c.ordered_at).filter(order_lines.c.quantity > 0),
            )
            .where(order_lines.c.customer_id == customer_id)
            .group_by(order_lines.c.product_id)
            .having(func.sum(order_lines.c.quantity) > 0)
        )
        rows = (await self.conn.execute(query)).all()
        return {int(r[0]): day_of(r[1]) for r in rows if r[1] is not None}

    async def customer_ids(self, *, visible_to_rep: int | None = None) -> list[int]:
        """Every customer not deleted (only those ``visible_to_rep`` may see, when given)."""
        query = select(customers.c.id).where(customers.c.deleted_at.is_(None)).order_by(customers.c.id)
        if visible_to_rep is not None:
            query = query.where(visible_to(visible_to_rep))
        return [int(r[0]) for r in await self.conn.execute(query)]

    async def segment_of(self, customer_id: int) -> str | None:
        """The name of the customer's segment; None when they are in none, or until the
        segments area's tables are part of the store."""
        found = _segment_tables()
        if found is None:
            return None
        segments, members = found
        query = (
            select(segments.c.name)
            .join(members, members.c.segment_id == segments.c.id)
            .where(members.c.customer_id == customer_id)
        )
        name = (await self.conn.execute(query)).scalar_one_or_none()
        return None if name is None else str(name)

    async def segments(self) -> dict[int, str]:
        """Every customer's segment name, in bulk (empty until segments exist)."""
        found = _segment_tables()
        if found is None:
            return {}
        segments, members = found
        query = select(members.c.customer_id, segments.c.name).join(
            segments, members.c.segment_id == segments.c.id
        )
        return {int(r[0]): str(r[1]) for r in await self.conn.execute(query)}

    async def segment_members(self, segment: str) -> list[int]:
        """The ids of a segment's members, by its name (empty until segments exist)."""
        found = _segment_tables()
        if found is None:
            return []
        segments, members = found
        query = (
            select(members.c.customer_id)
            .join(segments, members.c.segment_id == segments.c.id)
            .where(segments.c.name == segment)
        )
        return [int(r[0]) for r in await self.conn.execute(query)]


def _segment_tables() -> tuple[Table, Table] | None:
    """(segments, customer_segments) once the segments area (built in parallel) has added them
    to crm_store.tables; None before, so best sellers are the whole book's until then."""
    segments, members = getattr(tables, "segments", None), getattr(tables, "customer_segments", None)
    if isinstance(segments, Table) and isinstance(members, Table):
        return segments, members
    return None
