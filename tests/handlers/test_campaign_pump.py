"""The campaign pump: each recipient queued once across restarts and two pumps on one store,
the outbox's bulk backlog kept short, consent and blocks checked at send time, quiet hours
deferring to the morning, a cancel stopping the rest, and the campaign finished when done."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_store.store import Store
from handlers import campaign_outcomes
from handlers.campaign_pump import CampaignPump, PumpSettings
from handlers.campaign_start import start_campaign
from handlers.campaign_text import campaign_message
from handlers.quiet_hours import QuietPolicy, spread
from tests.conftest import FakeClock

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _book(store: Store, count: int, *, zone: str | None = None, start_chat: int = 5000) -> list[int]:
    async with store.write("t") as tx:
        ids = []
        for n in range(count):
            c = await tx.customers.add(name=f"C{n}", timezone=zone)
            await tx.people.link_customer(
                platform="telegram", external_id=str(start_chat + n), customer_id=c.id
            )
            ids.append(c.id)
    return ids


async def _campaign(store: Store, *, at: datetime) -> int:
    async with store.write("t") as tx:
        campaign = await tx.campaigns.create("Sale", created_by_rep_id=None)
        await tx.campaigns.edit(campaign.id, audience="all", body="Half price, {first_name|friend}")
        await tx.campaigns.schedule(campaign.id, at)
    return campaign.id


def _pump(store: Store, *, backlog: int = 1000, holder: str = "p1") -> CampaignPump:
    settings = PumpSettings(backlog=backlog, batch=4, quiet=QuietPolicy())
    return CampaignPump(store, start_campaign, campaign_message, settings, holder=holder)


async def _sent_all(store: Store) -> int:
    """What a dispatcher would do: every pending outbox row sent, in one go."""
    async with store.write("d") as tx:
        rows = await tx.outbox.claim_due(platforms=["telegram"], limit=10_000, lease=PumpSettings().lease)
        for row in rows:
            await tx.outbox.mark_sent(row.id, f"m{row.id}")
            await campaign_outcomes.sent(tx, row.idempotency_key, f"m{row.id}")
    return len(rows)


async def test_each_recipient_is_queued_once_across_restarts_and_finished(
    store: Store, db_url: str, clock: FakeClock
) -> None:
    clock.now = NOON
    await _book(store, 10)
    campaign_id = await _campaign(store, at=NOON)
    report = await _pump(store).run_once()
    assert (report.started, report.queued) == (1, 10)
    other = Store.open(db_url, clock=clock)  # a restarted process, or a second replica
    try:
        clock.advance(seconds=31)  # the first pump's lease has run out
        again = await _pump(other, holder="p2").run_once()
        assert (again.started, again.queued) == (0, 0)
    finally:
        await other.close()
    async with store.read() as tx:
        rows = await tx.outbox.listing(limit=100)
        assert sorted(r.idempotency_key for r in rows) == sorted(
            f"campaign:{campaign_id}:{i}" for i in range(1, 11)
        )
        assert {r.priority for r in rows} == {2} and rows[0].payload["text"] == "Half price, C0"
        assert [b["action"] for b in rows[0].payload["buttons"]] == [f"crm:campaign-stop:{campaign_id}"]
        assert (await tx.campaigns.get(campaign_id)).state == "sending"  # type: ignore[union-attr]
    assert await _sent_all(store) == 10
    assert (await _pump(store, holder="p2").run_once()).finished == 1
    async with store.read() as tx:
        assert (await tx.campaigns.get(campaign_id)).state == "sent"  # type: ignore[union-attr]
        assert await tx.campaigns.delivered(campaign_id) == 10
        assert await tx.campaigns.counts(campaign_id) == {("send", "sent", None): 10}


async def test_a_second_pump_holding_no_lease_feeds_nothing(store: Store, clock: FakeClock) -> None:
    clock.now = NOON
    await _book(store, 3)
    await _campaign(store, at=NOON)
    assert (await _pump(store, backlog=1).run_once()).queued == 1
    assert (await _pump(store, holder="p2").run_once()).queued == 0


async def test_the_backlog_stays_short_and_a_cancel_stops_the_rest(store: Store, clock: FakeClock) -> None:
    clock.now = NOON
    await _book(store, 12)
    campaign_id = await _campaign(store, at=NOON)
    pump = _pump(store, backlog=5)
    assert (await pump.run_once()).queued == 5
    assert (await pump.run_once()).queued == 0  # nothing sent yet: the backlog is full
    assert await _sent_all(store) == 5
    assert (await pump.run_once()).queued == 5
    async with store.write("t") as tx:
        assert await tx.campaigns.cancel(campaign_id) == 2
        assert await campaign_outcomes.withdraw(tx, campaign_id) == 5  # queued, not yet claimed
    assert (await pump.run_once()).queued == 0
    assert await _sent_all(store) == 0
    async with store.read() as tx:
        counts = await tx.campaigns.counts(campaign_id)
        assert await tx.outbox.bulk_backlog() == 0
    assert counts == {("send", "sent", None): 5, ("send", "cancelled", None): 7}


async def test_consent_and_blocks_are_checked_when_the_message_goes(store: Store, clock: FakeClock) -> None:
    clock.now = NOON
    ids = await _book(store, 4)
    async with store.write("t") as tx:
        await tx.consents.record(ids[3], "stopped", source="command")
        await tx.consents.record(ids[3], "subscribed", source="command")  # changed their mind
    campaign_id = await _campaign(store, at=NOON)
    pump = _pump(store, backlog=1)
    assert (await pump.run_once()).queued == 1
    async with store.write("t") as tx:  # after the start, before their turn
        await tx.consents.record(ids[1], "stopped", source="button", campaign_id=campaign_id)
        await tx.consents.mark_blocked("telegram", "5002")
    await _sent_all(store)
    report = await _pump(store, backlog=10).run_once()
    assert (report.queued, report.skipped, report.finished) == (1, 2, 0)
    await _sent_all(store)
    assert (await pump.run_once()).finished == 1
    async with store.read() as tx:
        counts = await tx.campaigns.counts(campaign_id)
    assert counts == {
        ("send", "sent", None): 2,
        ("send", "skipped", "stopped"): 1,
        ("send", "skipped", "blocked the bot"): 1,
    }


async def test_quiet_hours_defer_to_each_morning_never_drop(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 23:00 Berlin, 07:00 Tokyo, 17:00 NY
    berlin = await _book(store, 2, zone="Europe/Berlin", start_chat=100)
    tokyo = await _book(store, 1, zone="Asia/Tokyo", start_chat=200)
    york = await _book(store, 1, zone="America/New_York", start_chat=300)
    campaign_id = await _campaign(store, at=clock.now)
    report = await _pump(store).run_once()
    assert (report.queued, report.deferred) == (1, 3)
    async with store.read() as tx:
        held = {i: (await tx.campaigns.recipient(campaign_id, i)) for i in [*berlin, *tokyo, *york]}
    assert held[york[0]].state == "queued"  # type: ignore[union-attr]
    assert held[tokyo[0]].not_before == datetime(2026, 11, 24, 0, 0, tzinfo=UTC) + spread(tokyo[0])  # type: ignore[union-attr]
    assert held[berlin[0]].not_before == datetime(2026, 11, 24, 8, 0, tzinfo=UTC) + spread(berlin[0])  # type: ignore[union-attr]
    await _sent_all(store)
    clock.now = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # Tokyo's morning, Berlin's night
    assert (await _pump(store).run_once()).queued == 1
    await _sent_all(store)
    clock.now = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)  # Berlin's morning (with its spread)
    report = await _pump(store).run_once()
    assert (report.queued, report.deferred) == (2, 0)
    await _sent_all(store)
    assert (await _pump(store).run_once()).finished == 1
