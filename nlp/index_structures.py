"""The customer index's parts: each a built numpy array plus a small structure for later writes."""

from __future__ import annotations

import bisect
import heapq
import zlib
from array import array
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nlp.customer_scoring import word_weight

# Between records in the records buffer.  No packed record can contain it: normalize turns it
# into a space, normalize_email drops it as whitespace and phone_digits keeps digits only.
RS = "\x1e"
_RS_BYTE = ord(RS)


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


def variant_key(variant: str) -> int:
    """A spelling variant's key: CRC-32, stable across processes (str hash is salted per
    process, and keys are saved in snapshots).  Two variants sharing a key only cost a
    candidate word that the caller's edit-distance check then drops."""
    return zlib.crc32(variant.encode())


class Growable:
    """A numpy array with amortised O(1) append, exposed as a view of its filled part.

    It starts on the given array without copying it (a memory-mapped one stays mapped) and
    copies only when an append needs room.
    """

    def __init__(self, dtype: type[np.generic], values: NDArray[Any] | None = None) -> None:
        initial = np.zeros(16, dtype=dtype) if values is None else np.asarray(values, dtype=dtype)
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


class Records:
    """Each slot's packed record: built slots in one UTF-8 buffer, later ones as strings.

    A million records as one buffer cost their bytes and 8 per end offset, where a million
    str objects cost about 50 bytes each on top; and a buffer can be memory-mapped.
    """

    def __init__(self, buffer: NDArray[np.uint8], ends: NDArray[np.int64]) -> None:
        self._buffer = buffer
        self._ends = ends
        self._built = len(ends)
        self._recent: list[str] = []

    def __getitem__(self, slot: int) -> str:
        if slot >= self._built:
            return self._recent[slot - self._built]
        start = int(self._ends[slot - 1]) + 1 if slot else 0
        return self._buffer[start : int(self._ends[slot])].tobytes().decode()

    def many(self, slots: list[int]) -> list[str]:
        """The records of ``slots``, in order: the offsets are read in one go and the bytes
        decoded straight from the buffer (no array slice per record)."""
        built = self._built
        ends = self._ends
        inside = np.fromiter((s for s in slots if s < built), dtype=np.int64)
        stops = ends[inside]
        starts = np.where(inside > 0, ends[np.maximum(inside - 1, 0)] + 1, 0)
        buffer = self._buffer.data
        decoded = iter(
            [str(buffer[a:b], "utf-8") for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
        )
        return [next(decoded) if s < built else self._recent[s - built] for s in slots]

    def __len__(self) -> int:
        return self._built + len(self._recent)

    def append(self, record: str) -> None:
        self._recent.append(record)


def pack_records(records: list[str], chunk: int = 20_000) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """The records buffer and end offsets for Records (joined a chunk at a time: one joined
    str of a whole book would take up to four bytes a character)."""
    if not records:
        return np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64)
    parts = [RS.join(records[start : start + chunk]).encode() for start in range(0, len(records), chunk)]
    buffer = np.frombuffer(RS.encode().join(parts), dtype=np.uint8)
    ends = np.append(np.flatnonzero(buffer == _RS_BYTE), len(buffer)).astype(np.int64)
    return buffer, ends


class Vocabulary:
    """Every word of every name and company, findable by spelling neighbours and by prefix."""

    def __init__(
        self,
        words: list[str],
        *,
        order: NDArray[np.int32],
        weights: NDArray[np.float64],
        keys: NDArray[np.uint32],
        owners: NDArray[np.int32],
    ) -> None:
        self.words = words
        self.ids = dict(zip(words, range(len(words)), strict=True))
        self.weights = Growable(np.float64, weights)
        # The same words as an object array: a query gathers thousands of them by id.
        self.array = Growable(np.object_, np.array(words, dtype=np.object_))
        self._sorted = [words[i] for i in order.tolist()]
        # Built words' spelling variants as sorted keys with their word ids (searchsorted
        # lookups, 8 bytes a variant); words added later go to a small dict until the next build.
        self._keys = keys
        self._owners = owners
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
            self._extra.setdefault(variant_key(variant), []).append(word_id)
        return word_id

    def neighbours(self, word: str, edits: int) -> set[int]:
        """Ids of words that may be within `edits` of `word` (to be verified by the caller)."""
        variants = [variant_key(v) for v in deletions(word, edits)]
        keys = np.array(variants, dtype=np.uint32)
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
        # A slice, not islice: islice walks the list from its start to get there.
        for word in self._sorted[start : start + limit]:
            if not word.startswith(prefix):
                break
            hits.append(self.ids[word])
        return hits


class Postings:
    """Which records contain each word, for one field: CSR arrays plus a dict of recent adds."""

    def __init__(self, slots: NDArray[np.int32], offsets: NDArray[np.int64]) -> None:
        self._slots = slots
        self._offsets = offsets
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


class Forward:
    """Each record's words in order, for one field: what the pool is scored from."""

    def __init__(self, word_ids: NDArray[np.int32], ends: NDArray[np.int64]) -> None:
        self._words = Growable(np.int32, word_ids)
        self._ends = Growable(np.int64, ends)

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


class RecentKeys:
    """(key, slot) pairs added since the build, in key order: a sorted run plus a short
    unsorted tail that is folded in once it is full.  An insort per add would move the
    whole run each time, which made a large catch-up quadratic."""

    TAIL = 1024

    def __init__(self) -> None:
        self._run: list[tuple[str, int]] = []
        self._tail: list[tuple[str, int]] = []

    def add(self, key: str, slot: int) -> None:
        self._tail.append((key, slot))
        if len(self._tail) >= self.TAIL:
            # Two sorted runs merge in one linear timsort pass.
            self._tail.sort()
            self._run.extend(self._tail)
            self._run.sort()
            self._tail = []

    def starting_with(self, prefix: str) -> Iterator[tuple[str, int]]:
        start = bisect.bisect_left(self._run, (prefix, -1))
        run = self._run
        in_run = (run[i] for i in range(start, len(run)))  # from `start`, without walking up to it
        in_tail = sorted(pair for pair in self._tail if pair[0].startswith(prefix))
        for key, slot in heapq.merge(in_run, in_tail):
            if not key.startswith(prefix):
                return
            yield key, slot


class SortedField:
    """Records ordered by one normalised field, for exact and prefix lookups by bisection."""

    def __init__(self, built: NDArray[np.int32], key_of: Callable[[int], str]) -> None:
        self._built = built
        self._key_of = key_of
        self._recent = RecentKeys()

    def add(self, key: str, slot: int) -> None:
        if key:
            self._recent.add(key, slot)

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
        for _, slot in self._recent.starting_with(prefix):
            if recent >= limit:
                break
            if alive[slot]:
                hits.append(slot)
                recent += 1
        return hits

    def equal_to(self, key: str, limit: int, alive: NDArray[np.bool_]) -> list[int]:
        return [s for s in self.starting_with(key, limit, alive) if self._key_of(s) == key]


class SlotMap:
    """Customer id -> live slot: sorted numpy arrays for the built part, a dict for later writes.

    A dict over a million ids would cost ~100 MB of int objects and hash table; these arrays
    cost 12 bytes an id.  Liveness is the index's alive flags, so removal needs no entry here.
    """

    def __init__(self, ids: NDArray[np.int64], slots: NDArray[np.int32]) -> None:
        self._ids = ids
        self._slots = slots
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
