"""Webhook endpoints and deliveries, and the emitter that turns audited changes into events.

Events come from one place, the audit log: every write is audited with (action, entity, id), and
AuditRepo.record notes the records that are events; Store.write queues them (emit_pending) at the
end of the same transaction, so a change rolled back emits nothing. The sending goes through
the outbox (platform "webhook", payload {"delivery_id": id}) so the one dispatcher's claims,
leases, restarts and replicas apply; webhook_deliveries keeps what an operator lists and
redelivers."""

from __future__ import annotations

import time
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from crm_store.outbox import OutboxRepo
from crm_store.repo import Repo
from crm_store.tables import outbox, webhook_deliveries, webhook_endpoints
from crm_store.webhook_shapes import customer_of, envelope, event_data

if TYPE_CHECKING:
    from crm_store.audit import AuditRepo

PLATFORM = "webhook"
DELIVERY_STATES = ("pending", "sending", "delivered", "failed", "given_up")
MAX_ERROR = 200
# Another process (the CLI) adding or removing an endpoint is seen within this long; this
# process's own changes at once.
SUBSCRIBERS_TTL = 5.0


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: int
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: str
    endpoint_id: int
    event_type: str
    payload: dict[str, Any]
    attempts: int
    state: str
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    window_from: datetime
    delivered_at: datetime | None


def _endpoint(r: RowMapping) -> EndpointRecord:
    return EndpointRecord(
        id=r["id"],
        url=r["url"],
        events=tuple(r["events"] or ()),
        secret=r["secret"],
        created_at=r["created_at"],
        disabled_at=r["disabled_at"],
        disabled_reason=r["disabled_reason"],
    )


def _delivery(r: RowMapping) -> DeliveryRecord:
    return DeliveryRecord(
        id=r["id"],
        event_id=r["event_id"],
        endpoint_id=r["endpoint_id"],
        event_type=r["event_type"],
        payload=dict(r["payload"] or {}),
        attempts=r["attempts"],
        state=r["state"],
        next_attempt_at=r["next_attempt_at"],
        last_status=r["last_status"],
        last_error=r["last_error"],
        created_at=r["created_at"],
        window_from=r["window_from"],
        delivered_at=r["delivered_at"],
    )


# Per engine: (read at, {event type: [endpoint ids]}). Most writes subscribe nobody, and the
# check must cost them nothing but a dict lookup.
_SUBSCRIBERS: weakref.WeakKeyDictionary[Engine, tuple[float, dict[str, list[int]]]] = (
    weakref.WeakKeyDictionary()
)


def subscribers_changed(conn: AsyncConnection) -> None:
    _SUBSCRIBERS.pop(conn.sync_engine, None)


async def subscribers(conn: AsyncConnection, event_type: str) -> list[int]:
    """The enabled endpoints subscribed to ``event_type`` (cached for SUBSCRIBERS_TTL)."""
    engine = conn.sync_engine
    cached = _SUBSCRIBERS.get(engine)
    if cached is None or time.monotonic() - cached[0] > SUBSCRIBERS_TTL:
        query = select(webhook_endpoints.c.id, webhook_endpoints.c.events).where(
            webhook_endpoints.c.disabled_at.is_(None)
        )
        by_type: dict[str, list[int]] = {}
        for endpoint_id, events in (await conn.execute(query)).all():
            for name in events or ():
                by_type.setdefault(str(name), []).append(int(endpoint_id))
        cached = (time.monotonic(), by_type)
        _SUBSCRIBERS[engine] = cached
    return cached[1].get(event_type, [])


async def emit_pending(audit: AuditRepo) -> int:
    """Queue the events of the transaction's audited changes (AuditRepo.events), each for the
    endpoints subscribed to it, at the transaction's end; the number of deliveries queued."""
    if not audit.events:
        return 0
    pending, audit.events = audit.events, []
    queued = 0
    for event_type, entity_id, detail in pending:
        endpoint_ids = await subscribers(audit.conn, event_type)
        if not endpoint_ids:
            continue
        data = await event_data(audit.conn, event_type, entity_id, detail)
        if data is not None:
            queued += await enqueue_event(
                audit.conn, audit, event_type=event_type, data=data, endpoint_ids=endpoint_ids
            )
    return queued


async def enqueue_event(
    conn: AsyncConnection,
    audit: AuditRepo,
    *,
    event_type: str,
    data: dict[str, Any],
    endpoint_ids: Sequence[int],
) -> int:
    """One event (one id) queued for each of ``endpoint_ids``: a delivery row and its outbox row."""
    now = audit.now
    event_id = str(uuid.uuid4())
    body = envelope(event_id=event_id, event_type=event_type, created_at=now, data=data)
    boxes = OutboxRepo(conn, audit, now=now)
    for endpoint_id in endpoint_ids:
        delivery_id = (
            await conn.execute(
                insert(webhook_deliveries)
                .values(
                    event_id=event_id,
                    endpoint_id=endpoint_id,
                    event_type=event_type,
                    payload=body,
                    customer_id=customer_of(data),
                    attempts=0,
                    state="pending",
                    next_attempt_at=now,
                    created_at=now,
                    window_from=now,
                )
                .returning(webhook_deliveries.c.id)
            )
        ).scalar_one()
        await boxes.enqueue(
            platform=PLATFORM,
            target=str(delivery_id),  # one per delivery: a failing event never holds up the next
            payload={"delivery_id": int(delivery_id)},
            key=f"webhook:{delivery_id}",
        )
    return len(endpoint_ids)


async def erase_customer_deliveries(conn: AsyncConnection, customer_ids: Sequence[int]) -> int:
    """Delete the deliveries about these customers (their payloads quote them), sent or not,
    with their outbox rows; the number of deliveries deleted."""
    query = select(webhook_deliveries.c.id).where(webhook_deliveries.c.customer_id.in_(list(customer_ids)))
    found = [int(i) for i in (await conn.execute(query)).scalars().all()]
    if not found:
        return 0
    await conn.execute(
        delete(outbox).where(outbox.c.platform == PLATFORM, outbox.c.target.in_([str(i) for i in found]))
    )
    await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(found)))
    return len(found)


class WebhookRepo(Repo):
    async def add_endpoint(self, url: str, events: Sequence[str], secret: str) -> EndpointRecord:
        new_id = (
            await self.conn.execute(
                insert(webhook_endpoints)
                .values(url=url, events=list(events), secret=secret, created_at=self.now)
                .returning(webhook_endpoints.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "webhook", new_id, events=list(events))
        subscribers_changed(self.conn)
        found = await self.endpoint(int(new_id))
        assert found is not None
        return found

    async def endpoint(self, endpoint_id: int) -> EndpointRecord | None:
        query = select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _endpoint(row)

    async def endpoints(self, *, include_disabled: bool = False) -> list[EndpointRecord]:
        query = select(webhook_endpoints).order_by(webhook_endpoints.c.id)
        if not include_disabled:
            query = query.where(webhook_endpoints.c.disabled_at.is_(None))
        return [_endpoint(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def disable(self, endpoint_id: int, *, reason: str) -> bool:
        """No more events for this endpoint; its deliveries stay listed. False: none enabled."""
        result = await self.conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None))
            .values(disabled_at=self.now, disabled_reason=reason[:100])
        )
        if not result.rowcount:
            return False
        await self.audit.record("disable", "webhook", endpoint_id, reason=reason[:100])
        subscribers_changed(self.conn)
        return True

    async def ping(self, endpoint: EndpointRecord) -> DeliveryRecord:
        """Queue a ``ping`` event to one endpoint (whatever it subscribes to)."""
        data = {"object": "ping", "endpoint_id": endpoint.id}
        await enqueue_event(self.conn, self.audit, event_type="ping", data=data, endpoint_ids=[endpoint.id])
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.endpoint_id == endpoint.id)
            .order_by(webhook_deliveries.c.id.desc())
            .limit(1)
        )
        return _delivery((await self.conn.execute(query)).mappings().one())

    async def delivery(self, delivery_id: int) -> DeliveryRecord | None:
        query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        row = (await self.conn.execute(query)).mappings().first()
        return None if row is None else _delivery(row)

    async def deliveries(
        self, *, states: Sequence[str] = DELIVERY_STATES, limit: int = 50
    ) -> list[DeliveryRecord]:
        """The latest deliveries in ``states``, newest first."""
        query = (
            select(webhook_deliveries)
            .where(webhook_deliveries.c.state.in_(list(states)))
            .order_by(webhook_deliveries.c.id.desc())
            .limit(limit)
        )
        return [_delivery(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def counts(self) -> dict[str, int]:
        query = select(webhook_deliveries.c.state, func.count()).group_by(webhook_deliveries.c.state)
        found = {str(state): int(n) for state, n in (await self.conn.execute(query)).all()}
        return {state: found.get(state, 0) for state in DELIVERY_STATES}

    async def start_attempt(self, delivery_id: int) -> DeliveryRecord | None:
        """The delivery is being sent (its outbox row is claimed): one more attempt."""
        await self.conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(state="sending", attempts=webhook_deliveries.c.attempts + 1)
        )
        return await self.delivery(delivery_id)

    async def finish_attempt(
        self,
        delivery_id: int,
        *,
        state: str,
        status: int | None,
        error: str | None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "state": state,
            "last_status": status,
            "last_error": None if error is None else error[:MAX_ERROR],
            "next_attempt_at": next_attempt_at,
        }
        if state == "delivered":
            values["delivered_at"] = self.now
        await self.conn.execute(
            update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
        )

    async def redeliver(self, delivery_id: int) -> bool:
        """Send a delivery again, the same event and id, with a fresh 24 h of retries (a new
        outbox row). False when it is still queued or being sent."""
        found = await self.delivery(delivery_id)
        if found is None or found.state in ("pending", "sending"):
            return False
        await self.conn.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id == delivery_id)
            .values(state="pending", next_attempt_at=self.now, window_from=self.now, last_error=None)
        )
        # A key of its own: the earlier rows for this delivery are sent or parked, and stay so.
        redeliveries = (
            await self.conn.execute(
                select(func.count())
                .select_from(outbox)
                .where(outbox.c.target == str(delivery_id), outbox.c.platform == PLATFORM)
            )
        ).scalar_one()
        await OutboxRepo(self.conn, self.audit, now=self.now).enqueue(
            platform=PLATFORM,
            target=str(delivery_id),
            payload={"delivery_id": delivery_id},
            key=f"webhook:{delivery_id}:again:{redeliveries}",
        )
        await self.audit.record("redeliver", "webhook_delivery", delivery_id)
        return True
