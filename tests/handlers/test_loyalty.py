"""loyalty <customer> and at-risk: scores with reasons, and the answers before any run."""

from __future__ import annotations

import re
from datetime import timedelta

from crm_store.store import Store
from handlers.jobs import JobSettings, run_loyalty
from handlers.messages import Actor
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import Chat, all_text, services_for


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


async def _mixed_book(store: Store, owner: Actor) -> None:
    """Four healthy buyers, three slipping buyers owned by ``owner`` (one old small order, an
    angry 1/5 and an open ticket each), and four leads who never ordered."""
    async with store.write("test") as tx:
        for n in range(4):
            healthy = await tx.customers.add(name=f"Healthy {n}")
            for m in range(5):
                await tx.orders.add(
                    customer_id=healthy.id,
                    rep_id=None,
                    amount_cents=100_000,
                    ordered_at=tx.now - timedelta(days=m + n),
                )
        for n in range(3):
            risky = await tx.customers.add(name=f"Risky {n}", owner_rep_id=owner.rep_id)
            await tx.orders.add(
                customer_id=risky.id,
                rep_id=None,
                amount_cents=1_000,
                ordered_at=tx.now - timedelta(days=200 + n),
            )
            await tx.feedback.add(
                customer_id=risky.id,
                text="we are leaving",
                rating=1,
                sentiment_label="negative",
                sentiment_score=-0.9,
            )
            await tx.tickets.open(customer_id=risky.id, subject="Still broken", source="telegram")
        for n in range(4):
            await tx.customers.add(name=f"Lead {n}")


_RISK_LINE = re.compile(r"^[^:]+ \(#\d+\) · score \d+, risk \d+%$")


async def test_one_book_gives_one_at_risk_count_and_one_alert_count_everywhere(
    router: Router, store: Store, rep: Actor, manager: Actor
) -> None:
    """report loyalty, at-risk, the digest and the run itself agree: at risk means a customer
    who has ordered with churn risk of at least 50% in the latest run (leads are not at risk),
    and a run's alerts are the alerts recorded for its date, whether or not a push reached the
    owner (here none can: the owner has no Slack account)."""
    await _mixed_book(store, rep)
    run = await run_loyalty(store, JobSettings(staff_platforms=("slack",), alert_below=45))
    assert (run.scored, run.alerts, run.new_alerts, run.queued) == (11, 3, 3, 0)
    boss = Chat(router, manager)

    report = await boss.say("report loyalty")
    assert {f.label: f.value for f in report.fields}["At risk"] == "3"
    assert len(report.items) == 3

    listed = await boss.say("at-risk")
    assert listed.text.startswith("3 customers at risk (churn risk ≥ 50%) in the 2026-11-23 scores")
    # The oldest order first.
    assert [i.text.split(" (#")[0] for i in listed.items] == ["Risky 2", "Risky 1", "Risky 0"]

    digest = await boss.say("digest")
    fields = {f.label: f.value for f in digest.fields}
    assert fields["At risk"] == "3" and fields["Loyalty alerts"] == "3"
    assert len([i for i in digest.items if i.text.startswith("Loyalty alert ")]) == run.alerts
    assert len([i for i in digest.items if _RISK_LINE.match(i.text)]) == 3

    again = await run_loyalty(store, JobSettings(staff_platforms=("slack",), alert_below=45))
    assert (again.alerts, again.new_alerts) == (3, 0)  # the same day's alerts, none raised twice


async def test_under_owner_access_each_figure_counts_the_readers_book(store: Store, manager: Actor) -> None:
    """The at-risk count beside a list of names counts the names that reader may see."""
    bea = await staff_actor(store, platform="console", user_id="bea", display_name="Bea", role="manager")
    await _mixed_book(store, bea)
    await run_loyalty(store, JobSettings(staff_platforms=("console",), alert_below=45))
    strict = Router(services_for(store, customer_access="owner"))
    for actor, expected in ((bea, 3), (manager, 0)):
        boss = Chat(strict, actor)
        report = await boss.say("report loyalty")
        digest = await boss.say("digest")
        listed = await boss.say("at-risk")
        assert {f.label: f.value for f in report.fields}["At risk"] == str(expected)
        assert len(report.items) == expected
        assert {f.label: f.value for f in digest.fields}["At risk"] == str(expected)
        assert {f.label: f.value for f in digest.fields}["Loyalty alerts"] == str(expected)
        assert len(listed.items) == expected, all_text(listed)
