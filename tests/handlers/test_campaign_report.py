"""`campaign report` on a built book: delivery by state and reason, opt-outs, replies and their
sentiment, tickets, and orders within 30 days from the send arm against the control group (per
customer, and the lift); the chart; `report campaigns` and the digest's line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.store import Store
from handlers.campaign_report import ORDER_DAYS
from handlers.campaign_start import start_campaign
from handlers.digests import build_digest
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, all_text

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def boss(router: Router, manager: Actor) -> Chat:
    return Chat(router, manager)


async def test_the_report_counts_delivery_replies_and_orders_against_the_control_group(
    store: Store, boss: Chat, clock: FakeClock
) -> None:
    async with store.write("test") as tx:
        for n in range(20):
            made = await tx.customers.add(name=f"Member {n}", tags=["club"])
            await tx.people.link_customer(platform="telegram", external_id=f"9{n:03d}", customer_id=made.id)
        outsider = await tx.customers.add(name="Not in it")
    for line in (
        "campaign new Club news",
        "campaign audience 1 tag:club",
        "campaign text 1 News for {first_name|you}",
        "campaign control 1 50%",
    ):
        assert not (await boss.say(line)).is_error
    start = clock.now
    assert (await start_campaign(store, 1, start)).started
    async with store.read() as tx:
        arms = await tx.campaigns.arms(1)
    send, control = arms["send"], arms["control"]
    assert len(send) == len(control) == 10
    clock.advance(hours=1)
    async with store.write("pump") as tx:
        for n, who in enumerate(send[:8]):
            await tx.campaigns.set_recipient(1, who, state="sent", message_id=str(100 + n) if n else None)
        await tx.campaigns.set_recipient(1, send[8], state="failed", reason="blocked the bot")
        # what followed: orders in the window from 4 recipients and 1 of the control group
        for who in send[:4]:
            await tx.orders.add(
                customer_id=who, rep_id=None, amount_cents=10_000, ordered_at=start + timedelta(days=3)
            )
        await tx.orders.add(
            customer_id=control[0], rep_id=None, amount_cents=10_000, ordered_at=start + timedelta(days=5)
        )
        # ... and outside it, or from nobody in the campaign: not counted
        await tx.orders.add(
            customer_id=send[5], rep_id=None, amount_cents=99_900, ordered_at=start - timedelta(days=1)
        )
        later = start + timedelta(days=ORDER_DAYS + 1)
        await tx.orders.add(customer_id=send[5], rep_id=None, amount_cents=99_900, ordered_at=later)
        await tx.orders.add(customer_id=outsider.id, rep_id=None, amount_cents=99_900, ordered_at=start)
        await tx.tickets.open(
            customer_id=send[1],
            subject="Re: news",
            source="telegram",
            first_message="Love it!",
            sentiment_label="positive",
        )
        await tx.interactions.add(
            customer_id=send[2],
            rep_id=None,
            channel="email",
            kind="email",
            text="Stop spamming",
            direction="in",
            occurred_at=start + timedelta(days=1),
            sentiment_label="negative",
        )
        await tx.interactions.add(  # after the 7 days: not a reply to this campaign
            customer_id=send[3],
            rep_id=None,
            channel="email",
            kind="email",
            text="hi",
            direction="in",
            occurred_at=start + timedelta(days=9),
        )
        await tx.consents.record(send[2], "stopped", source="button", campaign_id=1)
        await tx.consents.record(control[1], "stopped", source="command")  # control: not an opt-out of it
    clock.advance(days=2)
    reply = await boss.say("campaign report 1")
    assert not reply.is_error, reply.text
    fields = {f.label: f.value for f in reply.fields}
    assert fields["Sent"] == "8"
    assert fields["Delivered"].startswith("7 ")
    assert fields["Failed"] == "1: blocked the bot 1"
    assert fields["Skipped"] == "0: none"
    assert fields["Still to send"].startswith("1 ")
    assert fields["Control group"] == "10 held out (50%)"
    assert fields["Opted out"] == "1"
    assert fields["Replies (7 days)"] == "2: positive 1, negative 1"
    assert fields["Tickets opened (7 days)"] == "1"
    assert fields["Orders (30 days), received it"] == (
        "4 orders, $400.00 from 10 customers: $40.00 each, 40% ordered"
    )
    assert fields["Orders (30 days), control group"] == (
        "1 order, $100.00 from 10 customers: $10.00 each, 10% ordered"
    )
    assert fields["Lift"] == "+$30.00 per customer (+300%)"
    assert reply.image is not None and reply.image.startswith(PNG)
    # finished: a line in `report campaigns` and in the digest of the period
    async with store.write("pump") as tx:
        await tx.campaigns.finish(1)
    listing = await boss.say("report campaigns 7")
    assert "Campaign #1 Club news finished: 8 sent, 7 delivered, 1 failed, 0 skipped" in all_text(listing)
    digest = await build_digest(
        store, since=start, until=clock.now + timedelta(seconds=1), tz="UTC", cadence="daily"
    )
    assert "Campaign #1 Club news finished" in all_text(digest)
    earlier = await build_digest(
        store, since=start - timedelta(days=2), until=start, tz="UTC", cadence="daily"
    )
    assert "Campaign #1" not in all_text(earlier)


async def test_without_a_control_group_the_lift_says_so(store: Store, boss: Chat, clock: FakeClock) -> None:
    async with store.write("test") as tx:
        made = await tx.customers.add(name="Solo", tags=["club"])
        await tx.people.link_customer(platform="telegram", external_id="1", customer_id=made.id)
    for line in ("campaign new Solo", "campaign audience 1 tag:club", "campaign text 1 Hi {first_name|you}"):
        await boss.say(line)
    await boss.say("campaign send 1")
    reply = await boss.say("campaign report 1")
    fields = {f.label: f.value for f in reply.fields}
    assert fields["Orders (30 days), control group"] == "no control group"
    assert fields["Lift"].startswith("no control group")
    assert (await boss.say("campaign report 2")).is_error
