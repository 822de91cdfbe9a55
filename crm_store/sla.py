"""SLA deadlines on tickets: which tickets are due a warning or have breached, and the claims
that make each warning and each breach happen once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update

from crm_store.repo import Repo
from crm_store.tables import tickets

Stage = Literal["first_response", "resolution"]
_OPEN = ("open", "pending")


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Minutes allowed per priority for the first response and for resolution; a warning goes
    out once ``warn_fraction`` of the time has passed."""

    first_response: Mapping[str, int]
    resolution: Mapping[str, int]
    warn_fraction: float = 0.8

    def deadline(self, stage: Stage, priority: str, created_at: datetime) -> datetime:
        minutes = (self.first_response if stage == "first_response" else self.resolution)[priority]
        return created_at + timedelta(minutes=minutes)


@dataclass(frozen=True, slots=True)
class SlaEvent:
    ticket_id: int
    stage: Stage
    kind: Literal["warning", "breach"]
    deadline: datetime


class SlaRepo(Repo):
    async def scan(self, policy: SlaPolicy, *, limit: int = 500) -> list[SlaEvent]:
        """Open tickets past a warning point or a deadline that were not yet warned or marked."""
        events: list[SlaEvent] = []
        for stage in ("first_response", "resolution"):
            minutes = policy.first_response if stage == "first_response" else policy.resolution
            warned = (
                tickets.c.sla_first_warned_at
                if stage == "first_response"
                else tickets.c.sla_resolve_warned_at
            )
            for priority, allowed in minutes.items():
                base = [tickets.c.status.in_(_OPEN), tickets.c.priority == priority]
                if stage == "first_response":
                    base.append(tickets.c.first_response_at.is_(None))
                breach_before = self.now - timedelta(minutes=allowed)
                warn_before = self.now - timedelta(minutes=allowed * policy.warn_fraction)
                breached = select(tickets.c.id, tickets.c.created_at).where(
                    *base, tickets.c.breached_at.is_(None), tickets.c.created_at <= breach_before
                )
                warning = select(tickets.c.id, tickets.c.created_at).where(
                    *base,
                    warned.is_(None),
                    tickets.c.created_at <= warn_before,
                    tickets.c.created_at > breach_before,
                )
                for kind, query in (("breach", breached), ("warning", warning)):
                    for ticket_id, created_at in (await self.conn.execute(query.limit(limit))).all():
                        deadline = created_at + timedelta(minutes=allowed)
                        events.append(SlaEvent(int(ticket_id), stage, kind, deadline))  # type: ignore[arg-type]
        return events

    async def claim_warning(self, ticket_id: int, stage: Stage) -> bool:
        column = "sla_first_warned_at" if stage == "first_response" else "sla_resolve_warned_at"
        result = await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id, tickets.c[column].is_(None))
            .values({column: self.now})
        )
        return bool(result.rowcount)

    async def claim_breach(self, ticket_id: int, stage: Stage) -> bool:
        """Mark the ticket breached (the first deadline missed is the one recorded)."""
        result = await self.conn.execute(
            update(tickets)
            .where(tickets.c.id == ticket_id, tickets.c.breached_at.is_(None))
            .values(breached_at=self.now, breach_kind=stage)
        )
        if result.rowcount:
            await self.audit.record("breach", "ticket", ticket_id, stage=stage)
        return bool(result.rowcount)
