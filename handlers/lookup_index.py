"""Whole-book customer indexes: reading the book for a build, and where started lookups get one."""

from __future__ import annotations

import asyncio
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from crm_store.store import Store
from nlp.customer_index import CustomerIndex, pack_fields
from nlp.index_arrays import build_arrays

# Rows per read while a build reads the book (primary-key pages: each one is a short read).
BOOK_PAGE = 20_000
# How far back changes are read again: another replica's clock may lag ours, and a transaction
# may commit after rows stamped later were already read. Applying a row twice is harmless;
# missing one is not.
RECHECK = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Since:
    """Where a whole-book read stands: ``latest`` is the newest change the store held when the
    read began (None: empty), ``resume`` where a follower must read changes again from (RECHECK
    before the read began: later commits are stamped after it, however large the last import)."""

    latest: datetime | None
    resume: datetime


@dataclass(frozen=True, slots=True)
class Book:
    """Every live customer as the index packs them."""

    since: Since
    ids: array[int]
    records: list[str]


@dataclass(frozen=True, slots=True)
class BuiltIndex:
    """A whole-book index and where the book it was built from stood."""

    index: CustomerIndex
    since: Since


class IndexSource(Protocol):
    """Where a started CustomerLookup gets a whole index (bot.index_build: snapshots on disk,
    built by a child process)."""

    async def load(self, store_id: str) -> BuiltIndex | None:
        """The saved index of this store, or None when there is no usable one."""
        ...

    async def build(self, store_id: str) -> BuiltIndex:
        """A new index of the whole book (saved for the next start); raises when it fails."""
        ...

    async def close(self) -> None:
        """Stop a build in progress."""
        ...


async def read_book(store: Store, *, page: int = BOOK_PAGE) -> Book:
    async with store.read() as tx:
        since = Since(latest=await tx.customers.latest_change(), resume=store.clock() - RECHECK)
    ids: array[int] = array("q")
    records: list[str] = []
    after = 0
    while True:
        async with store.read() as tx:
            rows = await tx.customers.index_rows(after, limit=page)
        if not rows:
            return Book(since=since, ids=ids, records=records)
        for customer_id, name, company, email, phone in rows:
            ids.append(customer_id)
            records.append(pack_fields(name, company, email, phone))
        after = rows[-1][0]
        await asyncio.sleep(0)  # a page at a time, so other tasks on this loop keep running


def build_index(book: Book) -> BuiltIndex:
    """The index over ``book`` (CPU work: seconds at a million customers)."""
    arrays = build_arrays(book.records, book.ids)
    return BuiltIndex(index=CustomerIndex.from_arrays(arrays), since=book.since)
