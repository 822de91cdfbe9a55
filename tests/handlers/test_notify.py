"""Pushes to a customer: a staff answer on their ticket goes first and at once, day or night; a
rating request or a status note waits out the customer's quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crm_store.store import Store
from handlers.messages import Actor
from handlers.quiet_hours import spread
from handlers.router import Router
from tests.conftest import Chat, FakeClock


async def _customer_rows(store: Store) -> dict[str, tuple[int, datetime]]:
    """Each telegram row's first words -> (priority, when it is due)."""
    async with store.read() as tx:
        return {
            r.payload["text"][:14]: (r.priority, r.next_attempt_at)
            for r in await tx.outbox.listing()
            if r.platform == "telegram"
        }


async def test_at_night_the_answer_goes_at_once_and_the_rating_request_waits(
    router: Router, customer: Actor, rep: Actor, store: Store, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # the customer has no zone: UTC, quiet
    await Chat(router, customer).say("/ticket Broken lid\nIt cracked")
    staff = Chat(router, rep)
    await staff.say("reply 1 A new lid is on its way")
    await staff.say("resolve 1")
    rows = await _customer_rows(store)
    morning = datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + spread(customer.customer_id or 0)
    assert rows["A new lid is o"] == (0, clock.now)  # the conversation: first in line, not held
    assert rows["How did we do?"] == (1, morning)


async def test_a_customers_own_quiet_hours_and_zone_decide(
    router: Router, customer: Actor, rep: Actor, store: Store, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # 00:30 in Berlin
    staff = Chat(router, rep)
    assert "Updated" in (await staff.say("update #1 timezone=Europe/Berlin quiet_hours=off")).text
    await Chat(router, customer).say("/ticket Broken lid\nIt cracked")
    await staff.say("resolve 1")
    assert (await _customer_rows(store))["How did we do?"] == (1, clock.now)  # off: never held
    bad = await staff.say("update #1 quiet_hours=nightly")
    assert bad.is_error and "22:00-07:00" in bad.text
    assert (await staff.say("update #1 timezone=Mars/Olympus")).is_error
    await staff.say("update #1 quiet_hours=00:00-08:00")
    await staff.say("reopen 1")
    rows = await _customer_rows(store)
    berlin_eight = datetime(2026, 11, 24, 7, 0, tzinfo=UTC) + spread(customer.customer_id or 0)
    assert rows["Your ticket #1"] == (1, berlin_eight)
    async with store.read() as tx:
        card = await tx.customers.get(customer.customer_id or 0)
    assert card is not None and card.quiet_hours == "00:00-08:00" and card.timezone == "Europe/Berlin"
    await staff.say("update #1 quiet_hours=")  # back to the team's
    async with store.read() as tx:
        card = await tx.customers.get(customer.customer_id or 0)
    assert card is not None and card.quiet_hours is None
    assert timedelta(0) <= spread(1) < timedelta(minutes=20)
