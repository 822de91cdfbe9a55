"""loyalty <customer> and at-risk: scores with reasons, and the answers before any run."""

from __future__ import annotations

from datetime import timedelta

from crm_store.store import Store
from handlers.jobs import JobSettings, run_loyalty
from handlers.messages import Actor
from tests.conftest import Chat, all_text


async def _seed(store: Store, rep: Actor) -> None:
    async with store.write("test") as tx:
        good = await tx.customers.add(name="Acme Corp", owner_rep_id=rep.rep_id)
        bad = await tx.customers.add(name="Globex", owner_rep_id=rep.rep_id)
        for name in ("Initech", "Umbrella", "Hooli"):
            other = await tx.customers.add(name=name)
            for _ in range(2):
                await tx.orders.add(customer_id=other.id, rep_id=None, amount_cents=5_000)
        for n in range(6):
            await tx.orders.add(
                customer_id=good.id, rep_id=None, amount_cents=9_000, ordered_at=tx.now - timedelta(days=n)
            )
        await tx.orders.add(
            customer_id=bad.id, rep_id=None, amount_cents=1_000, ordered_at=tx.now - timedelta(days=200)
        )
        ticket = await tx.tickets.open(customer_id=bad.id, subject="Broken", source="telegram")
        assert ticket.id


async def test_loyalty_before_and_after_a_run(chat: Chat, store: Store, rep: Actor) -> None:
    await _seed(store, rep)
    assert "no loyalty score yet" in (await chat.say("loyalty acme")).text
    assert "No loyalty scores yet" in (await chat.say("at-risk")).text
    await run_loyalty(store, JobSettings(staff_platforms=("console",)))
    reply = await chat.say("loyalty globex")
    text = all_text(reply)
    assert reply.title == "Loyalty: Globex (#2)" and "churn risk" in reply.text
    assert "no order in 200 days" in text and "1 open ticket" in text
    risky = await chat.say("at-risk")
    assert risky.title == "At-risk customers" and risky.items[0].text.startswith("Globex (#2)")


async def test_loyalty_refusals(chat: Chat) -> None:
    assert "Usage: loyalty <customer>" in (await chat.say("loyalty")).text
    assert "No customer matches" in (await chat.say("loyalty nobodyhere")).text
