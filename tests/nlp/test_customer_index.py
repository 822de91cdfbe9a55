"""Tests for nlp.customer_index: fuzzy lookup by name, company, email and phone, kept in step."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlp.customer_index as customer_index
from bench.synthetic_book import make_book, make_queries
from nlp.customer_index import CustomerIndex, IndexedCustomer, Match, pack
from nlp.customer_scoring import Query, score_columns

BOOK = [
    IndexedCustomer(1, "John Smith", "Acme Media Group", "john.smith@acme.com", "+1 (555) 010-0"),
    IndexedCustomer(2, "Jane Smithers", "Blue Harbor Media Inc", "jane@blueharbor.io", "+44 20 7946 0958"),
    IndexedCustomer(3, "José García López", "Núñez Holdings", "jose@nunez.es", ""),
    IndexedCustomer(4, "Søren Kierkegaard", "Łódź Logistics", "soren@lodz.pl", "+45 3312 3456"),
    IndexedCustomer(5, "Maria Elena Rossi", "Rossi & Figli SpA", "maria@rossi.it", ""),
    IndexedCustomer(6, "Ronald McDonald", "Golden Arches Foods", "ronald@arches.com", ""),
    IndexedCustomer(7, "Johnny Smithson", "Smithson Steel", "johnny@steel.com", "555 0199"),
    IndexedCustomer(8, "Анна Павлова", "Большой театр", "anna@bolshoi.ru", ""),
    IndexedCustomer(9, "Media Group", "", "", ""),
    IndexedCustomer(10, "Blue Harbor Media", "", "", ""),
]


@pytest.fixture
def index() -> CustomerIndex:
    built = CustomerIndex()
    built.upsert_many(BOOK)
    # Noise around the book so that the right answer has to beat many near misses.
    built.upsert_many(make_book(3000, seed=3)[10:])
    return built


def top(index: CustomerIndex, query: str, **kwargs: float) -> Match:
    found = index.search(query, **kwargs)  # type: ignore[arg-type]
    assert found, f"nothing found for {query!r}"
    return found[0]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Jhon Smith", 1),  # transposition
        ("Jon Smith", 1),  # deletion
        ("John Smoth", 1),  # substitution
        ("Jane Smithrs", 2),
        ("Blue Harbr Media", 10),
        ("Acme Meida Group", 1),
        ("Kierkegard", 4),
    ],
)
def test_typos_find_the_customer(index: CustomerIndex, query: str, expected: int) -> None:
    assert top(index, query).customer_id == expected


def test_word_order_does_not_matter(index: CustomerIndex) -> None:
    assert top(index, "Smith John").customer_id == 1
    assert top(index, "Smiht Jhon").customer_id == 1
    assert top(index, "Media Acme Group").customer_id == 1


def test_missing_words(index: CustomerIndex) -> None:
    assert top(index, "Maria Rossi").customer_id == 5  # no middle name
    assert top(index, "Jose Lopez").customer_id == 3
    assert top(index, "Nunez").customer_id == 3  # company without "Holdings"
    match = top(index, "Acme Group")
    assert (match.customer_id, match.field) == (1, "company")


def test_accents_and_case_are_ignored(index: CustomerIndex) -> None:
    exact = top(index, "JOSE GARCIA LOPEZ")
    assert (exact.customer_id, exact.score) == (3, 100.0)
    assert top(index, "soren kierkegaard").score == 100.0
    # Letters NFKD does not decompose are folded too: Ł -> l, ø -> o.
    assert top(index, "lodz logistics").customer_id == 4
    # Accents in the query while the record has none work the same way.
    assert top(index, "Jöhn Smíth").customer_id == 1


def test_other_scripts(index: CustomerIndex) -> None:
    assert top(index, "анна павлова").score == 100.0
    assert top(index, "Анна Павлва").customer_id == 8


def test_run_together_words(index: CustomerIndex) -> None:
    assert top(index, "johnsmith").customer_id == 1
    assert top(index, "ronald mcdonald").score == 100.0
    assert 6 in [m.customer_id for m in index.search("ronald mc donald")]


def test_exact_scores_100_and_ranks_first(index: CustomerIndex) -> None:
    found = index.search("Media Group")
    assert found[0] == Match(9, 100.0, "name")
    assert all(m.score < 100.0 for m in found[1:])


def test_prefix_ranks_above_fuzzy(index: CustomerIndex) -> None:
    found = index.search("John Smi")
    assert found[0].customer_id == 1
    assert 90.0 < found[0].score < 100.0
    # "Johnny Smithson" is only a fuzzy match of "john smi" and must come after.
    ranks = {m.customer_id: i for i, m in enumerate(found)}
    assert ranks.get(7, 99) > ranks[1]
    # A typed prefix beats a record the typo'd text resembles more closely.
    prefix, fuzzy = index.search("Johnny Smiths", limit=2)
    assert prefix.customer_id == 7 and prefix.score > 90.0
    assert fuzzy.score <= 90.0


def test_email_lookup(index: CustomerIndex) -> None:
    assert top(index, "John.Smith@ACME.com") == Match(1, 100.0, "email")
    prefix = top(index, "jane@bluehar")
    assert (prefix.customer_id, prefix.field) == (2, "email")
    assert 90.0 < prefix.score < 100.0
    # A typo'd address still finds its owner, through the name in it.
    assert top(index, "jhon.smith@acme.com").customer_id == 1


@pytest.mark.parametrize(
    ("query", "expected", "score"),
    [
        ("+1 555 0100", 1, 100.0),
        ("15550100", 1, 100.0),
        ("5550100", 1, 98.0),  # the same number without the country code
        ("+44 20 7946 0958", 2, 100.0),
        ("020 7946 0958", 2, 98.0),  # national form with trunk "0"
        ("0044 20 7946 0958", 2, 98.0),  # international "00" prefix
        ("0958", 2, None),  # the last digits
        ("+1 555 0199", 7, 98.0),  # stored without the country code
    ],
)
def test_phone_lookup(index: CustomerIndex, query: str, expected: int | None, score: float | None) -> None:
    match = top(index, query)
    assert match.field == "phone"
    if expected is not None:
        assert match.customer_id == expected
    if score is not None:
        assert match.score == score


def test_upsert_takes_effect_at_once(index: CustomerIndex) -> None:
    assert top(index, "John Smith").customer_id == 1
    index.upsert(IndexedCustomer(1, "Johanna Schmidt", "Acme Media Group", "jo@acme.com", ""))
    assert 1 not in [m.customer_id for m in index.search("John Smith", min_score=95)]
    assert top(index, "Johanna Schmidt") == Match(1, 100.0, "name")
    assert top(index, "Johana Schmdt").customer_id == 1
    assert not [m for m in index.search("+1 555 0100") if m.customer_id == 1]
    assert len(index) == 3000


def test_upsert_new_customer_and_unchanged_upsert(index: CustomerIndex) -> None:
    index.upsert(IndexedCustomer(9001, "Zebulon Quackenbush", "Quack Co"))
    assert 9001 in index
    assert top(index, "Zebulon Quakenbush").customer_id == 9001
    index.upsert(IndexedCustomer(9001, "Zebulon Quackenbush", "Quack Co"))
    assert [m.customer_id for m in index.search("Zebulon Quackenbush")].count(9001) == 1
    assert len(index) == 3001


def test_remove(index: CustomerIndex) -> None:
    index.remove(2)
    assert 2 not in index
    assert 2 not in [m.customer_id for m in index.search("Jane Smithers")]
    assert 2 not in [m.customer_id for m in index.search("+44 20 7946 0958")]
    index.remove(2)  # unknown ids are ignored
    index.remove(123456789)
    assert len(index) == 2999


def test_min_score_and_limit(index: CustomerIndex) -> None:
    everything = index.search("Smith", limit=20, min_score=0)
    assert len(everything) == 20
    assert [m.score for m in everything] == sorted((m.score for m in everything), reverse=True)
    strong = index.search("Smith", limit=20, min_score=80)
    assert strong and all(m.score >= 80 for m in strong)
    assert len(strong) < len(everything)
    assert index.search("Smith", limit=0) == []
    assert index.search("Xqzvwk Plorf") == []


@pytest.mark.parametrize("query", ["", "   ", "!!!", "-", "\x1f", "'"])
def test_empty_queries(index: CustomerIndex, query: str) -> None:
    assert index.search(query) == []


def test_empty_index() -> None:
    empty = CustomerIndex()
    assert len(empty) == 0
    assert empty.search("John") == []
    assert 1 not in empty
    assert [] not in empty  # unhashable: not a customer id, not an error
    empty.upsert_many([])
    assert len(empty) == 0


def test_upsert_many_into_a_built_index(index: CustomerIndex) -> None:
    # A small batch goes into the recent-writes part, a large one triggers a rebuild.
    index.upsert_many([IndexedCustomer(1, "Renamed Person"), IndexedCustomer(5001, "Brand New")])
    assert top(index, "Renamed Person").customer_id == 1
    assert top(index, "Brand New").customer_id == 5001
    index.upsert_many(make_book(4000, seed=9))  # ids 1..4000 replaced
    assert len(index) == 4001
    assert top(index, "Brand New").customer_id == 5001
    assert top(index, "Renamed Person", min_score=0).score < 100.0


def test_bad_ids_are_rejected_without_a_trace(index: CustomerIndex) -> None:
    with pytest.raises(TypeError):
        index.upsert(IndexedCustomer("7", "Stringy Id"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        index.upsert(IndexedCustomer(2**70, "Huge Id"))
    with pytest.raises(TypeError):
        index.upsert_many([IndexedCustomer(9100, "Fine Person"), IndexedCustomer(1.5, "Float")])  # type: ignore[arg-type]
    assert 9100 not in index
    assert len(index) == 3000
    assert not index.search("Stringy Id", min_score=90)


def test_rebuild_keeps_every_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer_index, "REBUILD_MIN", 50)
    index = CustomerIndex()
    book = make_book(400, seed=5)
    for customer in book:
        index.upsert(customer)
    for customer in book[:100]:
        index.remove(customer.id)
    for customer in book[100:200]:
        index.upsert(IndexedCustomer(customer.id, customer.name + " Jr", customer.company))
    assert len(index) == 300
    # Writes and rebuilds interleaved: what is retired stays gone, what is new is found.
    assert len(index._records) < 400  # rebuilt at least once, dropping retired slots
    for customer in book[:100]:
        assert customer.id not in index
    for customer in book[100:200]:
        assert customer.id in [m.customer_id for m in index.search(customer.name + " Jr")]
    for customer in book[200:]:
        match = index.search(customer.name, limit=50)
        assert customer.id in [m.customer_id for m in match if m.score == 100.0]


def test_agrees_with_a_full_scan_on_a_generated_book() -> None:
    """The index ranks with the full scan's scorer; it may only miss weak tail records."""
    book = make_book(2000, seed=21)
    index = CustomerIndex()
    index.upsert_many(book)
    columns = [list(c) for c in zip(*(pack(c).split("\x1f") for c in book), strict=True)]
    ids = np.array([c.id for c in book])
    queries = make_queries(book, 60, seed=22)
    hits = agreeing = compared = 0
    for labelled in queries:
        found = index.search(labelled.text)
        scores, _ = score_columns(Query.parse(labelled.text), *columns)
        order = np.lexsort((ids, -scores))[:5]
        expected = [(int(ids[i]), round(float(scores[i]), 2)) for i in order if scores[i] >= 60]
        assert (found[0].customer_id, found[0].score) == expected[0]
        # Same score at each rank (equal scores are interchangeable), never a better one.
        compared += len(expected)
        agreeing += sum(
            1 for rank, (_, score) in enumerate(expected) if rank < len(found) and found[rank].score == score
        )
        assert all(m.score <= e for m, (_, e) in zip(found, expected, strict=False))
        hits += labelled.customer_id in [m.customer_id for m in found]
    assert agreeing / compared >= 0.95
    assert hits >= 58  # the intended customer among the first five


def test_search_never_sees_a_retired_version(index: CustomerIndex) -> None:
    rng = random.Random(4)
    for step in range(200):
        customer_id = rng.randrange(1, 50)
        index.upsert(IndexedCustomer(customer_id, f"Temp Person {step}", f"Firm {step}"))
        found = index.search(f"Temp Person {step}")
        assert found[0] == Match(customer_id, 100.0, "name")
        assert len({m.customer_id for m in index.search("Temp Person", limit=100)}) == len(
            index.search("Temp Person", limit=100)
        )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_search_never_raises(text: str) -> None:
    found = SHARED.search(text, limit=7, min_score=0)
    assert len(found) <= 7
    assert all(0.0 <= m.score <= 100.0 for m in found)
    assert all(m.field in {"name", "company", "email", "phone"} for m in found)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)


@settings(max_examples=100, deadline=None)
@given(
    st.builds(
        IndexedCustomer,
        id=st.integers(1, 30),
        name=st.text(max_size=30),
        company=st.text(max_size=30),
        email=st.text(max_size=20),
        phone=st.text(max_size=20),
    ),
    st.text(max_size=30),
)
def test_upsert_anything_then_search(customer: IndexedCustomer, query: str) -> None:
    index = CustomerIndex()
    index.upsert_many(BOOK)
    index.upsert(customer)
    assert customer.id in index
    index.search(query)
    if pack(customer).split("\x1f")[0]:
        assert customer.id in [m.customer_id for m in index.search(customer.name, limit=20)]


SHARED = CustomerIndex()
SHARED.upsert_many(BOOK)
