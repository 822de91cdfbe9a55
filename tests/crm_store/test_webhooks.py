"""Webhook events from the audit log: queued in the transaction of the change (a rollback emits
nothing), only for subscribed endpoints, in the stable envelope; endpoints and redelivery."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from crm_store.loyalty import LoyaltyScore
from crm_store.store import Store
from crm_store.tables import campaigns, outbox
from crm_store.webhook_shapes import SCHEMA_VERSION
from tests.conftest import T0, FakeClock


async def _endpoint(store: Store, *events: str) -> int:
    async with store.write("test") as tx:
        return (await tx.webhooks.add_endpoint("http://127.0.0.1:9/hooks", events, "whsec_x")).id


async def _webhook_rows(store: Store) -> list[dict[str, object]]:
    async with store.read() as tx:
        query = select(outbox).where(outbox.c.platform == "webhook").order_by(outbox.c.id)
        return [dict(r) for r in (await tx.conn.execute(query)).mappings().all()]


async def test_no_endpoint_means_no_event(store: Store) -> None:
    async with store.write("test") as tx:
        await tx.customers.add(name="Acme")
        assert await tx.webhooks.deliveries() == []
    assert await _webhook_rows(store) == []


async def test_a_subscribed_change_queues_one_delivery_per_endpoint(store: Store) -> None:
    first = await _endpoint(store, "customer.created", "customer.updated")
    second = await _endpoint(store, "customer.created")
    await _endpoint(store, "ticket.resolved")  # not interested
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme", email="ops@acme.example", tags=["vip"])
    async with store.read() as tx:
        found = await tx.webhooks.deliveries()
    assert sorted(d.endpoint_id for d in found) == [first, second]
    assert {d.event_id for d in found} == {found[0].event_id}  # one event, one id
    body = found[0].payload
    assert body["id"] == found[0].event_id and body["type"] == "customer.created"
    assert body["schema_version"] == SCHEMA_VERSION and body["created_at"] == T0.isoformat()
    data = body["data"]
    assert data["object"] == "customer" and data["id"] == acme.id
    assert (data["name"], data["email"], data["tags"]) == ("Acme", "ops@acme.example", ["vip"])
    rows = await _webhook_rows(store)
    assert [r["payload"] for r in rows] == [{"delivery_id": d.id} for d in sorted(found, key=lambda d: d.id)]
    assert all(r["state"] == "pending" for r in rows)

    async with store.write("test") as tx:
        await tx.customers.update(acme.id, fields={"phone": "+1 555 0100"})
    async with store.read() as tx:
        updated = [d for d in await tx.webhooks.deliveries() if d.event_type == "customer.updated"]
    assert [d.endpoint_id for d in updated] == [first]
    assert updated[0].payload["data"]["changed_fields"] == ["phone"]


async def test_a_rolled_back_change_emits_nothing(store: Store) -> None:
    await _endpoint(store, "customer.created")
    with pytest.raises(RuntimeError):
        async with store.write("test") as tx:
            await tx.customers.add(name="Ghost")
            raise RuntimeError("the change fails after the audit record")
    async with store.read() as tx:
        assert await tx.webhooks.deliveries() == []
        assert await tx.customers.count() == 0
    assert await _webhook_rows(store) == []


async def test_ticket_order_loyalty_and_campaign_events(store: Store) -> None:
    await _endpoint(
        store, "ticket.created", "ticket.resolved", "order.created", "loyalty.alert", "campaign.finished"
    )
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")  # customer.created: not subscribed
        ticket_id = (await tx.tickets.open(customer_id=acme.id, subject="Broken", source="telegram")).id
    async with store.write("test") as tx:  # an event carries its object as its transaction commits it
        await tx.tickets.resolve(ticket_id)
        order_id = await tx.orders.add(
            customer_id=acme.id, rep_id=None, amount_cents=12_50, external_ref="S-1"
        )
        score = LoyaltyScore(
            customer_id=acme.id,
            customer_name="Acme",
            owner_rep_id=None,
            run_date="2026-11-23",
            score=21.04,
            churn_risk=0.8123,
            recency_days=90,
            order_count=1,
            revenue_cents=1250,
            sentiment=None,
            negatives=0,
            csat=None,
            open_tickets=0,
            breached_tickets=0,
            previous_score=44.0,
        )
        assert await tx.loyalty.record_alert(score)
        assert not await tx.loyalty.record_alert(score)  # once per customer and run date
        campaign_id = (
            await tx.conn.execute(
                insert(campaigns)
                .values(name="Spring", state="sent", created_at=tx.now, finished_at=tx.now)
                .returning(campaigns.c.id)
            )
        ).scalar_one()
        # What the campaigns repository's finish records (see crm_store.webhook_shapes).
        await tx.audit.record("finish", "campaign", campaign_id)
    async with store.read() as tx:
        found = sorted(await tx.webhooks.deliveries(), key=lambda d: d.id)
    assert [d.event_type for d in found] == [
        "ticket.created",
        "ticket.resolved",
        "order.created",
        "loyalty.alert",
        "campaign.finished",
    ]
    created, resolved, order, alert, finished = (d.payload["data"] for d in found)
    assert created["id"] == ticket_id and created["status"] == "open" and created["subject"] == "Broken"
    assert resolved["status"] == "resolved" and resolved["resolved_at"] == T0.isoformat()
    assert order["id"] == order_id and order["amount_cents"] == 1250 and order["external_ref"] == "S-1"
    assert alert["customer"]["id"] == acme.id and alert["churn_risk"] == 0.812
    assert (alert["score"], alert["previous_score"], alert["run_date"]) == (21.0, 44.0, "2026-11-23")
    assert finished == {**finished, "object": "campaign", "id": campaign_id, "state": "sent"}


async def test_a_disabled_endpoint_gets_no_more_events(store: Store) -> None:
    endpoint_id = await _endpoint(store, "customer.created")
    async with store.write("test") as tx:
        assert await tx.webhooks.disable(endpoint_id, reason="removed")
        assert not await tx.webhooks.disable(endpoint_id, reason="removed")  # once
    async with store.write("test") as tx:
        await tx.customers.add(name="Acme")
    async with store.read() as tx:
        assert await tx.webhooks.deliveries() == []
        (endpoint,) = await tx.webhooks.endpoints(include_disabled=True)
        assert endpoint.disabled_reason == "removed" and await tx.webhooks.endpoints() == []


async def test_redeliver_queues_a_new_outbox_row_once_the_delivery_is_settled(
    store: Store, clock: FakeClock
) -> None:
    await _endpoint(store, "customer.created")
    async with store.write("test") as tx:
        await tx.customers.add(name="Acme")
    async with store.read() as tx:
        (delivery,) = await tx.webhooks.deliveries()
    async with store.write("test") as tx:
        assert not await tx.webhooks.redeliver(delivery.id)  # still pending: it goes out anyway
        await tx.webhooks.finish_attempt(delivery.id, state="given_up", status=500, error="HTTP 500")
    clock.advance(hours=30)
    async with store.write("test") as tx:
        assert await tx.webhooks.redeliver(delivery.id)
        again = await tx.webhooks.delivery(delivery.id)
    assert again is not None and again.state == "pending" and again.window_from == clock.now
    assert again.event_id == delivery.event_id
    rows = await _webhook_rows(store)
    assert [r["idempotency_key"] for r in rows] == [
        f"webhook:{delivery.id}",
        f"webhook:{delivery.id}:again:1",
    ]


async def test_erasing_a_customer_deletes_the_events_about_them(store: Store) -> None:
    await _endpoint(store, "customer.created", "ticket.created")
    async with store.write("test") as tx:
        carla = await tx.customers.add(name="Carla Diaz", email="carla@example.org")
        oscar = await tx.customers.add(name="Oscar Other")
        await tx.tickets.open(customer_id=carla.id, subject="Carla's printer", source="telegram")
    async with store.write("test") as tx:
        counts = await tx.privacy.erase_customer(carla.id)
    assert counts["webhook_deliveries"] == 2
    async with store.read() as tx:
        left = await tx.webhooks.deliveries()
    assert [(d.event_type, d.payload["data"]["id"]) for d in left] == [("customer.created", oscar.id)]
    assert [r["payload"] for r in await _webhook_rows(store)] == [{"delivery_id": left[0].id}]


async def test_an_order_event_carries_the_lines_added_after_its_audit_record(store: Store) -> None:
    await _endpoint(store, "order.created")
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")
        product_id = await tx.catalog.add_product(sku="MUG-1", name="Blue mug", price_cents=1250)
        order_id = await tx.orders.add_with_lines(
            customer_id=acme.id, lines=[(product_id, 2, 1250)], external_ref="S-2"
        )
    async with store.read() as tx:
        (delivery,) = await tx.webhooks.deliveries()
    data = delivery.payload["data"]
    assert data["id"] == order_id and data["amount_cents"] == 2500
    assert data["lines"] == [
        {"product_id": product_id, "quantity": 2, "unit_price_cents": 1250, "line_cents": 2500}
    ]
