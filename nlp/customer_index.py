"""In-memory fuzzy customer lookup: fuzzy word postings pick candidates, rapidfuzz ranks them."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import OSA, Indel

from nlp.customer_scoring import (
    FIELDS,
    MIN_NATIONAL_DIGITS,
    NOISE_WORDS,
    Query,
    WordColumn,
    aligned_scores,
    score_columns,
)
from nlp.index_arrays import (
    COMPANY,
    EMAIL,
    NAME,
    PHONE,
    SEP,
    SORTED_FIELDS,
    WORD_FIELDS,
    Arrays,
    build_arrays,
    check_arrays,
    words_of,
)
from nlp.index_structures import (
    Forward,
    Growable,
    Postings,
    Records,
    SlotMap,
    SortedField,
    Vocabulary,
    max_edits,
)
from nlp.text_normal import normalize, normalize_email, phone_digits

__all__ = ["SEP", "CustomerIndex", "IndexedCustomer", "Match", "pack", "pack_fields"]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_WORD_FIELDS = tuple(WORD_FIELDS.values())

# Candidate generation budget.  Records holding a query word or a near spelling of it form
# a pool; at most POOL of them (those with the most and rarest such words) are ranked by the
# scorer's own word-alignment maths on word ids, and the best CANDIDATES of those are
# scored in full.
POOL = 16_384
CANDIDATES = 128
# Prefix/exact hits per sorted field that go on to scoring alongside the word candidates.
PREFIX_CANDIDATES = 64
# How many dictionary words a query word may stand for as a prefix ("harb" -> "harbor").
PREFIX_FANOUT = 16
MIN_PREFIX_WORD = 3
MAX_QUERY_CHARS = 200
# Query words at least this long are also tried as two dictionary words ("johnsmith").
MIN_SPLIT_WORD = 6
# Pending work (records added or replaced since the last build) that triggers a rebuild;
# relative to the book so that the rebuilds' total cost stays linear in the number of writes.
REBUILD_MIN = 50_000
REBUILD_FRACTION = 0.25
# Query words whose dictionary spellings are kept (see CustomerIndex._spellings): a few MB at most.
SPELLINGS_KEPT = 4_096


@dataclass(frozen=True, slots=True)
class IndexedCustomer:
    id: int
    name: str
    company: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    customer_id: int
    score: float
    field: str


def pack(customer: IndexedCustomer) -> str:
    """A customer's normalised fields as one record string (see SEP)."""
    return pack_fields(customer.name, customer.company, customer.email, customer.phone)


def pack_fields(name: str, company: str, email: str, phone: str) -> str:
    return SEP.join((normalize(name), normalize(company), normalize_email(email), phone_digits(phone)))


def _checked_id(value: object) -> int:
    """A customer id as a plain int that fits the id array (rejects str, float, 2**70)."""
    customer_id = operator.index(value)  # type: ignore[arg-type]  # TypeError for non-ints
    if not INT64_MIN <= customer_id <= INT64_MAX:
        raise ValueError(f"customer id out of range: {customer_id}")
    return customer_id


_Int = TypeVar("_Int", np.int32, np.int64)


def _distinct(values: NDArray[_Int]) -> NDArray[_Int]:
    """np.unique(values) by a sort and a mask: a third cheaper here than np.unique itself."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


class CustomerIndex:
    """Fuzzy lookup by name, company, email and phone over an in-memory customer book.

    A build turns the book into numpy arrays (see nlp.index_arrays), which may also come from
    a saved snapshot, memory-mapped.  Every write takes a fresh internal slot and the
    customer's previous slot is only retired once the new one is fully indexed, so a search
    never sees half an update.  Writes since the build live in small dicts and sorted lists
    next to the arrays; with ``auto_rebuild`` (the default) they are folded in by a rebuild
    once they (with retired slots) reach REBUILD_FRACTION of the book, which keeps writes
    amortised O(words) at the price of that one pause (seconds at a million customers).  An
    owner that rebuilds elsewhere (handlers.lookup, from a background build) turns it off.
    """

    _built_arrays: Arrays | None
    _records: Records
    _ids: Growable
    _alive: Growable
    _slot_map: SlotMap
    _live: int
    _pending: int
    _vocab: Vocabulary
    _postings: list[Postings]
    _forward: list[Forward]
    _sorted: list[SortedField]
    _phone_suffixes: SortedField
    _spelling_cache: dict[tuple[str, bool], dict[int, float]]
    _spelling_words: int

    def __init__(self, *, auto_rebuild: bool = True) -> None:
        self.auto_rebuild = auto_rebuild
        self._install(build_arrays([], []))

    @classmethod
    def from_arrays(cls, arrays: Arrays, *, auto_rebuild: bool = True) -> CustomerIndex:
        """An index over arrays made by build_arrays (or loaded from a snapshot of them);
        BadArrays when they do not fit together."""
        check_arrays(arrays)
        index = cls.__new__(cls)
        index.auto_rebuild = auto_rebuild
        index._install(arrays)
        return index

    def arrays(self) -> Arrays:
        """The arrays of the last build, for saving; only while nothing changed since."""
        if self._built_arrays is None:
            raise ValueError("the index changed since its build; build it again to save it")
        return self._built_arrays

    @property
    def pending(self) -> int:
        """Writes (adds, replacements, removals) applied since the last build."""
        return self._pending

    # -- writes -------------------------------------------------------------------------

    def upsert(self, customer: IndexedCustomer) -> None:
        self._add(_checked_id(customer.id), pack(customer))
        self._maybe_rebuild()

    def upsert_many(self, customers: Iterable[IndexedCustomer]) -> None:
        # Normalise and check everything first so that bad input leaves the index untouched.
        batch = {_checked_id(c.id): pack(c) for c in customers}
        retired = len(self._records) - self._live
        large = len(batch) >= self._live or self._rebuild_due(len(batch) + retired)
        if not (self.auto_rebuild and large):
            for customer_id, record in batch.items():
                self._add(customer_id, record)
            self._maybe_rebuild()
            return
        # A large batch is cheaper as one vectorised build over old and new records.
        live = np.flatnonzero(self._alive.view())
        kept = [
            (customer_id, self._records[slot])
            for slot, customer_id in zip(live.tolist(), self._ids.view()[live].tolist(), strict=True)
            if customer_id not in batch
        ]
        ids = [customer_id for customer_id, _ in kept] + list(batch)
        records = [record for _, record in kept] + list(batch.values())
        self._build(records, ids)

    def remove(self, customer_id: int) -> None:
        """Forget a customer; unknown ids are ignored so replays are harmless."""
        slot = self._slot_map.get(_checked_id(customer_id), self._alive.view())
        if slot is not None:
            self._alive[slot] = False
            self._live -= 1
            self._pending += 1
            self._built_arrays = None
            self._maybe_rebuild()

    def __len__(self) -> int:
        return self._live

    def __contains__(self, customer_id: object) -> bool:
        try:
            checked = _checked_id(customer_id)
        except (TypeError, ValueError):
            return False
        return self._slot_map.get(checked, self._alive.view()) is not None

    # -- search -------------------------------------------------------------------------

    def search(self, query: str, *, limit: int = 5, min_score: float = 60.0) -> list[Match]:
        # Nobody types a name that long; the cut bounds the work a pasted paragraph can cause.
        parsed = Query.parse(query[:MAX_QUERY_CHARS])
        if limit <= 0 or not parsed or not self._live:
            return []
        slots = self._candidates(parsed)
        if not len(slots):
            return []
        names, companies, emails, phones = zip(
            *(record.split(SEP) for record in self._records.many(slots.tolist())), strict=True
        )
        # The words of name and company come from the index's own word ids (as
        # _word_candidates reads them): the same words in the same order as splitting the
        # texts, without splitting and weighing every word again.
        scores, fields = score_columns(
            parsed,
            self._word_column(NAME, slots, names),
            self._word_column(COMPANY, slots, companies),
            emails,
            phones,
        )
        ids = self._ids.view()[slots]
        keep = np.flatnonzero(scores >= min_score)
        # Best score first; equal scores by customer id so that results are reproducible.
        order = keep[np.lexsort((ids[keep], -scores[keep]))][:limit]
        return [Match(int(ids[i]), round(float(scores[i]), 2), FIELDS[int(fields[i])]) for i in order]

    def _candidates(self, query: Query) -> NDArray[np.int32]:
        alive = self._alive.view()
        found: list[NDArray[np.int32] | list[int]] = []
        if query.text:
            found.append(self._word_candidates(query.text, alive))
            found.append(self._sorted[NAME].starting_with(query.text, PREFIX_CANDIDATES, alive))
            found.append(self._sorted[COMPANY].starting_with(query.text, PREFIX_CANDIDATES, alive))
        if query.email:
            found.append(self._sorted[EMAIL].starting_with(query.email, PREFIX_CANDIDATES, alive))
        if query.digits:
            digits = query.digits
            phones, suffixes = self._sorted[PHONE], self._phone_suffixes
            national = digits.removeprefix("0")
            found.append(phones.starting_with(digits, PREFIX_CANDIDATES, alive))
            # Stored numbers that end with the query: typed without country code or trunk "0".
            found.append(suffixes.starting_with(digits[::-1], PREFIX_CANDIDATES, alive))
            found.append(suffixes.starting_with(national[::-1], PREFIX_CANDIDATES, alive))
            # Stored numbers the query ends with: stored without the country code it has.
            for cut in range(1, len(national) - MIN_NATIONAL_DIGITS + 1):
                found.append(phones.equal_to(national[cut:], PREFIX_CANDIDATES, alive))
                found.append(phones.equal_to("0" + national[cut:], PREFIX_CANDIDATES, alive))
        merged = _distinct(np.concatenate([np.asarray(f, dtype=np.int32) for f in found]))
        live: NDArray[np.int32] = merged[alive[merged]]
        return live

    def _word_column(self, field: int, slots: NDArray[np.int32], texts: Sequence[str]) -> WordColumn:
        """One field of ``slots`` as a WordColumn over their dictionary words."""
        word_ids, counts = self._forward[field].gather(slots.astype(np.int64))
        distinct, local = np.unique(word_ids, return_inverse=True)
        vocab = self._vocab
        return WordColumn(
            vocab.array.view()[distinct],
            local.astype(np.int64),
            counts,
            texts,
            word_weights=vocab.weights.view()[distinct],
        )

    def _word_candidates(self, text: str, alive: NDArray[np.bool_]) -> NDArray[np.int32]:
        """Records (as slots) whose name or company best aligns with the query's words."""
        pool = self._word_pool(text)
        pool = pool[alive[pool >> 1]]
        if not len(pool):
            return np.zeros(0, dtype=np.int32)
        # Rank the pool by the scorer's own word alignment, computed from word ids; only
        # the best few are turned back into strings for the full score.
        slots = pool >> 1
        in_company = (pool & 1).astype(bool)
        name_ids, name_counts = self._forward[NAME].gather(slots[~in_company])
        company_ids, company_counts = self._forward[COMPANY].gather(slots[in_company])
        word_ids = np.concatenate((name_ids, company_ids))
        # Distinct words via a mark per dictionary word: cheaper than sorting.
        vocab = self._vocab
        marked = np.zeros(len(vocab.words), dtype=np.bool_)
        marked[word_ids] = True
        distinct = np.flatnonzero(marked)
        local = np.zeros(len(vocab.words), dtype=np.int64)
        local[distinct] = np.arange(len(distinct))
        column = WordColumn(
            vocab.array.view()[distinct],
            local[word_ids],
            np.concatenate((name_counts, company_counts)),
            word_weights=vocab.weights.view()[distinct],
        )
        scores = aligned_scores(text.split(), column)
        ordered = np.concatenate((slots[~in_company], slots[in_company]))
        if len(scores) > CANDIDATES:
            ordered = ordered[np.argpartition(-scores, CANDIDATES)[:CANDIDATES]]
        return ordered.astype(np.int32)

    def _word_pool(self, text: str) -> NDArray[np.int64]:
        """Keys (2 * slot + field) of records holding the most, and rarest, query words."""
        words = text.split()
        # Legal forms ("gmbh", "group") hold a large share of all records and count little
        # in the score; they only pick candidates when the query has nothing else.
        content = [w for w in words if w not in NOISE_WORDS] or words
        slot_lists: list[NDArray[np.int32]] = []
        fields: list[int] = []
        weights: list[float] = []
        slots_total = len(self._records)
        for word_id, similarity in self._query_spellings(content).items():
            for field, postings in zip(_WORD_FIELDS, self._postings, strict=True):
                hits = postings.get(word_id)
                if not len(hits):
                    continue
                # Rare words say more about who is meant; near spellings say less.
                slot_lists.append(hits)
                fields.append(field)
                weights.append(math.log1p(slots_total / len(hits)) * similarity * similarity)
        if not slot_lists:
            return np.zeros(0, dtype=np.int64)
        counts = np.array([len(hits) for hits in slot_lists])
        keyed = 2 * np.concatenate(slot_lists).astype(np.int64)
        keyed += np.repeat(np.array(fields, dtype=np.int64), counts)
        # unique + bincount over the inverse: a bincount over all keys would allocate and
        # touch an array twice the size of the book on every query.
        pool = _distinct(keyed)
        if len(pool) > POOL:
            pool, inverse = np.unique(keyed, return_inverse=True)
            totals = np.bincount(inverse, weights=np.repeat(np.array(weights), counts))
            pool = pool[np.argpartition(-totals, POOL)[:POOL]]
        return pool

    def _query_spellings(self, words: list[str]) -> dict[int, float]:
        """Dictionary words the query's words may stand for, each with its best similarity."""
        found: dict[int, float] = {}
        ids = self._vocab.ids
        unique = list(dict.fromkeys(words))
        for word in unique:
            # Only the word being typed (the last) or an unknown one may be a prefix.
            prefix = word == unique[-1] or word not in ids
            for word_id, similarity in self._spellings(word, prefix=prefix).items():
                found[word_id] = max(similarity, found.get(word_id, 0.0))
        # Words run together ("johnsmith") or split ("mc donald") only meet the record's words
        # when split or joined back; the scorer's spaceless comparison then rates them.
        for word in words:
            for cut in range(2, len(word) - 1) if len(word) >= MIN_SPLIT_WORD else ():
                left, right = ids.get(word[:cut]), ids.get(word[cut:])
                if left is not None and right is not None:
                    found.setdefault(left, 0.5)
                    found.setdefault(right, 0.5)
        for first, second in pairwise(words):
            joined = ids.get(first + second)
            if joined is not None:
                found.setdefault(joined, 0.8)
        return found

    def _spellings(self, word: str, *, prefix: bool) -> dict[int, float]:
        """Dictionary words the query word may stand for, with their similarity (0..1].

        They depend on the dictionary alone, which only grows: the answers are kept until a
        word is added (most query words are names asked for again and again), the oldest
        dropped first beyond SPELLINGS_KEPT. The dict returned is shared: read it only."""
        cache = self._spelling_cache
        if self._spelling_words != len(self._vocab.words):
            cache.clear()
            self._spelling_words = len(self._vocab.words)
        key = (word, prefix)
        found = cache.get(key)
        if found is None:
            found = cache[key] = self._spell(word, prefix=prefix)
            if len(cache) > SPELLINGS_KEPT:
                del cache[next(iter(cache))]
        return found

    def _spell(self, word: str, *, prefix: bool) -> dict[int, float]:
        vocab = self._vocab
        found: dict[int, float] = {}
        exact = vocab.ids.get(word)
        if exact is not None:
            found[exact] = 1.0
        edits = max_edits(word)
        if edits:
            for word_id in vocab.neighbours(word, edits):
                other = vocab.words[word_id]
                if word_id not in found and OSA.distance(word, other, score_cutoff=edits) <= edits:
                    found[word_id] = Indel.normalized_similarity(word, other)
        if prefix and len(word) >= MIN_PREFIX_WORD:
            for word_id in vocab.with_prefix(word, PREFIX_FANOUT):
                if word_id not in found:
                    found[word_id] = Indel.normalized_similarity(word, vocab.words[word_id])
        return found

    # -- building -----------------------------------------------------------------------

    def _add(self, customer_id: int, record: str) -> None:
        old = self._slot_map.get(customer_id, self._alive.view())
        if old is not None and self._records[old] == record:
            return
        slot = len(self._records)
        fields = record.split(SEP)
        self._built_arrays = None
        # Index the new slot completely while it is still marked dead; flipping it alive and
        # the old one dead at the end is the commit point.
        self._records.append(record)
        self._ids.append(customer_id)
        self._alive.append(False)
        for field in _WORD_FIELDS:
            word_ids = [self._vocab.add(word) for word in fields[field].split()]
            self._forward[field].add(word_ids)
            for word_id in word_ids:
                self._postings[field].add(word_id, slot)
        for field, sorted_field in enumerate(self._sorted):
            sorted_field.add(fields[field], slot)
        self._phone_suffixes.add(fields[PHONE][::-1], slot)
        self._pending += 1
        self._alive[slot] = True
        if old is None:
            self._live += 1
        else:
            self._alive[old] = False
        self._slot_map.set(customer_id, slot)

    def _rebuild_due(self, extra: int) -> bool:
        threshold = max(REBUILD_MIN, REBUILD_FRACTION * self._live)
        return self._pending + extra >= threshold

    def _maybe_rebuild(self) -> None:
        if self.auto_rebuild and self._rebuild_due(len(self._records) - self._live):
            live = np.flatnonzero(self._alive.view())
            self._build([self._records[s] for s in live.tolist()], self._ids.view()[live])

    def _build(self, records: list[str], ids: list[int] | NDArray[np.int64]) -> None:
        self._install(build_arrays(records, ids))

    def _install(self, arrays: Arrays) -> None:
        """Take these arrays as the built part (all slots live); nothing is copied, so
        memory-mapped arrays stay mapped."""
        size = len(arrays["ids"])
        self._built_arrays = arrays
        self._spelling_cache = {}
        self._spelling_words = -1
        self._records = Records(arrays["records"], arrays["record_ends"])
        self._ids = Growable(np.int64, arrays["ids"])
        self._alive = Growable(np.bool_, np.ones(size, dtype=np.bool_))
        self._slot_map = SlotMap(arrays["slot_ids"], arrays["slot_slots"])
        self._live = size
        self._pending = 0
        self._vocab = Vocabulary(
            words_of(arrays),
            order=arrays["word_order"],
            weights=arrays["word_weights"],
            keys=arrays["variant_keys"],
            owners=arrays["variant_owners"],
        )
        self._postings = [
            Postings(arrays[f"{name}_postings"], arrays[f"{name}_posting_offsets"]) for name in WORD_FIELDS
        ]
        self._forward = [
            Forward(arrays[f"{name}_forward"], arrays[f"{name}_forward_ends"]) for name in WORD_FIELDS
        ]

        def key_of(field: int) -> Callable[[int], str]:
            return lambda slot: self._records[slot].split(SEP)[field]

        self._sorted = [SortedField(arrays[f"sorted_{name}"], key_of(f)) for name, f in SORTED_FIELDS.items()]
        self._phone_suffixes = SortedField(
            arrays["sorted_phone_suffix"], lambda slot: key_of(PHONE)(slot)[::-1]
        )
