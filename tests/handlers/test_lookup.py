"""The customer lookup follows this process's writes at once and other replicas' within seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

import handlers.lookup as lookup_module
from bench.synthetic_book import make_book, make_queries
from crm_store.store import Store
from handlers.context import HandlerSettings, Services
from handlers.lookup import LOADING_NOTE, CustomerLookup
from handlers.lookup_index import BuiltIndex, build_index, read_book
from handlers.people import staff_actor
from handlers.router import Router
from nlp.customer_index import IndexedCustomer
from tests.conftest import Chat, FakeClock, all_text


async def test_other_replicas_writes_are_followed_after_the_refresh_interval(store: Store) -> None:
    mine = CustomerLookup(store, refresh_seconds=0)
    await mine.refresh(force=True)
    theirs = CustomerLookup(store, refresh_seconds=0)  # another replica on the same database
    async with store.write("replica-b") as tx:
        added = await tx.customers.add(name="Initech", email="bill@initech.example")
    theirs.note(added)
    assert (await mine.search("initech"))[0].customer.id == added.id  # picked up by the watermark poll
    async with store.write("replica-b") as tx:
        renamed = await tx.customers.update(added.id, fields={"name": "Initrode"})
    assert (await mine.search("initrode"))[0].customer.name == "Initrode"
    async with store.write("replica-b") as tx:
        await tx.customers.soft_delete(renamed.id, reason="test")
    assert await mine.search("initrode") == []


async def test_refresh_waits_for_its_interval(store: Store) -> None:
    lookup = CustomerLookup(store, refresh_seconds=3600)
    await lookup.refresh(force=True)
    async with store.write("replica-b") as tx:
        await tx.customers.add(name="Umbrella")
    assert await lookup.refresh() == 0  # not yet due: no query per search
    assert await lookup.refresh(force=True) == 1


async def test_paging_through_many_changes(store: Store) -> None:
    async with store.write("import") as tx:
        await tx.customers.add_many([{"name": f"Customer {i:05d}"} for i in range(2_500)], source="t")
    lookup = CustomerLookup(store, refresh_seconds=0)
    lookup_page = 1_000
    applied = 0
    while True:
        async with store.read() as tx:
            page = await tx.customers.changed_since(lookup._watermark, lookup._after_id, limit=lookup_page)
        if not page:
            break
        for customer in page:
            lookup.note(customer)
        lookup._watermark, lookup._after_id = page[-1].updated_at, page[-1].id
        applied += len(page)
    assert applied == 2_500 and len(lookup.index) == 2_500


async def test_a_lagging_replica_clock_does_not_hide_its_writes(store: Store, db_url: str, clock) -> None:
    from datetime import timedelta

    from tests.conftest import FakeClock

    lookup = CustomerLookup(store, refresh_seconds=0)
    async with store.write("replica-a") as tx:
        await tx.customers.add(name="Acme")
    await lookup.refresh()
    lagging = Store.open(db_url, clock=FakeClock(clock.now - timedelta(seconds=3)))
    try:
        async with lagging.write("replica-b") as tx:
            await tx.customers.add(name="Globex")  # stamped before the watermark we hold
    finally:
        await lagging.close()
    clock.advance(seconds=1)
    assert [c.customer.name for c in await lookup.search("globex")] == ["Globex"]


async def test_person_from_company(store: Store) -> None:
    lookup = CustomerLookup(store, refresh_seconds=0)
    async with store.write("t") as tx:
        await tx.customers.add(name="Globex Corporation", company="Globex Corporation")
        hank = await tx.customers.add(name="Hank Scorpio", company="Globex Corporation")
        await tx.customers.add(name="Hank Hill", company="Strickland Propane")
    resolution = await lookup.resolve("hank from globex")
    assert resolution.customer is not None and resolution.customer.id == hank.id


# -- started with a source of whole indexes (as the bot runs) --------------------------------


class FakeSource:
    """An IndexSource over ``store``: ``saved`` is what load returns; builds wait for ``release``
    (set by default) and read the store as it is then."""

    def __init__(self, store: Store, saved: BuiltIndex | None = None, *, released: bool = True) -> None:
        self.store = store
        self.saved = saved
        self.release = asyncio.Event()
        if released:
            self.release.set()
        self.builds = 0
        self.failures = 0  # builds that fail before one succeeds
        self.closed = False

    async def load(self, store_id: str) -> BuiltIndex | None:
        assert store_id
        return self.saved

    async def build(self, store_id: str) -> BuiltIndex:
        await self.release.wait()
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the build child died")
        self.builds += 1
        return build_index(await read_book(self.store))

    async def close(self) -> None:
        self.closed = True


async def _until(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Wait for ``condition`` (a generous bound: the machine may be busy)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def _seed(store: Store, count: int = 400) -> list[IndexedCustomer]:
    book = make_book(count, seed=41)
    async with store.write("t") as tx:
        await tx.customers.add_many(
            [{"name": c.name, "company": c.company, "email": c.email, "phone": c.phone} for c in book],
            source="t",
        )
    return book


async def _ranked(lookup: CustomerLookup, queries: list[str]) -> list[list[tuple[int, float]]]:
    return [[(c.customer.id, c.score) for c in await lookup.search(q, limit=8, min_score=0)] for q in queries]


async def test_a_stale_saved_index_caught_up_equals_a_fresh_build(store: Store, clock: FakeClock) -> None:
    book = await _seed(store)
    clock.advance(minutes=1)
    stale = build_index(await read_book(store))  # saved a while ago
    clock.advance(minutes=5)
    async with store.write("t") as tx:
        for customer in book[:10]:
            await tx.customers.update(customer.id, fields={"name": customer.name + " Renamed"})
        for customer in book[10:20]:
            await tx.customers.soft_delete(customer.id, reason="test")
        await tx.customers.add_many([{"name": f"Newcomer Person {i}"} for i in range(20)], source="t")
        await tx.privacy.erase_customer(book[20].id)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store, saved=stale)
    await lookup.start(source, small_book=0)
    assert lookup.complete and source.builds == 0  # loaded and caught up, not rebuilt
    fresh = CustomerLookup(store, refresh_seconds=0)
    await fresh.refresh(force=True)
    queries = [c.name for c in book[:25]] + [c.name + " Renamed" for c in book[:10]]
    queries += ["Newcomer Person 7", "newcomer", book[20].email] + [
        q.text for q in make_queries(book, 40, seed=42)
    ]
    assert len(lookup.index) == len(fresh.index) == len(book) - 10 + 20 - 1
    assert await _ranked(lookup, queries) == await _ranked(fresh, queries)
    await lookup.stop()
    assert source.closed


async def test_searches_take_the_exact_path_while_the_index_builds(store: Store) -> None:
    book = await _seed(store)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store, released=False)
    router = Router(Services(store=store, lookup=lookup))
    rep = await staff_actor(store, platform="console", user_id="sam", display_name="Sam", role="rep")
    chat = Chat(router, rep)
    await lookup.start(source, small_book=0)  # returns at once; the build waits for release
    assert not lookup.complete
    target = book[3]
    # Exact and prefix hits are found, scored as the index scores them, and shown as usual.
    found = await lookup.search(target.name)
    assert found[0].customer.id == target.id and found[0].score == 100.0
    assert (await lookup.search(target.name.split()[0][:3].upper(), limit=400))[0].score > 90
    assert (await lookup.search(target.email))[0].customer.id == target.id
    reply = await chat.say(f"find {target.name}")
    assert f"#{target.id}" in reply.title
    # A typo is not forgiven yet, and the answer says why instead of "no such customer" alone.
    typo = target.name[:-2] + target.name[-1] + target.name[-2]
    reply = await chat.say(f"find {typo}")
    assert reply.is_error and LOADING_NOTE in reply.text
    reply = await chat.say(f"show {typo}")
    assert LOADING_NOTE in reply.text
    listed = await chat.say(f"find {target.company.split()[0]}")
    assert listed.items and listed.context == LOADING_NOTE
    # Writes meanwhile are found at once, and are in the index once it is in.
    assert "Added" in (await chat.say("add Zebulon Quartzfield email=zq@example.com")).text
    assert (await lookup.search("Zebulon Quartzfield"))[0].customer.name == "Zebulon Quartzfield"
    source.release.set()
    await _until(lambda: lookup.complete)
    assert [c.customer.id for c in await lookup.search(typo)][:1] == [target.id]
    assert (await lookup.search("Zebulon Quartzfeld"))[0].customer.name == "Zebulon Quartzfield"
    assert LOADING_NOTE not in (await chat.say(f"find {target.company.split()[0]}")).context
    await lookup.stop()


async def test_the_exact_path_keeps_others_customers_out(store: Store) -> None:
    owner = await staff_actor(store, platform="console", user_id="ann", display_name="Ann", role="rep")
    rep = await staff_actor(store, platform="console", user_id="sam", display_name="Sam", role="rep")
    async with store.write("t") as tx:
        await tx.customers.add(name="Private Harbor", owner_rep_id=owner.rep_id)
        await tx.customers.add(name="Private Harbor Too", owner_rep_id=rep.rep_id)
    await _seed(store, 50)
    lookup = CustomerLookup(store, refresh_seconds=0)
    await lookup.start(FakeSource(store, released=False), small_book=0)
    router = Router(Services(store=store, lookup=lookup, settings=HandlerSettings(customer_access="owner")))
    reply = await Chat(router, rep).say("find private harbor")
    assert "Private Harbor Too" in reply.title and "Private Harbor (#" not in all_text(reply)
    await lookup.stop()


async def test_a_saved_index_newer_than_the_store_is_not_used(store: Store, clock: FakeClock) -> None:
    await _seed(store, 30)
    clock.advance(hours=1)
    async with store.write("t") as tx:
        await tx.customers.add(name="Only In The Later Copy")
    later = build_index(await read_book(store))  # made from a later state of the store ...
    async with store.write("t") as tx:  # ... which was then restored from an earlier backup
        await tx.conn.exec_driver_sql("DELETE FROM customers WHERE name = 'Only In The Later Copy'")
        await tx.conn.exec_driver_sql("UPDATE customers SET updated_at = '2026-11-23 09:00:00.000000'")
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store, saved=later)
    await lookup.start(source, small_book=0)
    await _until(lambda: lookup.complete)
    assert source.builds == 1
    assert await lookup.search("Only In The Later Copy", min_score=90) == []
    assert len(lookup.index) == 30
    await lookup.stop()


async def test_rows_removed_behind_the_stores_back_trigger_a_rebuild(store: Store) -> None:
    book = await _seed(store, 60)
    saved = build_index(await read_book(store))
    async with store.write("t") as tx:  # a hand-made DELETE leaves no change to follow
        await tx.conn.exec_driver_sql(f"DELETE FROM customers WHERE id = {book[5].id}")
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store, saved=saved)
    await lookup.start(source, small_book=0)
    await _until(lambda: source.builds == 1 and len(lookup.index) == 59)
    assert book[5].id not in lookup.index
    await lookup.stop()


async def test_enough_changes_rebuild_in_the_background(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookup_module, "MAINTAIN_SECONDS", 0.01)
    monkeypatch.setattr(lookup_module, "REBUILD_MIN", 25)
    await _seed(store, 100)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store)
    await lookup.start(source, small_book=0)
    await _until(lambda: lookup.complete)
    first = lookup.index
    assert source.builds == 1 and not first.auto_rebuild  # compaction happens here, not inline
    async with store.write("t") as tx:
        for i in range(30):
            lookup.note(await tx.customers.add(name=f"Fresh Face {i}"))
    await _until(lambda: source.builds == 2 and lookup.index is not first)
    assert lookup.index.pending < 25
    assert len(lookup.index) == 130
    assert (await lookup.search("Fresh Face 29"))[0].score == 100.0
    await lookup.stop()


async def test_a_failing_build_is_retried_and_searches_go_on(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookup_module, "RETRY_SECONDS", 0.01)
    book = await _seed(store, 40)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store)
    source.failures = 2
    await lookup.start(source, small_book=0)
    assert (await lookup.search(book[0].name))[0].customer.id == book[0].id
    await _until(lambda: lookup.complete)
    assert source.builds == 1 and source.failures == 0
    await lookup.stop()


async def test_a_small_book_is_ready_at_start_and_grown_is_rebuilt_in_the_background(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lookup_module, "MAINTAIN_SECONDS", 0.01)
    monkeypatch.setattr(lookup_module, "REBUILD_MIN", 40)
    await _seed(store, 30)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store)
    await lookup.start(source)
    assert lookup.complete and source.builds == 0 and len(lookup.index) == 30
    async with store.write("t") as tx:
        for i in range(45):
            lookup.note(await tx.customers.add(name=f"Grown Book {i}"))
    assert len(lookup.index) == 75 and not lookup.index.auto_rebuild  # no pause here
    await _until(lambda: source.builds == 1)
    await _until(lambda: lookup.index.pending == 0)
    assert len(lookup.index) == 75
    await lookup.stop()


async def test_stop_during_a_build_cancels_it(store: Store) -> None:
    await _seed(store, 30)
    lookup = CustomerLookup(store, refresh_seconds=0)
    source = FakeSource(store, released=False)
    await lookup.start(source, small_book=0)
    await lookup.stop()
    assert source.closed and source.builds == 0 and not lookup.complete
