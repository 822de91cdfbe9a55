"""Tests for nlp.index_snapshot: a saved index searches exactly like a fresh build, and a damaged,
foreign or outdated file is refused, never half-trusted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import nlp.index_snapshot as index_snapshot
from bench.synthetic_book import make_book, make_queries
from nlp.customer_index import CustomerIndex, IndexedCustomer
from nlp.index_arrays import ARRAYS, BadArrays
from nlp.index_snapshot import (
    SnapshotRejected,
    read_snapshot,
    remove_stale_temporaries,
    save_snapshot,
    snapshot_meta,
)

BOOK = make_book(3000, seed=31)
META = {"store": "store-a", "location": "", "latest": None, "resume": "2026-11-23T09:00:00+00:00"}


@pytest.fixture(scope="module")
def fresh() -> CustomerIndex:
    index = CustomerIndex()
    index.upsert_many(BOOK)
    return index


@pytest.fixture
def saved(tmp_path: Path, fresh: CustomerIndex) -> Path:
    path = tmp_path / "customers-store-a.idx"
    save_snapshot(path, fresh.arrays(), META)
    return path


def _results(index: CustomerIndex, queries: list[str]) -> list[object]:
    return [index.search(q, limit=10, min_score=0) for q in queries]


QUERIES = [q.text for q in make_queries(BOOK, 150, seed=32)] + ["+1 555", "gmail.com", "a", "zz"]


def test_round_trip_searches_like_the_fresh_build(saved: Path, fresh: CustomerIndex) -> None:
    snapshot = read_snapshot(saved, expect={"store": "store-a"})
    loaded = CustomerIndex.from_arrays(snapshot.arrays)
    assert snapshot.meta == META
    assert set(snapshot.arrays) == set(ARRAYS)
    for name, array in fresh.arrays().items():
        assert np.array_equal(snapshot.arrays[name], array), name
    assert len(loaded) == len(fresh)
    assert _results(loaded, QUERIES) == _results(fresh, QUERIES)


def test_a_loaded_index_takes_writes_like_a_fresh_one(saved: Path) -> None:
    loaded = CustomerIndex.from_arrays(read_snapshot(saved, expect={}).arrays)
    fresh = CustomerIndex()
    fresh.upsert_many(BOOK)
    for index in (loaded, fresh):
        index.upsert(IndexedCustomer(7, "Renamed Persona", "Brand New Holdings", "new@x.io", "+1 555 0100"))
        index.upsert(IndexedCustomer(99_999, "Quentin Newcomer", "Newcomer Labs"))
        index.remove(BOOK[10].id)
    assert _results(loaded, [*QUERIES, "renamed persona", "newcomer", BOOK[10].name]) == _results(
        fresh, [*QUERIES, "renamed persona", "newcomer", BOOK[10].name]
    )
    with pytest.raises(ValueError):
        loaded.arrays()  # changed since its build: saving it would lose the writes


def test_arrays_are_memory_mapped_not_copied(saved: Path) -> None:
    snapshot = read_snapshot(saved, expect={})
    records = snapshot.arrays["records"]
    assert not records.flags.writeable and not records.flags.owndata


def test_an_empty_index_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.idx"
    save_snapshot(path, CustomerIndex().arrays(), META)
    loaded = CustomerIndex.from_arrays(read_snapshot(path, expect={}).arrays)
    assert len(loaded) == 0 and loaded.search("anyone") == []
    loaded.upsert(IndexedCustomer(1, "First Customer"))
    assert loaded.search("first customer")[0].customer_id == 1


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x40
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_any_array_is_refused(saved: Path) -> None:
    header = snapshot_meta(saved)
    assert header is not None
    size = saved.stat().st_size
    for offset in (size - 1, size // 2, size // 3):
        copy = saved.with_name(f"copy-{offset}.idx")
        copy.write_bytes(saved.read_bytes())
        _flip(copy, offset)
        with pytest.raises(SnapshotRejected, match="checksum"):
            read_snapshot(copy, expect={})


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "size"),
        (lambda data: data[:20], "header"),
        (lambda data: b"", "header"),
        (lambda data: b"PK\x03\x04 not an index at all" * 10, "not a customer index"),
        (lambda data: data[:30] + bytes([data[30] ^ 1]) + data[31:], "damaged header"),
    ],
)
def test_truncated_or_foreign_files_are_refused(saved: Path, damage: object, reason: str) -> None:
    saved.write_bytes(damage(saved.read_bytes()))  # type: ignore[operator]
    with pytest.raises(SnapshotRejected, match=reason):
        read_snapshot(saved, expect={})


def test_another_store_or_other_code_is_refused(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SnapshotRejected, match="store differs"):
        read_snapshot(saved, expect={"store": "store-b"})
    with pytest.raises(SnapshotRejected, match="no snapshot"):
        read_snapshot(saved.with_name("missing.idx"), expect={})
    monkeypatch.setattr(index_snapshot, "CODE", "built-by-another-release")
    with pytest.raises(SnapshotRejected, match="another version"):
        read_snapshot(saved, expect={})
    assert snapshot_meta(saved) is None


def test_arrays_that_do_not_fit_together_are_refused_even_with_good_checksums(
    tmp_path: Path, fresh: CustomerIndex
) -> None:
    arrays = dict(fresh.arrays())
    postings = arrays["name_postings"].copy()
    postings[5] = len(BOOK) + 10  # a slot past the end of the book
    arrays["name_postings"] = postings
    path = tmp_path / "bad.idx"
    save_snapshot(path, arrays, META)
    with pytest.raises(BadArrays, match="name postings"):
        CustomerIndex.from_arrays(read_snapshot(path, expect={}).arrays)


def test_replacing_a_snapshot_leaves_readers_of_the_old_one_intact(saved: Path) -> None:
    old = CustomerIndex.from_arrays(read_snapshot(saved, expect={}).arrays)
    before = old.search(BOOK[0].name)
    newer = CustomerIndex()
    newer.upsert_many(make_book(500, seed=33))
    save_snapshot(saved, newer.arrays(), META)
    assert old.search(BOOK[0].name) == before  # still mapped to the file it opened
    assert len(CustomerIndex.from_arrays(read_snapshot(saved, expect={}).arrays)) == 500
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temporary left behind


def test_a_failed_write_leaves_the_old_snapshot_and_no_temporary(saved: Path, fresh: CustomerIndex) -> None:
    arrays = dict(fresh.arrays())
    del arrays["ids"]
    with pytest.raises(KeyError):
        save_snapshot(saved, arrays, META)
    assert len(CustomerIndex.from_arrays(read_snapshot(saved, expect={}).arrays)) == len(BOOK)
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_stale_temporaries_are_removed(saved: Path) -> None:
    old = saved.with_name(f".{saved.name}.123.dead.tmp")
    recent = saved.with_name(f".{saved.name}.456.busy.tmp")
    old.write_bytes(b"x")
    recent.write_bytes(b"x")
    hour_ago = time.time() - 7200
    os.utime(old, (hour_ago, hour_ago))
    remove_stale_temporaries(saved)
    assert not old.exists() and recent.exists() and saved.exists()
