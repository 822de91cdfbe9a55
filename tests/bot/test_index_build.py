"""Snapshots built by a child process: the bot's event loop keeps running meanwhile, the next start
loads the file, and a damaged, foreign or misplaced file is rebuilt rather than trusted."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path

import pytest

import handlers.lookup_index
from bench.synthetic_book import make_book
from bot.index_build import SnapshotIndexSource, build_snapshot, snapshot_path
from crm_store.store import Store, utc_now
from handlers.lookup import CustomerLookup
from nlp.index_snapshot import read_snapshot, save_snapshot


async def _until(condition: Callable[[], bool], within: float = 120.0) -> None:
    """Wait for ``condition`` with a generous bound (a child process starts Python and imports)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.fixture
async def real_store(db_url: str) -> AsyncIterator[Store]:
    """A store on the real clock: the child process stamps where it read on the real clock too."""
    store = Store.open(db_url)
    yield store
    await store.close()


async def _seed(store: Store, count: int) -> list[str]:
    """``count`` customers, written a minute ago (as a book is, by the time it is indexed): a
    catch-up re-reads only the last seconds before a build, and these are not among them."""
    book = make_book(count, seed=51)
    earlier = Store(store.engine, clock=lambda: utc_now() - timedelta(minutes=1))
    async with earlier.write("t") as tx:
        await tx.customers.add_many([{"name": c.name, "company": c.company} for c in book], source="t")
    return [c.name for c in book]


def _source(tmp_path: Path, db_url: str) -> SnapshotIndexSource:
    return SnapshotIndexSource(tmp_path / "index", database_url=db_url, location=str(tmp_path / "crm.db"))


async def _store_id(store: Store) -> str:
    async with store.read() as tx:
        store_id = await tx.meta.store_id()
    assert store_id is not None
    return store_id


async def test_a_cold_start_builds_in_a_child_while_the_loop_runs_then_a_warm_start_loads(
    real_store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = await _seed(real_store, 30_000)

    def no_build_here(*args: object) -> None:
        raise AssertionError("the index must be built in the child process, not in the bot")

    monkeypatch.setattr(handlers.lookup_index, "build_index", no_build_here)
    gaps: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.monotonic()
        while running:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    source = _source(tmp_path, db_url)
    cold = CustomerLookup(real_store, refresh_seconds=0)
    await cold.start(source, small_book=0)
    assert not cold.complete
    plain = next(name for name in names if name.isascii())  # the exact path does not fold accents
    assert (await cold.search(plain))[0].customer.name == plain  # the exact path meanwhile
    await _until(lambda: cold.complete)
    running = False
    await ticking
    # The loop kept turning throughout: no build work ran on it (a 30k build takes a good
    # fraction of a second in-process; the bound leaves room for a busy machine).
    assert len(gaps) > 100 and max(gaps) < 1.0
    assert len(cold.index) == 30_000
    path = snapshot_path(tmp_path / "index", await _store_id(real_store))
    assert path.exists()
    await cold.stop()

    async with real_store.write("t") as tx:
        await tx.customers.add(name="Written After The Snapshot")
    loads = 0
    load = source.load

    async def counted_load(store_id: str) -> object:
        nonlocal loads
        loads += 1
        built = await load(store_id)
        assert built is not None
        assert not built.index.arrays()["records"].flags.owndata  # mapped from the file, not copied
        return built

    async def no_rebuild(store_id: str) -> object:
        raise AssertionError("a warm start builds nothing")

    monkeypatch.setattr(source, "load", counted_load)
    monkeypatch.setattr(source, "build", no_rebuild)
    warm = CustomerLookup(real_store, refresh_seconds=0)
    await warm.start(source, small_book=0)
    assert warm.complete and loads == 1  # ready when start returns
    assert len(warm.index) == 30_001
    assert (await warm.search("Writen After The Snapshot"))[0].customer.name == "Written After The Snapshot"
    await warm.stop()


@pytest.mark.parametrize("damage", ["garbage", "another store", "truncated"])
async def test_a_damaged_or_foreign_snapshot_is_rebuilt(
    real_store: Store, db_url: str, tmp_path: Path, damage: str
) -> None:
    names = await _seed(real_store, 300)
    source = _source(tmp_path, db_url)
    store_id = await _store_id(real_store)
    path = snapshot_path(tmp_path / "index", store_id)
    path.parent.mkdir(parents=True)
    if damage == "garbage":
        path.write_bytes(b"\x00" * 4096)
    else:
        await source.build(store_id)
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:-100])
        else:
            snapshot = read_snapshot(path, expect={})
            save_snapshot(path, snapshot.arrays, {**snapshot.meta, "store": "f" * 32})
    assert await source.load(store_id) is None
    lookup = CustomerLookup(real_store, refresh_seconds=0)
    await lookup.start(source, small_book=0)
    await _until(lambda: lookup.complete)
    assert (await lookup.search(names[3]))[0].customer.name == names[3]  # the index folds accents
    assert read_snapshot(path, expect={"store": store_id}).meta["customers"] == 300
    await lookup.stop()


@pytest.mark.sqlite_only(reason="a copy of the database file elsewhere is a SQLite notion")
async def test_a_copy_of_the_database_elsewhere_does_not_use_its_snapshot(
    real_store: Store, db_url: str, tmp_path: Path
) -> None:
    await _seed(real_store, 50)
    store_id = await _store_id(real_store)
    original = _source(tmp_path, db_url)
    await original.build(store_id)
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "crm.db", copy / "crm.db")  # same store id, another file
    elsewhere = SnapshotIndexSource(tmp_path / "index", database_url=db_url, location=str(copy / "crm.db"))
    assert await original.load(store_id) is not None
    assert await elsewhere.load(store_id) is None


async def test_a_build_that_waited_for_anothers_uses_that_one(
    real_store: Store, db_url: str, tmp_path: Path
) -> None:
    await _seed(real_store, 50)
    store_id = await _store_id(real_store)
    path = snapshot_path(tmp_path / "index", store_id)
    await _source(tmp_path, db_url).build(store_id)
    written = path.stat().st_mtime_ns
    # This build saw no file when it was asked for; one appeared while it waited for the lock.
    built = await build_snapshot(db_url, path, store_id=store_id, location="", seen="none")
    assert built is False and path.stat().st_mtime_ns == written


async def test_two_sources_building_at_once_both_end_with_a_good_snapshot(
    real_store: Store, db_url: str, tmp_path: Path
) -> None:
    names = await _seed(real_store, 500)
    store_id = await _store_id(real_store)
    first, second = _source(tmp_path, db_url), _source(tmp_path, db_url)
    one, two = await asyncio.gather(first.build(store_id), second.build(store_id))
    assert len(one.index) == len(two.index) == 500
    assert two.index.search(names[9])[0].score == 100.0


async def test_a_postgresql_book_is_built_by_the_child_and_loaded(pg_url: str, tmp_path: Path) -> None:
    from crm_store.migrate import upgrade

    store = Store.open(pg_url)
    try:
        await upgrade(store.engine)
        names = await _seed(store, 2_000)
        source = SnapshotIndexSource(tmp_path / "index", database_url=pg_url)
        cold = CustomerLookup(store, refresh_seconds=0)
        await cold.start(source, small_book=0)
        await _until(lambda: cold.complete)
        await cold.stop()
        async with store.write("t") as tx:
            await tx.customers.add(name="Postgres Latecomer")
        warm = CustomerLookup(store, refresh_seconds=0)
        await warm.start(source, small_book=0)
        assert warm.complete and len(warm.index) == 2_001
        assert (await warm.search(names[11]))[0].customer.name == names[11]
        assert (await warm.search("postgres latecommer"))[0].customer.name == "Postgres Latecomer"
        await warm.stop()
    finally:
        await store.close()
