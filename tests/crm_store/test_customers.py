"""Customer reads the index relies on, on SQLite and PostgreSQL: book pages, the watermark, the
exact scan, and paging through changes that share one timestamp."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from crm_store.store import Store
from tests.conftest import FakeClock

PEOPLE = [
    {"name": "Acme Corp", "company": "Acme Corp", "email": "ops@acme.example", "phone": "+1 (555) 010-0100"},
    {"name": "Acme Corporation", "company": "", "email": "hello@acmecorp.example", "phone": ""},
    {"name": "Bob Li", "company": "Acme Corp", "email": "bob_li@acme.example", "phone": "555 0199"},
    {"name": "Li Bob", "company": "Initech", "email": "li@initech.example", "phone": ""},
    {"name": "100% Natural", "company": "", "email": "", "phone": ""},
    {"name": "Jürgen Groß", "company": "Groß GmbH", "email": "", "phone": "+49 30 1234567"},
]


@pytest.fixture
async def book(db_url: str, clock: FakeClock) -> AsyncIterator[Store]:
    store = Store.open(db_url, clock=clock)
    async with store.write("t") as tx:
        await tx.customers.add_many(PEOPLE, source="t")
    try:
        yield store
    finally:
        await store.close()


async def _names(store: Store, **query: object) -> list[str]:
    args = {"text": "", "words": (), "email": "", "digits": "", "limit": 50, **query}
    async with store.read() as tx:
        return [c.name for c in await tx.customers.search_plain(**args)]  # type: ignore[arg-type]


async def test_exact_scan_finds_prefixes_and_all_words_exact_first(book: Store) -> None:
    assert await _names(book, text="acme corp", words=["acme", "corp"]) == [
        "Acme Corp",  # the whole text, exactly (as name or company), by id
        "Bob Li",
        "Acme Corporation",  # starts with it
    ]
    assert await _names(book, text="bob acme", words=["bob", "acme"]) == ["Bob Li"]  # across fields
    assert await _names(book, text="li bob", words=["bob", "li"]) == ["Li Bob", "Bob Li"]
    assert await _names(book, words=["initech"]) == ["Li Bob"]


async def test_exact_scan_by_email_and_phone_digits(book: Store) -> None:
    assert await _names(book, email="bob_") == ["Bob Li"]
    assert await _names(book, email="b%") == []  # typed characters, not wildcards
    assert await _names(book, digits="5550100") == ["Acme Corp"]
    assert await _names(book, digits="0199") == ["Bob Li"]


async def test_exact_scan_takes_wildcards_literally_and_skips_deleted(book: Store) -> None:
    assert await _names(book, text="100% natural", words=["100", "natural"]) == ["100% Natural"]
    assert await _names(book, words=["0%"]) == ["100% Natural"]
    assert await _names(book, words=["1_0"]) == []  # not "any one character"
    assert await _names(book, words=["%"]) == ["100% Natural"]
    async with book.write("t") as tx:
        await tx.customers.soft_delete(1, reason="test")  # Acme Corp
    assert await _names(book, text="acme corp", words=["acme", "corp"]) == ["Bob Li", "Acme Corporation"]
    assert await _names(book, text="acme") == []  # nothing asked for but the ranking: nothing scanned


async def test_book_pages_watermark_and_highest_id(book: Store, clock: FakeClock) -> None:
    async with book.read() as tx:
        first = await tx.customers.index_rows(0, limit=4)
        rest = await tx.customers.index_rows(first[-1][0], limit=4)
        assert await tx.customers.latest_change() == clock.now
        assert await tx.customers.highest_id() == len(PEOPLE)
    assert [row[1] for row in first + rest] == [p["name"] for p in PEOPLE]
    assert first[0] == (1, "Acme Corp", "Acme Corp", "ops@acme.example", "+1 (555) 010-0100")
    clock.advance(seconds=5)
    async with book.write("t") as tx:
        await tx.customers.soft_delete(2, reason="test")
    async with book.read() as tx:
        assert [row[0] for row in await tx.customers.index_rows(0)] == [1, 3, 4, 5, 6]
        assert await tx.customers.latest_change() == clock.now  # a deletion is a change too


async def test_changes_sharing_one_timestamp_page_through_without_loss(book: Store) -> None:
    async with book.write("t") as tx:
        await tx.customers.add_many([{"name": f"Bulk {i}"} for i in range(50)], source="t")
    seen: list[int] = []
    cursor, after = None, 0
    while True:
        async with book.read() as tx:
            page = await tx.customers.changed_since(cursor, after, limit=7)
        if not page:
            break
        seen += [c.id for c in page]
        cursor, after = page[-1].updated_at, page[-1].id
    assert seen == list(range(1, len(PEOPLE) + 51))


async def test_the_store_has_an_id(book: Store) -> None:
    async with book.read() as tx:
        store_id = await tx.meta.store_id()
    assert store_id is not None and len(store_id) == 32 and int(store_id, 16) >= 0
