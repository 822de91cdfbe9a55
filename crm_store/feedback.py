"""Customer feedback: free text and ratings (CSAT), with sentiment."""

from __future__ import annotations

from sqlalchemy import insert, update

from crm_store.repo import Repo
from crm_store.tables import feedback


class FeedbackRepo(Repo):
    async def add(
        self,
        *,
        customer_id: int,
        text: str = "",
        rating: int | None = None,
        ticket_id: int | None = None,
        sentiment_label: str | None = None,
        sentiment_score: float | None = None,
    ) -> int:
        new_id = (
            await self.conn.execute(
                insert(feedback)
                .values(
                    customer_id=customer_id,
                    ticket_id=ticket_id,
                    text=text,
                    rating=rating,
                    sentiment_label=sentiment_label,
                    sentiment_score=sentiment_score,
                    created_at=self.now,
                )
                .returning(feedback.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "feedback", new_id, customer_id=customer_id, rating=rating)
        return int(new_id)

    async def move_customer(self, from_customer_id: int, to_customer_id: int) -> int:
        result = await self.conn.execute(
            update(feedback)
            .where(feedback.c.customer_id == from_customer_id)
            .values(customer_id=to_customer_id)
        )
        return int(result.rowcount or 0)
