"""nlp backfill labels every stored text that has no sentiment yet, and only those."""

from __future__ import annotations

from crm_store.store import Store
from handlers.backfill import backfill


async def test_backfill_labels_all_kinds_once(store: Store, classifier) -> None:
    async with store.write("t") as tx:
        c = await tx.customers.add(name="Acme")
        await tx.interactions.add(
            customer_id=c.id,
            rep_id=None,
            channel="t",
            kind="call",
            text="They are furious about the outage, terrible week.",
        )
        await tx.interactions.add(
            customer_id=c.id,
            rep_id=None,
            channel="t",
            kind="note",
            text="kept",
            sentiment_label="positive",
            sentiment_score=0.5,
        )
        t = await tx.tickets.open(
            customer_id=c.id, subject="s", source="t", first_message="Thanks, works great!"
        )
        await tx.feedback.add(customer_id=c.id, text="Where is my invoice?")
    assert await backfill(store, classifier) == {"interactions": 1, "ticket_messages": 1, "feedback": 1}
    async with store.read() as tx:
        interactions = await tx.interactions.for_customer(c.id)
        messages = await tx.tickets.messages(t.id)
    assert {(i.text[:4], i.sentiment_label) for i in interactions} == {
        ("They", "negative"),
        ("kept", "positive"),
    }
    assert messages[0].sentiment_label == "positive"
    assert await backfill(store, classifier) == {"interactions": 0, "ticket_messages": 0, "feedback": 0}
