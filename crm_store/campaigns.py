"""Campaigns and their recipients: drafts, the audience fixed at start, each recipient's state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, union_all, update
from sqlalchemy.engine import RowMapping

from crm_store.repo import Repo
from crm_store.tables import (
    campaign_recipients,
    campaigns,
    customer_consents,
    interactions,
    orders,
    ticket_messages,
    tickets,
)

STATES = ("draft", "scheduled", "sending", "sent", "cancelled")
# What a campaign's fields may still be changed in: the audience is fixed once sending starts.
EDITABLE = ("draft", "scheduled")
RECIPIENT_STATES = ("pending", "queued", "sent", "failed", "skipped", "cancelled")
# The fields ``edit`` may set (the rest follow the campaign's life: state, times).
FIELDS = ("name", "audience", "body", "button_kind", "button_text", "button_url", "control_pct")


@dataclass(frozen=True, slots=True)
class CampaignRecord:
    id: int
    name: str
    audience: str
    body: str
    button_kind: str | None
    button_text: str | None
    button_url: str | None
    control_pct: int
    state: str
    created_by_rep_id: int | None
    send_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancelled_at: datetime | None


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    campaign_id: int
    customer_id: int
    arm: str
    state: str
    reason: str | None
    not_before: datetime | None
    outbox_key: str | None
    queued_at: datetime | None
    sent_at: datetime | None
    message_id: str | None


@dataclass(frozen=True, slots=True)
class NewRecipient:
    """One customer of the audience as sending starts: its arm, and pending or skipped (why)."""

    customer_id: int
    arm: str = "send"
    state: str = "pending"
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Outcomes:
    """What followed a campaign among its recipients, as plain rows for the report to count."""

    reached: int  # send-arm recipients the campaign meant to message (not skipped)
    control: int  # held out
    opted_out: int  # stopped with this campaign, or recipients who stopped within the window
    replies: list[tuple[datetime, str | None]]  # (when, sentiment label) of recipients' words
    tickets_opened: int
    orders: list[tuple[str, int, datetime, int]]  # (arm, customer id, ordered_at, amount_cents)
    sent_at: list[datetime]  # when each message went out


def _campaign(row: RowMapping) -> CampaignRecord:
    return CampaignRecord(
        id=row["id"],
        name=row["name"],
        audience=row["audience"],
        body=row["body"],
        button_kind=row["button_kind"],
        button_text=row["button_text"],
        button_url=row["button_url"],
        control_pct=row["control_pct"],
        state=row["state"],
        created_by_rep_id=row["created_by_rep_id"],
        send_at=row["send_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        cancelled_at=row["cancelled_at"],
    )


def _recipient(row: RowMapping) -> RecipientRecord:
    return RecipientRecord(
        campaign_id=row["campaign_id"],
        customer_id=row["customer_id"],
        arm=row["arm"],
        state=row["state"],
        reason=row["reason"],
        not_before=row["not_before"],
        outbox_key=row["outbox_key"],
        queued_at=row["queued_at"],
        sent_at=row["sent_at"],
        message_id=row["message_id"],
    )


class CampaignRepo(Repo):
    async def create(self, name: str, *, created_by_rep_id: int | None) -> CampaignRecord:
        new_id = (
            await self.conn.execute(
                insert(campaigns)
                .values(name=name, created_by_rep_id=created_by_rep_id, created_at=self.now)
                .returning(campaigns.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "campaign", new_id, name=name)
        found = await self.get(int(new_id))
        assert found is not None
        return found

    async def get(self, campaign_id: int) -> CampaignRecord | None:
        row = (
            (await self.conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)))
            .mappings()
            .first()
        )
        return None if row is None else _campaign(row)

    async def listing(self, *, limit: int = 50) -> list[CampaignRecord]:
        """The newest campaigns first."""
        rows = await self.conn.execute(select(campaigns).order_by(campaigns.c.id.desc()).limit(limit))
        return [_campaign(r) for r in rows.mappings().all()]

    async def edit(self, campaign_id: int, **values: Any) -> bool:
        """Set some of FIELDS while the campaign is a draft or scheduled; False otherwise."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise ValueError(f"not a campaign field: {', '.join(sorted(unknown))}")
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state.in_(EDITABLE))
            .values(**values)
        )
        if not result.rowcount:
            return False
        await self.audit.record("update", "campaign", campaign_id, **values)
        return True

    async def schedule(self, campaign_id: int, send_at: datetime) -> bool:
        """A draft (or an already scheduled one, moved) starts sending at ``send_at``."""
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state.in_(EDITABLE))
            .values(state="scheduled", send_at=send_at)
        )
        if not result.rowcount:
            return False
        await self.audit.record("schedule", "campaign", campaign_id, send_at=send_at.isoformat())
        return True

    async def due_to_start(self, now: datetime) -> list[int]:
        """Scheduled campaigns whose time has come, oldest first."""
        rows = await self.conn.execute(
            select(campaigns.c.id)
            .where(campaigns.c.state == "scheduled", campaigns.c.send_at <= now)
            .order_by(campaigns.c.send_at, campaigns.c.id)
        )
        return [int(r[0]) for r in rows]

    async def mark_sending(self, campaign_id: int) -> bool:
        """Draft or scheduled -> sending (False if it was in another state: started already)."""
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state.in_(EDITABLE))
            .values(state="sending", started_at=self.now)
        )
        if not result.rowcount:
            return False
        await self.audit.record("start", "campaign", campaign_id)
        return True

    async def finish(self, campaign_id: int) -> bool:
        """Sending -> sent: every send-arm recipient has left the pending and queued states."""
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state == "sending")
            .values(state="sent", finished_at=self.now)
        )
        if not result.rowcount:
            return False
        await self.audit.record("finish", "campaign", campaign_id)
        return True

    async def cancel(self, campaign_id: int) -> int | None:
        """Stop a draft, scheduled or sending campaign: every pending recipient is cancelled
        (queued ones are already in the outbox). The number cancelled; None if the campaign
        was not in a state to cancel."""
        result = await self.conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state.in_(("draft", "scheduled", "sending")))
            .values(state="cancelled", cancelled_at=self.now)
        )
        if not result.rowcount:
            return None
        stopped = await self.conn.execute(
            update(campaign_recipients)
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.state == "pending",
            )
            .values(state="cancelled")
        )
        await self.audit.record("cancel", "campaign", campaign_id, recipients=stopped.rowcount)
        return int(stopped.rowcount)

    async def add_recipients(self, campaign_id: int, rows: Iterable[NewRecipient]) -> int:
        """Insert the audience (idempotent: a customer already there is left as it is); the
        number inserted."""
        values = [
            {
                "campaign_id": campaign_id,
                "customer_id": r.customer_id,
                "arm": r.arm,
                "state": r.state,
                "reason": r.reason,
            }
            for r in rows
        ]
        added = 0
        for start in range(0, len(values), 500):  # SQLite's bound-parameter limit
            chunk = values[start : start + 500]
            result = await self.conn.execute(
                self.dialect_insert(campaign_recipients).values(chunk).on_conflict_do_nothing()
            )
            added += max(int(result.rowcount), 0)
        return added

    async def next_pending(self, campaign_id: int, now: datetime, limit: int) -> list[RecipientRecord]:
        """Send-arm recipients still pending whose time has come (not deferred past ``now``)."""
        rows = await self.conn.execute(
            select(campaign_recipients)
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.arm == "send",
                campaign_recipients.c.state == "pending",
                or_(campaign_recipients.c.not_before.is_(None), campaign_recipients.c.not_before <= now),
            )
            .order_by(campaign_recipients.c.customer_id)
            .limit(limit)
        )
        return [_recipient(r) for r in rows.mappings().all()]

    async def set_recipient(
        self,
        campaign_id: int,
        customer_id: int,
        *,
        state: str,
        reason: str | None = None,
        not_before: datetime | None = None,
        outbox_key: str | None = None,
        message_id: str | None = None,
    ) -> bool:
        """Move one recipient on; the other fields are set only when given (queued and sent
        also stamp their time)."""
        if state not in RECIPIENT_STATES:
            raise ValueError(f"not a recipient state: {state}")
        values: dict[str, Any] = {"state": state, "reason": reason}
        if not_before is not None:
            values["not_before"] = not_before
        if outbox_key is not None:
            values["outbox_key"] = outbox_key
        if message_id is not None:
            values["message_id"] = message_id
        if state == "queued":
            values["queued_at"] = self.now
        if state == "sent":
            values["sent_at"] = self.now
        result = await self.conn.execute(
            update(campaign_recipients)
            .where(
                campaign_recipients.c.campaign_id == campaign_id,
                campaign_recipients.c.customer_id == customer_id,
            )
            .values(**values)
        )
        return bool(result.rowcount)

    async def recipient(self, campaign_id: int, customer_id: int) -> RecipientRecord | None:
        row = (
            (
                await self.conn.execute(
                    select(campaign_recipients).where(
                        campaign_recipients.c.campaign_id == campaign_id,
                        campaign_recipients.c.customer_id == customer_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _recipient(row)

    async def counts(self, campaign_id: int) -> dict[tuple[str, str, str | None], int]:
        """How many recipients in each (arm, state, reason)."""
        c = campaign_recipients.c
        rows = await self.conn.execute(
            select(c.arm, c.state, c.reason, func.count())
            .where(c.campaign_id == campaign_id)
            .group_by(c.arm, c.state, c.reason)
        )
        return {(arm, state, reason): int(n) for arm, state, reason, n in rows}

    async def delivered(self, campaign_id: int) -> int:
        """Sent recipients whose message Telegram acknowledged with an id."""
        c = campaign_recipients.c
        return int(
            (
                await self.conn.execute(
                    select(func.count()).where(
                        c.campaign_id == campaign_id, c.state == "sent", c.message_id.is_not(None)
                    )
                )
            ).scalar_one()
        )

    async def arms(self, campaign_id: int) -> dict[str, list[int]]:
        """The customers of each arm: ``send`` (those the campaign meant to message, reached or
        not) and ``control`` (held out)."""
        c = campaign_recipients.c
        found: dict[str, list[int]] = {"send": [], "control": []}
        rows = await self.conn.execute(
            select(c.arm, c.customer_id).where(c.campaign_id == campaign_id).order_by(c.customer_id)
        )
        for arm, customer_id in rows:
            found.setdefault(arm, []).append(int(customer_id))
        return found

    async def finished_between(self, start: datetime, end: datetime) -> list[CampaignRecord]:
        """Campaigns that finished sending in [start, end), oldest first (for the digest)."""
        rows = await self.conn.execute(
            select(campaigns)
            .where(campaigns.c.finished_at >= start, campaigns.c.finished_at < end)
            .order_by(campaigns.c.finished_at, campaigns.c.id)
        )
        return [_campaign(r) for r in rows.mappings().all()]

    async def sending(self) -> list[int]:
        """The campaigns sending now (the pump's work list)."""
        rows = await self.conn.execute(
            select(campaigns.c.id).where(campaigns.c.state == "sending").order_by(campaigns.c.id)
        )
        return [int(r[0]) for r in rows]

    async def left_to_send(self, campaign_id: int) -> int:
        """Send-arm recipients not yet through the outbox (pending or queued)."""
        c = campaign_recipients.c
        return int(
            (
                await self.conn.execute(
                    select(func.count()).where(
                        c.campaign_id == campaign_id,
                        c.arm == "send",
                        c.state.in_(("pending", "queued")),
                    )
                )
            ).scalar_one()
        )

    async def outcomes(
        self, campaign_id: int, start: datetime, *, reply_days: int, order_days: int
    ) -> Outcomes:
        """Opt-outs, replies and tickets within ``reply_days`` of ``start`` from the send arm;
        orders within ``order_days`` from both arms (the control group's for comparison)."""
        r = campaign_recipients.c
        targeted = select(r.customer_id).where(
            r.campaign_id == campaign_id, r.arm == "send", r.state != "skipped"
        )
        held = select(r.customer_id).where(r.campaign_id == campaign_id, r.arm == "control")
        reply_end, order_end = start + timedelta(days=reply_days), start + timedelta(days=order_days)
        reached = (
            await self.conn.execute(select(func.count()).select_from(targeted.subquery()))
        ).scalar_one()
        control = (await self.conn.execute(select(func.count()).select_from(held.subquery()))).scalar_one()
        k = customer_consents.c
        opted = (
            await self.conn.execute(
                select(func.count(func.distinct(k.customer_id))).where(
                    k.state == "stopped",
                    or_(
                        k.campaign_id == campaign_id,
                        and_(k.customer_id.in_(targeted), k.created_at >= start, k.created_at < reply_end),
                    ),
                )
            )
        ).scalar_one()
        said = union_all(
            select(
                interactions.c.occurred_at.label("at"), interactions.c.sentiment_label.label("label")
            ).where(
                interactions.c.customer_id.in_(targeted),
                interactions.c.direction == "in",
                interactions.c.occurred_at >= start,
                interactions.c.occurred_at < reply_end,
            ),
            select(ticket_messages.c.created_at.label("at"), ticket_messages.c.sentiment_label.label("label"))
            .join(tickets, tickets.c.id == ticket_messages.c.ticket_id)
            .where(
                tickets.c.customer_id.in_(targeted),
                ticket_messages.c.author_kind == "customer",
                ticket_messages.c.created_at >= start,
                ticket_messages.c.created_at < reply_end,
            ),
        ).subquery()
        replies = [(row[0], row[1]) for row in await self.conn.execute(select(said.c.at, said.c.label))]
        opened = (
            await self.conn.execute(
                select(func.count()).where(
                    tickets.c.customer_id.in_(targeted),
                    tickets.c.created_at >= start,
                    tickets.c.created_at < reply_end,
                )
            )
        ).scalar_one()
        bought = await self.conn.execute(
            select(r.arm, r.customer_id, orders.c.ordered_at, orders.c.amount_cents)
            .join(orders, orders.c.customer_id == r.customer_id)
            .where(
                r.campaign_id == campaign_id,
                or_(r.arm == "control", r.state != "skipped"),
                orders.c.ordered_at >= start,
                orders.c.ordered_at < order_end,
            )
        )
        sent = await self.conn.execute(
            select(r.sent_at).where(r.campaign_id == campaign_id, r.state == "sent", r.sent_at.is_not(None))
        )
        return Outcomes(
            reached=int(reached),
            control=int(control),
            opted_out=int(opted),
            replies=replies,
            tickets_opened=int(opened),
            orders=[(str(a), int(who), at, int(c)) for a, who, at, c in bought],
            sent_at=[row[0] for row in sent],
        )
