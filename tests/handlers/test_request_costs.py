"""What one request costs the store, pinned: transactions (read and write), new connections and
threads for the actor resolution plus the router's answer, as a front end runs them; and the
router's writes under hundreds of concurrent requests with another process writing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from crm_store.store import Store
from crm_store.tables import interactions
from handlers.context import Services
from handlers.lookup import CustomerLookup
from handlers.messages import Message, Reply
from handlers.people import customer_actor, staff_actor
from handlers.router import APOLOGY, Router
from tests.other_writer import finish, other_process
from tests.store_counter import StoreCounts, counting

CONCURRENT_LOGS = 400
OTHER_PROCESS_NOTES = 200


async def _rep_says(store: Store, router: Router, text: str = "", action: str | None = None) -> Reply:
    """What the Slack front end does for each message: who is speaking, then the answer."""
    actor = await staff_actor(store, platform="slack", user_id="U1", display_name="Sam")
    return await router.handle(Message(actor=actor, text=text, action=action))


async def _book(store: Store, router: Router) -> None:
    for line in (
        "add Acme Corp email=ops@acme.example",
        "add Globex Corporation",
        "remind acme tomorrow 10:00: call back",
    ):
        assert not (await _rep_says(store, router, line)).is_error
    await _rep_says(store, router, "find acme")  # the pool and the speaker cache are warm now


async def _cost(store: Store, request: Callable[[], Awaitable[Reply]]) -> tuple[StoreCounts, Reply]:
    with counting(store) as counts:
        reply = await request()
    return counts, reply


async def test_each_kind_of_request_costs_what_is_pinned(store: Store) -> None:
    """A regression (a write for a pure read, a transaction per lookup, a connection per
    transaction) changes these numbers. The index's poll for other replicas' changes (one read
    per refresh interval, not per request) is kept out of the count."""
    router = Router(Services(store=store, lookup=CustomerLookup(store, refresh_seconds=3_600)))
    await _book(store, router)
    expected = {
        # search hits (one read), then the card (one read); no write
        "find acmee": ("Acme Corp (#1)", 2, 0),
        "show acme": ("Acme Corp (#1)", 2, 0),
        # the customer named (one read), then the note (one write)
        "log acme call: renewal talk": ("Logged a call", 1, 1),
        "reminders": ("Your reminders", 1, 0),
        "tickets": ("tickets", 1, 0),
    }
    for text, (shows, reads, writes) in expected.items():
        counts, reply = await _cost(store, lambda text=text: _rep_says(store, router, text))
        assert shows in f"{reply.title} {reply.text}", (text, reply)
        assert (counts.reads, counts.writes) == (reads, writes), (text, counts)
        assert (counts.connections, counts.threads) == (0, 0), (text, counts)
    presses = {
        "crm:show:1": ("Acme Corp (#1)", 2, 0),  # the customer (one read), the card (one read)
        "crm:snooze-1h:1": ("Snoozed", 1, 1),
    }
    for action, (shows, reads, writes) in presses.items():
        counts, reply = await _cost(store, lambda action=action: _rep_says(store, router, action=action))
        assert shows in f"{reply.title} {reply.text}", (action, reply)
        assert (counts.reads, counts.writes) == (reads, writes), (action, counts)
        assert (counts.connections, counts.threads) == (0, 0), (action, counts)


async def test_who_is_speaking_costs_one_read_then_nothing_and_never_a_write(store: Store) -> None:
    await staff_actor(store, platform="slack", user_id="U1", display_name="Sam")  # first contact
    store.speakers.changed()  # as after a restart: nothing cached
    first, _ = await _cost(store, lambda: _rep_says_nothing(store))
    again, _ = await _cost(store, lambda: _rep_says_nothing(store))
    assert (first.reads, first.writes) == (1, 0)
    assert (again.reads, again.writes, again.checkouts) == (0, 0, 0)


async def _rep_says_nothing(store: Store) -> Reply:
    await staff_actor(store, platform="slack", user_id="U1", display_name="Sam")
    return Reply(text="")


async def test_a_customer_message_costs_no_write_for_who_they_are(store: Store, router: Router) -> None:
    await customer_actor(store, platform="telegram", user_id="77", display_name="Carla")  # the lead
    counts, reply = await _cost(store, lambda: _customer_says(store, router, "/status"))
    assert not reply.is_error
    assert counts.writes == 0 and counts.connections == 0


async def _customer_says(store: Store, router: Router, text: str) -> Reply:
    actor = await customer_actor(store, platform="telegram", user_id="77", display_name="Carla")
    return await router.handle(Message(actor=actor, text=text))


async def test_hundreds_of_concurrent_writes_through_the_router_with_another_process_writing(
    store: Store, router: Router, db_url: str
) -> None:
    """Each `log` reads (who is speaking, the customer) and then writes; 400 at once from 20 reps,
    while another process adds notes too: every one answered, every note stored once."""
    await _book(store, router)

    async def log(n: int) -> Reply:
        user = f"U{n % 20}"
        actor = await staff_actor(store, platform="slack", user_id=user, display_name=f"Rep {user}")
        return await router.handle(Message(actor=actor, text=f"log acme call: call number {n}"))

    async with other_process(db_url, OTHER_PROCESS_NOTES, "interactions") as other:
        replies = await asyncio.gather(*(log(n) for n in range(CONCURRENT_LOGS)))
        assert await finish(other) == "errors 0"
    assert [r.text for r in replies if r.is_error or APOLOGY in r.text] == []
    async with store.read() as tx:
        texts = (
            (await tx.conn.execute(select(interactions.c.text).where(interactions.c.customer_id == 1)))
            .scalars()
            .all()
        )
    ours = sorted(t for t in texts if t.startswith("call number"))
    assert ours == sorted(f"call number {n}" for n in range(CONCURRENT_LOGS))  # each once
    assert len(texts) - len(ours) == OTHER_PROCESS_NOTES
