"""The campaign pump: starts campaigns whose time has come and feeds their recipients to the
outbox as fast as Telegram takes them, checking consent, blocks and quiet hours at that moment."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_store.campaigns import CampaignRecord
from crm_store.outbox import BULK
from crm_store.records import CustomerRecord
from crm_store.store import Store, Tx
from handlers import campaign_outcomes, quiet_hours
from handlers.messages import Reply, reply_to_dict
from handlers.quiet_hours import QuietPolicy

_LOGGER = logging.getLogger(__name__)

ACTOR = "campaign-pump"
PLATFORM = "telegram"
LEASE = "campaign-pump"

# The campaigns module's two steps the pump drives: fix a campaign's audience as it starts, and
# the message (text and buttons) one recipient gets.
Starter = Callable[[Store, int, datetime], Awaitable[object]]
Composer = Callable[[CampaignRecord, CustomerRecord], Reply]


@dataclass(frozen=True, slots=True)
class PumpSettings:
    # Bulk rows the outbox may hold unsent: about 3 s of Telegram's 30/s, so a cancel stops all
    # but a few seconds' worth and a support reply is never queued behind thousands.
    backlog: int = 90
    batch: int = 30  # recipients per transaction
    quiet: QuietPolicy = field(default_factory=QuietPolicy)
    # One replica feeds at a time (the outbox key would stop a double send anyway; this stops
    # two replicas from each filling the backlog).
    # Renewed every pass (about each second): a replica that died hands over within this.
    lease: timedelta = timedelta(seconds=10)


@dataclass(slots=True)
class PumpReport:
    started: int = 0
    queued: int = 0
    skipped: int = 0
    deferred: int = 0
    finished: int = 0


@dataclass(slots=True)
class CampaignPump:
    """One pass at a time (``run_once``): the scheduler runs it every second or so; the CLI
    could run the same pass."""

    store: Store
    start: Starter
    compose: Composer
    settings: PumpSettings = field(default_factory=PumpSettings)
    holder: str = ACTOR

    async def run_once(self) -> PumpReport:
        report = PumpReport()
        async with self.store.write(ACTOR) as tx:
            if not await tx.leases.acquire(LEASE, holder=self.holder, ttl=self.settings.lease):
                return report
            due = await tx.campaigns.due_to_start(tx.now)
        for campaign_id in due:
            try:
                await self.start(self.store, campaign_id, self.store.clock())
            except Exception as exc:  # one campaign that cannot start must not hold up the others
                _LOGGER.error("campaign %s did not start: %s", campaign_id, type(exc).__name__)
                continue
            report.started += 1
        async with self.store.read() as tx:
            sending = await tx.campaigns.sending()
        for campaign_id in sending:
            while True:
                done = await self._feed(campaign_id, report)
                if done < self.settings.batch:
                    break
            await self._finish_if_done(campaign_id, report)
        return report

    async def release(self) -> None:
        async with self.store.write(ACTOR) as tx:
            await tx.leases.release(LEASE, holder=self.holder)

    async def _feed(self, campaign_id: int, report: PumpReport) -> int:
        """One transaction: up to a batch of due recipients, each queued, skipped or deferred,
        its state changed with its outbox row. Returns how many recipients it handled (0: none
        due, or the outbox holds its backlog already)."""
        async with self.store.write(ACTOR) as tx:
            room = min(self.settings.batch, self.settings.backlog - await tx.outbox.bulk_backlog())
            if room <= 0:
                return 0
            campaign = await tx.campaigns.get(campaign_id)
            if campaign is None or campaign.state != "sending":
                return 0  # cancelled since the pass began
            due = await tx.campaigns.next_pending(campaign_id, tx.now, room)
            if not due:
                return 0
            ids = [r.customer_id for r in due]
            why = await tx.consents.unreachable(ids, PLATFORM)
            chats = await tx.consents.chats(ids, PLATFORM)
            held = await quiet_hours.not_before(
                tx, [i for i in ids if i not in why], now=tx.now, policy=self.settings.quiet
            )
            people = await tx.customers.get_many(ids)
            for customer_id in ids:
                reason = why.get(customer_id)
                if reason is None and (customer_id not in chats or customer_id not in people):
                    reason = "no Telegram"
                if reason is not None:
                    await tx.campaigns.set_recipient(campaign_id, customer_id, state="skipped", reason=reason)
                    report.skipped += 1
                elif customer_id in held:
                    await tx.campaigns.set_recipient(
                        campaign_id, customer_id, state="pending", not_before=held[customer_id]
                    )
                    report.deferred += 1
                else:
                    await self._queue(tx, campaign, people[customer_id], chats[customer_id])
                    report.queued += 1
        return len(due)

    async def _queue(self, tx: Tx, campaign: CampaignRecord, customer: CustomerRecord, chat: str) -> None:
        key = campaign_outcomes.outbox_key(campaign.id, customer.id)
        await tx.outbox.enqueue(
            platform=PLATFORM,
            target=chat,
            payload=reply_to_dict(self.compose(campaign, customer)),
            key=key,
            priority=BULK,
        )
        # Queued whether the row is new or was queued before a crash: the key holds it once.
        await tx.campaigns.set_recipient(campaign.id, customer.id, state="queued", outbox_key=key)

    async def _finish_if_done(self, campaign_id: int, report: PumpReport) -> None:
        async with self.store.write(ACTOR) as tx:
            if await tx.campaigns.left_to_send(campaign_id) == 0 and await tx.campaigns.finish(campaign_id):
                report.finished += 1
                _LOGGER.info("campaign %s sent", campaign_id)
