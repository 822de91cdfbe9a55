"""Fixing a campaign's audience: who its filter selects, who cannot be reached and why, the held-out
control group; `campaign preview` reads the plan, ``start_campaign`` writes it as sending begins."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from crm_store.campaigns import CampaignRecord, NewRecipient
from crm_store.store import Store
from handlers.audience_filter import audience_query, parse_audience
from handlers.context import zone
from handlers.errors import UserError

log = logging.getLogger(__name__)
EVERYONE = "all"  # the audience word for the whole book
CONTROL_REASON = "control group"


@dataclass(frozen=True, slots=True)
class Plan:
    """The audience as it stands now, split three ways (ids in id order)."""

    send: list[int]  # reachable and in the send arm
    control: list[int]  # reachable, held out
    unreachable: dict[int, str] = field(default_factory=dict)  # id -> reason

    @property
    def size(self) -> int:
        return len(self.send) + len(self.control) + len(self.unreachable)


def control_rank(campaign_id: int, customer_id: int) -> bytes:
    """A customer's place in the draw for the control group: a hash seeded by the campaign, so
    the same audience always splits the same way, and each campaign splits it differently."""
    return hashlib.sha256(f"crm-campaign-control:{campaign_id}:{customer_id}".encode()).digest()


def split_control(campaign_id: int, reachable: list[int], pct: int) -> tuple[list[int], list[int]]:
    """(send, control): exactly round(pct% of the reachable) held out, the lowest ranks."""
    size = round(len(reachable) * pct / 100)
    drawn = sorted(reachable, key=lambda cid: control_rank(campaign_id, cid))[:size]
    held = set(drawn)
    return [c for c in reachable if c not in held], sorted(held)


async def audience_ids(store: Store, campaign: CampaignRecord, now: datetime) -> list[int]:
    """The customers the campaign's filter selects now; UserError when a word no longer reads
    (a segment gone, an owner who left). ``owner:me`` is the campaign's author."""
    words = parse_audience(campaign.audience)
    if campaign.audience.strip().lower() != EVERYONE and (words.rest or not words.terms):
        raise UserError(
            f"Campaign #{campaign.id} has no audience yet: `campaign audience {campaign.id} <filters>`."
        )
    tz = zone("UTC")
    async with store.read() as tx:
        author = await tx.people.rep(campaign.created_by_rep_id) if campaign.created_by_rep_id else None
    if author is not None and author.timezone:
        tz = zone(author.timezone)
    query = await audience_query(store, words, now=now, tz=tz, me=campaign.created_by_rep_id)
    async with store.read() as tx:
        return await tx.audience.ids(query)


async def plan(store: Store, campaign: CampaignRecord, now: datetime) -> Plan:
    ids = await audience_ids(store, campaign, now)
    async with store.read() as tx:
        unreachable = await tx.consents.unreachable(ids)
    reachable = [c for c in ids if c not in unreachable]
    send, control = split_control(campaign.id, reachable, campaign.control_pct)
    return Plan(send=send, control=control, unreachable=unreachable)


@dataclass(frozen=True, slots=True)
class Started:
    campaign_id: int
    started: bool  # False: it was not a draft or scheduled any more (started elsewhere, cancelled)
    plan: Plan | None = None
    error: str = ""  # why a scheduled campaign could not start (it is cancelled)


async def start_campaign(
    store: Store, campaign_id: int, now: datetime, *, actor: str = "scheduler"
) -> Started:
    """Fix the audience and start sending: every customer the filter selects becomes a
    recipient (pending, skipped with its reason, or held out in the control arm) and the
    campaign turns ``sending``; the sending pump takes it from there. The one path for
    `campaign send` (now) and the scheduler (at its time). Safe to call twice: a campaign
    already started is left as it is. A draft whose audience no longer reads is refused
    (UserError, nothing changed); a scheduled one is cancelled, saying why, so the scheduler
    does not retry it for ever."""
    async with store.read() as tx:
        campaign = await tx.campaigns.get(campaign_id)
    if campaign is None or campaign.state not in ("draft", "scheduled"):
        return Started(campaign_id, False)
    try:
        planned = await plan(store, campaign, now)
    except UserError as exc:
        if campaign.state != "scheduled":
            raise
        async with store.write(actor) as tx:
            await tx.campaigns.cancel(campaign_id)
            await tx.audit.record("start failed", "campaign", campaign_id, reason=exc.message)
        log.warning("campaign %s could not start and is cancelled: %s", campaign_id, exc.message)
        return Started(campaign_id, False, error=exc.message)
    rows = [NewRecipient(c) for c in planned.send]
    rows += [NewRecipient(c, arm="control", state="skipped", reason=CONTROL_REASON) for c in planned.control]
    rows += [NewRecipient(c, state="skipped", reason=why) for c, why in planned.unreachable.items()]
    async with store.write(actor) as tx:
        if not await tx.campaigns.mark_sending(campaign_id):
            return Started(campaign_id, False)  # started or cancelled meanwhile
        await tx.campaigns.add_recipients(campaign_id, rows)
        await tx.audit.record(
            "audience",
            "campaign",
            campaign_id,
            send=len(planned.send),
            control=len(planned.control),
            unreachable=len(planned.unreachable),
        )
    return Started(campaign_id, True, planned)
