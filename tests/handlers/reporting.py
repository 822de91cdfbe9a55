"""Helpers for the report tests: plant tickets, ratings and what customers said at given times
on the fake clock, and read a PNG's size."""

from __future__ import annotations

import struct
from datetime import datetime, timedelta

from crm_store.store import Store
from tests.conftest import FakeClock


def png_size(data: bytes | None) -> tuple[int, int]:
    assert data is not None and data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1_000
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _label(score: float | None) -> str | None:
    if score is None:
        return None
    return "negative" if score < -0.2 else "positive" if score >= 0.2 else "neutral"


async def customer(store: Store, name: str, *, owner: int | None = None) -> int:
    async with store.write("test") as tx:
        return (await tx.customers.add(name=name, owner_rep_id=owner)).id


async def ticket(
    store: Store,
    clock: FakeClock,
    *,
    customer_id: int,
    at: datetime,
    subject: str = "Question",
    text: str = "",
    sentiment: float | None = None,
    answer_after: timedelta | None = None,
    rating: int | None = None,
) -> int:
    """A ticket opened at ``at``; answered after ``answer_after``, then resolved and rated."""
    clock.now = at
    async with store.write("test") as tx:
        opened = await tx.tickets.open(
            customer_id=customer_id,
            subject=subject,
            source="test",
            first_message=text,
            sentiment_label=_label(sentiment),
            sentiment_score=sentiment,
        )
    if answer_after is not None:
        clock.now = at + answer_after
        async with store.write("test") as tx:
            await tx.tickets.add_message(opened.id, author_kind="rep", text="On it")
    if rating is not None:
        clock.advance(minutes=1)
        async with store.write("test") as tx:
            await tx.tickets.resolve(opened.id)
            assert await tx.tickets.set_csat(opened.id, customer_id, rating)
    return opened.id


async def said(
    store: Store, clock: FakeClock, *, customer_id: int, at: datetime, text: str, sentiment: float | None
) -> None:
    """An interaction logged at ``at``."""
    clock.now = at
    async with store.write("test") as tx:
        await tx.interactions.add(
            customer_id=customer_id,
            rep_id=None,
            channel="test",
            kind="call",
            text=text,
            occurred_at=at,
            sentiment_label=_label(sentiment),
            sentiment_score=sentiment,
        )


async def feedback(
    store: Store, clock: FakeClock, *, customer_id: int, at: datetime, text: str, sentiment: float | None
) -> None:
    clock.now = at
    async with store.write("test") as tx:
        await tx.feedback.add(
            customer_id=customer_id, text=text, sentiment_label=_label(sentiment), sentiment_score=sentiment
        )
