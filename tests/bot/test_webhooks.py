"""Webhook delivery through the outbox to a receiver on 127.0.0.1: signed, retried with backoff,
given up after 24 h, an endpoint disabled by 410, redelivered, sent once by two replicas."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta

from bot.delivery import Dispatcher
from bot.metrics import Metrics
from bot.webhook_signature import verify_signature
from bot.webhooks import WebhookSender, WebhookSettings
from crm_store.store import Store
from handlers import webhooks
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock
from tests.fakes.webhook_receiver import FakeReceiver


def _dispatcher(store: Store, metrics: Metrics | None = None, **settings: float) -> Dispatcher:
    sender = WebhookSender(store, WebhookSettings(**settings), metrics=metrics, random=lambda: 1.0)  # type: ignore[arg-type]
    return Dispatcher.of(store, [sender], metrics=metrics)


async def _subscribe(store: Store, receiver: FakeReceiver, events: str) -> webhooks.Added:
    return await webhooks.add_endpoint(store, url=receiver.url, events=events, actor="test")


async def test_a_ticket_resolved_in_chat_reaches_the_receiver_signed(
    store: Store, router: Router, rep: Actor, customer: Actor, clock: FakeClock
) -> None:
    receiver = await FakeReceiver().start()
    try:
        added = await _subscribe(store, receiver, "ticket.resolved")
        assert added.secret.startswith("whsec_")
        await Chat(router, customer).say("/ticket Broken\nIt does not start")
        assert "Resolved" in (await Chat(router, rep).say("resolve 1 fixed the fuse")).text
        metrics = Metrics()
        report = await _dispatcher(store, metrics).run_once()
        assert report.sent == 1
        (got,) = receiver.received
        assert verify_signature(
            added.secret, got.headers["X-CRM-Signature"], got.body, now=clock.now.timestamp()
        )
        assert not verify_signature(
            "whsec_wrong", got.headers["X-CRM-Signature"], got.body, now=clock.now.timestamp()
        )
        body = got.json
        assert got.headers["X-CRM-Event"] == "ticket.resolved" == body["type"]
        assert got.headers["X-CRM-Delivery"] == body["id"]
        assert body["data"]["object"] == "ticket" and body["data"]["id"] == 1
        assert body["data"]["status"] == "resolved"
        async with store.read() as tx:
            (delivery,) = await tx.webhooks.deliveries()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 1, 200)
        assert delivery.delivered_at == clock.now
        assert metrics.webhook_deliveries.labels(outcome="delivered")._value.get() == 1
        assert metrics.sends.labels(platform="webhook")._value.get() == 1
        assert await _dispatcher(store).run_once() == type(report)()  # nothing more to send
    finally:
        await receiver.stop()


async def test_a_500_is_retried_after_the_backoff_then_delivered(store: Store, clock: FakeClock) -> None:
    receiver = await FakeReceiver(statuses=[500, 503]).start()
    try:
        await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        dispatcher = _dispatcher(store)
        assert (await dispatcher.run_once()).retried == 1
        async with store.read() as tx:
            (delivery,) = await tx.webhooks.deliveries()
        assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
        assert delivery.last_error == "HTTP 500" and delivery.next_attempt_at == clock.now + timedelta(
            seconds=10
        )
        clock.advance(seconds=9)
        assert (await dispatcher.run_once()).retried == 0 and len(receiver.received) == 1  # not yet due
        clock.advance(seconds=1)
        assert (await dispatcher.run_once()).retried == 1  # 503: the wait doubles
        async with store.read() as tx:
            delivery = await tx.webhooks.delivery(delivery.id)  # type: ignore[assignment]
        assert delivery.next_attempt_at == clock.now + timedelta(seconds=20)
        clock.advance(seconds=20)
        assert (await dispatcher.run_once()).sent == 1
        assert [r.status for r in receiver.received] == [500, 503, 200]
        assert len({r.headers["X-CRM-Delivery"] for r in receiver.received}) == 1  # the same event
        async with store.read() as tx:
            delivery = await tx.webhooks.delivery(delivery.id)  # type: ignore[assignment]
        assert (delivery.state, delivery.attempts) == ("delivered", 3)
    finally:
        await receiver.stop()


async def test_backoff_doubles_to_an_hour_with_jitter(store: Store) -> None:
    full = WebhookSender(store, random=lambda: 1.0)
    assert [full.backoff(n) for n in (1, 2, 3, 9, 30)] == [10, 20, 40, 2560, 3600]
    half = WebhookSender(store, random=lambda: 0.0)
    assert [half.backoff(n) for n in (1, 2, 30)] == [5, 10, 1800]


async def test_a_delivery_failing_for_24_hours_is_given_up(store: Store, clock: FakeClock) -> None:
    receiver = await FakeReceiver(otherwise=500).start()
    try:
        await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        start = clock.now
        dispatcher = _dispatcher(store)
        for _ in range(100):
            await dispatcher.run_once()
            async with store.read() as tx:
                (delivery,) = await tx.webhooks.deliveries()
            if delivery.state != "pending":
                break
            assert delivery.next_attempt_at is not None
            clock.now = delivery.next_attempt_at
        assert delivery.state == "given_up"
        # The first try, 9 after waits doubling from 10 s (5,110 s in all), 22 hourly, and the
        # last one at the 24 h mark exactly (a shorter wait, not past the window).
        assert clock.now == start + timedelta(hours=24)
        assert delivery.attempts == len(receiver.received) == 1 + 9 + 22 + 1
        async with store.read() as tx:
            (row,) = await tx.outbox.listing(states=["failed"])
        assert row.last_error == "given up: HTTP 500"
        assert [d.id for d in await webhooks.deliveries(store, failed=True)] == [delivery.id]
    finally:
        await receiver.stop()


async def test_a_410_disables_the_endpoint(store: Store) -> None:
    receiver = await FakeReceiver(statuses=[410]).start()
    try:
        added = await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        metrics = Metrics()
        assert (await _dispatcher(store, metrics).run_once()).failed == 1
        async with store.read() as tx:
            endpoint = await tx.webhooks.endpoint(added.endpoint.id)
            (delivery,) = await tx.webhooks.deliveries()
        assert endpoint is not None and endpoint.disabled_reason == "410 Gone from the receiver"
        assert (delivery.state, delivery.last_status) == ("failed", 410)
        async with store.write("test") as tx:
            await tx.customers.add(name="Initech")
        async with store.read() as tx:
            assert len(await tx.webhooks.deliveries()) == 1  # no event for a disabled endpoint
        assert metrics.webhook_deliveries.labels(outcome="disabled")._value.get() == 1
    finally:
        await receiver.stop()


async def test_a_delivery_queued_before_its_endpoint_was_disabled_is_not_sent(store: Store) -> None:
    receiver = await FakeReceiver().start()
    try:
        added = await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        await webhooks.remove_endpoint(store, added.endpoint.id, actor="test")
        assert (await _dispatcher(store).run_once()).failed == 1
        assert receiver.received == []
        (delivery,) = await webhooks.deliveries(store, failed=True)
        assert delivery.last_error == "endpoint disabled"
    finally:
        await receiver.stop()


async def test_a_timeout_is_retried(store: Store) -> None:
    receiver = await FakeReceiver(delay=1.0).start()
    try:
        await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        assert (await _dispatcher(store, timeout=0.2).run_once()).retried == 1
        async with store.read() as tx:
            (delivery,) = await tx.webhooks.deliveries()
        assert delivery.last_error == "timeout after 0.2 s" and delivery.last_status is None
    finally:
        await receiver.stop()


async def test_redeliver_sends_the_same_event_again(store: Store) -> None:
    receiver = await FakeReceiver().start()
    try:
        await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            await tx.customers.add(name="Acme")
        dispatcher = _dispatcher(store)
        await dispatcher.run_once()
        (delivery,) = await webhooks.deliveries(store)
        again = await webhooks.redeliver(store, delivery.id, actor="test")
        assert again.state == "pending"
        assert (await dispatcher.run_once()).sent == 1
        first, second = receiver.received
        assert (
            first.body == second.body and first.headers["X-CRM-Delivery"] == second.headers["X-CRM-Delivery"]
        )
        (delivery,) = await webhooks.deliveries(store)
        assert (delivery.state, delivery.attempts) == ("delivered", 2)
    finally:
        await receiver.stop()


async def test_ping_reaches_one_endpoint_whatever_it_subscribes_to(store: Store) -> None:
    receiver = await FakeReceiver().start()
    try:
        added = await _subscribe(store, receiver, "order.created")
        queued = await webhooks.test_endpoint(store, added.endpoint.id, actor="test")
        assert queued.event_type == "ping"
        await _dispatcher(store).run_once()
        (got,) = receiver.received
        assert got.json["data"] == {"object": "ping", "endpoint_id": added.endpoint.id}
    finally:
        await receiver.stop()


async def test_two_replicas_deliver_each_event_once(db_url: str, clock: FakeClock) -> None:
    stores = [Store.open(db_url, clock=clock) for _ in range(2)]
    receiver = await FakeReceiver().start()
    try:
        await _subscribe(stores[0], receiver, "customer.created")
        async with stores[0].write("test") as tx:
            for n in range(30):
                await tx.customers.add(name=f"Customer {n}")
        reports = await asyncio.gather(*(_dispatcher(s).run_once() for s in stores))
        assert sum(r.sent for r in reports) == 30
        events = Counter(r.headers["X-CRM-Delivery"] for r in receiver.received)
        assert len(events) == 30 and set(events.values()) == {1}
    finally:
        await receiver.stop()
        for store in stores:
            await store.close()


async def test_a_slow_receiver_does_not_hold_up_the_batch(store: Store) -> None:
    receiver = await FakeReceiver(delay=1.0).start()
    try:
        await _subscribe(store, receiver, "customer.created")
        async with store.write("test") as tx:
            for n in range(8):
                await tx.customers.add(name=f"Customer {n}")
        started = time.monotonic()
        assert (await _dispatcher(store).run_once()).sent == 8
        # One after the other they would take 8 s; at once, about one receiver's second.
        assert time.monotonic() - started < 6
        assert len(receiver.delivered()) == 8
    finally:
        await receiver.stop()
