"""The sample book's history: on a fresh start every analysis report has something to show."""

from __future__ import annotations

from bot.sample_data import load_sample
from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, all_text
from tests.handlers.reporting import png_size


async def test_every_report_shows_the_sample_history(router: Router, manager: Actor, store: Store) -> None:
    counts = await load_sample(store)
    assert counts["tickets"] == 12 + 80
    boss = Chat(router, manager)
    replies = {
        kind: await boss.say(f"report {kind}") for kind in ("satisfaction", "loyalty", "needs", "correlation")
    }
    for kind, reply in replies.items():
        assert not reply.is_error and not reply.text.startswith("No data"), (kind, reply.text)
        assert png_size(reply.image) == (1000, 600)
    assert "moved up a band" in replies["loyalty"].text
    assert len(replies["needs"].items) >= 4
    assert "customers with slower first responses give lower CSAT" in all_text(replies["correlation"])
    async with store.read() as tx:
        ticket = await tx.tickets.get(12)
    assert ticket is not None and ticket.subject == "Label printer arrived broken"  # README's #12 kept
