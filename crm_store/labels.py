"""Sentiment labels on stored texts: find the unlabelled rows and label them in bulk (backfill)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, bindparam, select, update

from crm_store.repo import Repo
from crm_store.tables import feedback, interactions, ticket_messages

LABELLED_TABLES: dict[str, Table] = {
    "interactions": interactions,
    "ticket_messages": ticket_messages,
    "feedback": feedback,
}


class LabelRepo(Repo):
    async def unlabelled(self, kind: str, *, after_id: int = 0, limit: int = 1_000) -> list[tuple[int, str]]:
        """(id, text) of rows with no label yet, by id, after ``after_id``."""
        table = LABELLED_TABLES[kind]
        rows = await self.conn.execute(
            select(table.c.id, table.c.text)
            .where(table.c.sentiment_label.is_(None), table.c.id > after_id, table.c.text != "")
            .order_by(table.c.id)
            .limit(limit)
        )
        return [(int(r[0]), str(r[1])) for r in rows]

    async def set_labels(self, kind: str, labels: Sequence[tuple[int, str, float]]) -> None:
        if not labels:
            return
        table = LABELLED_TABLES[kind]
        await self.conn.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values(sentiment_label=bindparam("label"), sentiment_score=bindparam("score")),
            [{"row_id": i, "label": label, "score": score} for i, label, score in labels],
        )
        await self.audit.record("label", kind, None, rows=len(labels))
