"""In-memory fuzzy customer lookup: fuzzy word postings pick candidates, rapidfuzz ranks them."""

from __future__ import annotations

import bisect
import math
import operator
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import chain, islice, pairwise
from typing import Any

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
    word_weight,
    word_weights_of,
)
from nlp.text_normal import normalize, normalize_email, phone_digits

# Normalised fields of one record are kept as one string joined by this separator: one
# object per customer instead of four keeps a million-customer book small.  No normalised
# form can contain it (normalize turns it into a space; email and phone forms drop it).
SEP = "\x1f"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NAME, COMPANY, EMAIL, PHONE = range(4)
WORD_FIELDS = (NAME, COMPANY)

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
    return SEP.join(
        (
            normalize(customer.name),
            normalize(customer.company),
            normalize_email(customer.email),
            phone_digits(customer.phone),
        )
    )


def max_edits(word: str) -> int:
    """Typos forgiven in a word: none in 1-2 letters, one in 3-4, two from 5 up."""
    size = len(word)
    return 0 if size <= 2 else 1 if size <= 4 else 2


def deletions(word: str, edits: int) -> set[str]:
    """The word with up to `edits` letters deleted (symmetric-delete spelling neighbourhood).

    Two words within that many substitutions, insertions, deletions or adjacent swaps of
    each other always share at least one of these, so looking them up finds all such
    neighbours without comparing against the whole dictionary.
    """
    found = {word}
    frontier = {word}
    for _ in range(edits):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


def _checked_id(value: object) -> int:
    """A customer id as a plain int that fits the id array (rejects str, float, 2**70)."""
    customer_id = operator.index(value)  # type: ignore[arg-type]  # TypeError for non-ints
    if not INT64_MIN <= customer_id <= INT64_MAX:
        raise ValueError(f"customer id out of range: {customer_id}")
    return customer_id


class _Growable:
    """A numpy array with amortised O(1) append, exposed as a view of its filled part."""

    def __init__(self, dtype: type[np.generic], values: NDArray[Any] | None = None) -> None:
        initial = np.zeros(16, dtype=dtype) if values is None else values.astype(dtype)
        self._data: NDArray[Any] = initial
        self._size = 0 if values is None else len(values)

    def append(self, value: object) -> None:
        if self._size == len(self._data):
            grown = np.zeros(max(16, 2 * len(self._data)), dtype=self._data.dtype)
            grown[: self._size] = self._data
            self._data = grown
        self._data[self._size] = value
        self._size += 1

    def view(self) -> NDArray[Any]:
        return self._data[: self._size]

    def __setitem__(self, index: int, value: float) -> None:
        self._data[index] = value



class _Vocabulary:
    """Every word of every name and company, findable by spelling neighbours and by prefix."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.ids = {word: i for i, word in enumerate(words)}
        self.weights = _Growable(np.float64, word_weights_of(words))
        # The same words as an object array: a query gathers thousands of them by id.
        self.array = _Growable(np.object_, np.array(words, dtype=np.object_))
        self._sorted = sorted(words)
        keys: list[int] = []
        owners: list[int] = []
        for i, word in enumerate(words):
            variants = deletions(word, max_edits(word))
            keys.extend(map(hash, variants))
            owners.extend([i] * len(variants))
        # Built words live in sorted numpy arrays (searchsorted lookups, 12 bytes a key);
        # words added later go to a small dict until the next build.
        order = np.argsort(np.array(keys, dtype=np.int64), kind="stable")
        self._keys = np.array(keys, dtype=np.int64)[order]
        self._owners = np.array(owners, dtype=np.int32)[order]
        self._extra: dict[int, list[int]] = {}

    def add(self, word: str) -> int:
        found = self.ids.get(word)
        if found is not None:
            return found
        word_id = len(self.words)
        self.words.append(word)
        self.ids[word] = word_id
        self.weights.append(word_weight(word))
        self.array.append(word)
        bisect.insort(self._sorted, word)
        for variant in deletions(word, max_edits(word)):
            self._extra.setdefault(hash(variant), []).append(word_id)
        return word_id

    def neighbours(self, word: str, edits: int) -> set[int]:
        """Ids of words that may be within `edits` of `word` (to be verified by the caller)."""
        # Python's str hash is salted per process, which is fine: the index never leaves it.
        variants = [hash(v) for v in deletions(word, edits)]
        keys = np.array(variants, dtype=np.int64)
        lo = np.searchsorted(self._keys, keys, side="left")
        hi = np.searchsorted(self._keys, keys, side="right")
        found: set[int] = set()
        for start, stop in zip(lo.tolist(), hi.tolist(), strict=True):
            if stop > start:
                found.update(self._owners[start:stop].tolist())
        for key in variants:
            found.update(self._extra.get(key, ()))
        return found

    def with_prefix(self, prefix: str, limit: int) -> list[int]:
        start = bisect.bisect_left(self._sorted, prefix)
        hits = []
        for word in islice(self._sorted, start, start + limit):
            if not word.startswith(prefix):
                break
            hits.append(self.ids[word])
        return hits


class _Postings:
    """Which records contain each word, for one field: CSR arrays plus a dict of recent adds."""

    def __init__(self, word_ids: NDArray[np.int64], slots: NDArray[np.int64], words: int) -> None:
        # One sort orders the postings by word and then by record, and drops a word
        # repeated within one record ("van der van").
        pairs = np.sort((word_ids << 32) | slots)
        if len(pairs):
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        self._slots = (pairs & 0xFFFFFFFF).astype(np.int32)
        counts = np.bincount(pairs >> 32, minlength=words)
        self._offsets = np.zeros(words + 1, dtype=np.int64)
        np.cumsum(counts, out=self._offsets[1:])
        # array('i') rather than list: appends stay cheap and queries read it as a buffer.
        self._extra: dict[int, array[int]] = {}

    def add(self, word_id: int, slot: int) -> None:
        slots = self._extra.get(word_id)
        if slots is None:
            self._extra[word_id] = array("i", (slot,))
        elif slots[-1] != slot:
            slots.append(slot)

    def get(self, word_id: int) -> NDArray[np.int32]:
        built = (
            self._slots[self._offsets[word_id] : self._offsets[word_id + 1]]
            if word_id + 1 < len(self._offsets)
            else self._slots[:0]
        )
        extra = self._extra.get(word_id)
        if not extra:
            return built
        # The buffer view only lives inside this expression, so the array can still grow.
        return np.concatenate((built, np.frombuffer(extra, dtype=np.int32)))



class _Forward:
    """Each record's words in order, for one field: what the pool is scored from."""

    def __init__(self, word_ids: NDArray[np.int64], counts: NDArray[np.int64]) -> None:
        self._words = _Growable(np.int32, word_ids)
        self._ends = _Growable(np.int64, np.cumsum(counts))

    def add(self, word_ids: list[int]) -> None:
        for word_id in word_ids:
            self._words.append(word_id)
        self._ends.append(len(self._words.view()))

    def gather(self, slots: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The concatenated word ids of `slots` and how many belong to each."""
        ends = self._ends.view()
        stops = ends[slots]
        starts = np.where(slots > 0, ends[np.maximum(slots - 1, 0)], 0)
        counts = stops - starts
        # Positions start..stop-1 of every slot, without a Python loop.
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
        positions = offsets + np.arange(int(counts.sum()), dtype=np.int64)
        return self._words.view()[positions].astype(np.int64), counts


class _SortedField:
    """Records ordered by one normalised field, for exact and prefix lookups by bisection."""

    def __init__(self, keys: list[str], key_of: Callable[[int], str]) -> None:
        order = sorted(range(len(keys)), key=keys.__getitem__)
        # Empty fields sort first and can never be hit; leave them out.
        first = bisect.bisect_right(order, "", key=keys.__getitem__)
        self._built = np.array(order[first:], dtype=np.int32)
        self._key_of = key_of
        # Records added since the build, as sorted (key, slot) pairs: insort is a memmove.
        self._extra: list[tuple[str, int]] = []

    def add(self, key: str, slot: int) -> None:
        if key:
            bisect.insort(self._extra, (key, slot))

    def starting_with(self, prefix: str, limit: int, alive: NDArray[np.bool_]) -> list[int]:
        """Up to `limit` live records (built and recent each) whose key starts with `prefix`."""
        hits: list[int] = []
        built = self._built
        pos = bisect.bisect_left(built, prefix, key=lambda s: self._key_of(int(s)))
        done = False
        while not done and len(hits) < limit and pos < len(built):
            # Read in small chunks: retired slots may be skipped, but never the whole tail.
            chunk = built[pos : pos + 2 * limit].tolist()
            pos += len(chunk)
            for slot in chunk:
                if len(hits) >= limit or not self._key_of(slot).startswith(prefix):
                    done = True
                    break
                if alive[slot]:
                    hits.append(slot)
        recent = 0
        start = bisect.bisect_left(self._extra, (prefix, -1))
        for key, slot in islice(self._extra, start, None):
            if recent >= limit or not key.startswith(prefix):
                break
            if alive[slot]:
                hits.append(slot)
                recent += 1
        return hits

    def equal_to(self, key: str, alive: NDArray[np.bool_]) -> list[int]:
        return [s for s in self.starting_with(key, PREFIX_CANDIDATES, alive) if self._key_of(s) == key]


class _SlotMap:
    """Customer id -> live slot: sorted numpy arrays for the built part, a dict for later writes.

    A dict over a million ids would cost ~100 MB of int objects and hash table; these arrays
    cost 12 bytes an id.  Liveness is the index's alive flags, so removal needs no entry here.
    """

    def __init__(self, ids: NDArray[np.int64]) -> None:
        order = np.argsort(ids, kind="stable")
        self._ids = ids[order]
        self._slots = order.astype(np.int32)
        self._recent: dict[int, int] = {}

    def get(self, customer_id: int, alive: NDArray[np.bool_]) -> int | None:
        slot = self._recent.get(customer_id)
        if slot is None:
            i = int(np.searchsorted(self._ids, customer_id))
            if i < len(self._ids) and self._ids[i] == customer_id:
                slot = int(self._slots[i])
        return slot if slot is not None and alive[slot] else None

    def set(self, customer_id: int, slot: int) -> None:
        self._recent[customer_id] = slot


class CustomerIndex:
    """Fuzzy lookup by name, company, email and phone over an in-memory customer book.

    Every write takes a fresh internal slot and the customer's previous slot is only
    retired once the new one is fully indexed, so a search never sees half an update.
    Writes since the last build live in small dicts and sorted lists next to the numpy
    arrays; once they (with retired slots) reach REBUILD_FRACTION of the book, one rebuild
    folds them in, which keeps writes amortised O(words) at the price of that one pause
    (about 5-10 s at a million customers).
    """

    def __init__(self) -> None:
        self._build([], [])

    # -- writes -------------------------------------------------------------------------

    def upsert(self, customer: IndexedCustomer) -> None:
        self._add(_checked_id(customer.id), pack(customer))
        self._maybe_rebuild()

    def upsert_many(self, customers: Iterable[IndexedCustomer]) -> None:
        # Normalise and check everything first so that bad input leaves the index untouched.
        batch = {_checked_id(c.id): pack(c) for c in customers}
        retired = len(self._records) - self._live
        if len(batch) < self._live and not self._rebuild_due(len(batch) + retired):
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
        columns = list(zip(*(self._records[s].split(SEP) for s in slots.tolist()), strict=True))
        scores, fields = score_columns(parsed, *columns)
        ids = self._ids.view()[slots]
        keep = np.flatnonzero(scores >= min_score)
        # Best score first; equal scores by customer id so that results are reproducible.
        order = keep[np.lexsort((ids[keep], -scores[keep]))][:limit]
        return [
            Match(int(ids[i]), round(float(scores[i]), 2), FIELDS[int(fields[i])]) for i in order
        ]

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
                found.append(phones.equal_to(national[cut:], alive))
                found.append(phones.equal_to("0" + national[cut:], alive))
        merged = np.unique(np.concatenate([np.asarray(f, dtype=np.int32) for f in found]))
        live: NDArray[np.int32] = merged[alive[merged]]
        return live

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
            for field, postings in zip(WORD_FIELDS, self._postings, strict=True):
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
        pool, inverse = np.unique(keyed, return_inverse=True)
        if len(pool) > POOL:
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
        """Dictionary words the query word may stand for, with their similarity (0..1]."""
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
        # Index the new slot completely while it is still marked dead; flipping it alive and
        # the old one dead at the end is the commit point.
        self._records.append(record)
        self._ids.append(customer_id)
        self._alive.append(False)
        for field in WORD_FIELDS:
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
        if self._rebuild_due(len(self._records) - self._live):
            live = np.flatnonzero(self._alive.view())
            self._build([self._records[s] for s in live.tolist()], self._ids.view()[live].tolist())

    def _build(self, records: list[str], ids: list[int]) -> None:
        size = len(records)
        self._records = records
        self._ids = _Growable(np.int64, np.array(ids, dtype=np.int64))
        self._alive = _Growable(np.bool_, np.ones(size, dtype=np.bool_))
        self._slot_map = _SlotMap(self._ids.view())
        self._live = size
        self._pending = 0
        # One join and one split per column instead of a list per record: a million small
        # lists kept alive set off full garbage collections that cost more than the work.
        flat = SEP.join(records).split(SEP) if size else []
        columns = [flat[field :: len(FIELDS)] for field in range(len(FIELDS))]
        del flat
        field_words: list[list[str]] = []
        field_counts: list[NDArray[np.int64]] = []
        for field in WORD_FIELDS:
            texts = columns[field]
            # Normalised text has single spaces and no padding, so words = spaces + 1.
            field_counts.append(
                np.fromiter((t.count(" ") + 1 if t else 0 for t in texts), dtype=np.int64, count=size)
            )
            field_words.append(" ".join(texts).split())
        word_ids = {word: i for i, word in enumerate(dict.fromkeys(chain(*field_words)))}
        self._vocab = _Vocabulary(list(word_ids))
        self._postings = []
        self._forward = []
        for words, counts in zip(field_words, field_counts, strict=True):
            ids_of_words = np.fromiter(map(word_ids.__getitem__, words), dtype=np.int64, count=len(words))
            slots = np.repeat(np.arange(size, dtype=np.int64), counts)
            self._postings.append(_Postings(ids_of_words, slots, len(word_ids)))
            self._forward.append(_Forward(ids_of_words, counts))
        del field_words

        def key_of(field: int) -> Callable[[int], str]:
            return lambda slot: self._records[slot].split(SEP)[field]

        self._sorted = [_SortedField(columns[f], key_of(f)) for f in range(len(FIELDS))]
        self._phone_suffixes = _SortedField(
            [d[::-1] for d in columns[PHONE]], lambda slot: key_of(PHONE)(slot)[::-1]
        )
