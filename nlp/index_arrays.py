"""The customer index as named numpy arrays: built from packed records, checked before use."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nlp.customer_scoring import FIELDS, word_weights_of
from nlp.index_structures import deletions, max_edits, pack_records, variant_key

# Normalised fields of one record are kept as one string joined by this separator.  No
# normalised form can contain it (normalize turns it into a space; email and phone forms drop it).
SEP = "\x1f"
NAME, COMPANY, EMAIL, PHONE = range(4)
WORD_FIELDS = {"name": NAME, "company": COMPANY}
SORTED_FIELDS = {"name": NAME, "company": COMPANY, "email": EMAIL, "phone": PHONE}
# Records per step of a build: the per-step lists stay small however large the book.
CHUNK = 20_000

# Every array of a built index and its type.  Slots are int32 (an index holds at most 2**31
# records); offsets into concatenated arrays are int64.
ARRAYS: dict[str, type[np.generic]] = {
    "records": np.uint8,  # packed records, RS-separated UTF-8 (see index_structures.Records)
    "record_ends": np.int64,
    "ids": np.int64,  # customer id of each slot
    "slot_ids": np.int64,  # the ids sorted, and the slot of each
    "slot_slots": np.int32,
    "words": np.uint8,  # the vocabulary, newline-separated UTF-8, in word-id order
    "word_order": np.int32,  # word ids in alphabetical order (prefix lookups)
    "word_weights": np.float64,
    "variant_keys": np.uint32,  # spelling-variant keys, sorted, and the word each belongs to
    "variant_owners": np.int32,
    **{f"{field}_postings": np.int32 for field in WORD_FIELDS},
    **{f"{field}_posting_offsets": np.int64 for field in WORD_FIELDS},
    **{f"{field}_forward": np.int32 for field in WORD_FIELDS},
    **{f"{field}_forward_ends": np.int64 for field in WORD_FIELDS},
    **{f"sorted_{field}": np.int32 for field in SORTED_FIELDS},
    "sorted_phone_suffix": np.int32,  # by reversed digits: numbers that end with a query
}

Arrays = Mapping[str, NDArray[Any]]


class BadArrays(ValueError):
    """Arrays that do not describe an index (a damaged or foreign snapshot)."""


def _column(records: Sequence[str], field: int) -> Iterator[list[str]]:
    """One field of every record, a chunk at a time: one join and one split per chunk
    instead of a list per record."""
    for start in range(0, len(records), CHUNK):
        yield SEP.join(records[start : start + CHUNK]).split(SEP)[field :: len(FIELDS)]


def _postings(word_ids: NDArray[np.int32], counts: NDArray[np.int64], words: int) -> tuple[Any, Any]:
    """CSR postings (record slots per word) from each record's word ids."""
    slots = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    # One sort orders the postings by word and then by record, and drops a word repeated
    # within one record ("van der van").
    pairs = np.sort((word_ids.astype(np.int64) << 32) | slots)
    if len(pairs):
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    offsets = np.zeros(words + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs >> 32, minlength=words), out=offsets[1:])
    return (pairs & 0xFFFFFFFF).astype(np.int32), offsets


def _variants(words: list[str]) -> tuple[NDArray[np.uint32], NDArray[np.int32]]:
    """Every word's spelling-variant keys, sorted, with the id of the word each came from."""
    keys = array("I")
    counts = array("i")
    assert keys.itemsize == 4 and counts.itemsize == 4
    for word in words:
        variants = deletions(word, max_edits(word))
        keys.extend(map(variant_key, variants))
        counts.append(len(variants))
    key_array = np.frombuffer(keys, dtype=np.uint32)
    owners = np.repeat(np.arange(len(words), dtype=np.int32), np.frombuffer(counts, dtype=np.int32))
    order = np.argsort(key_array, kind="stable")
    return key_array[order], owners[order]


def _sorted_slots(keys: list[str]) -> NDArray[np.int32]:
    """Slots ordered by key; empty keys sort first and can never be hit, so they are left out."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    empty = sum(1 for key in keys if not key)
    return np.array(order[empty:], dtype=np.int32)


def build_arrays(records: list[str], ids: Sequence[int] | NDArray[np.int64]) -> dict[str, NDArray[Any]]:
    """Every array of an index over these packed records (one per slot) and customer ids."""
    size = len(records)
    built: dict[str, NDArray[Any]] = {}
    built["records"], built["record_ends"] = pack_records(records, CHUNK)
    built["ids"] = np.asarray(ids, dtype=np.int64).reshape(-1)
    order = np.argsort(built["ids"], kind="stable")
    built["slot_ids"] = built["ids"][order]
    built["slot_slots"] = order.astype(np.int32)
    # Word ids in order of first appearance, names before companies.
    vocabulary: dict[str, int] = {}
    forward: dict[str, tuple[NDArray[np.int32], NDArray[np.int64]]] = {}
    for name, field in WORD_FIELDS.items():
        word_ids = array("i")
        counts = np.zeros(size, dtype=np.int64)
        done = 0
        for texts in _column(records, field):
            # Normalised text has single spaces and no padding, so words = spaces + 1.
            counts[done : done + len(texts)] = [t.count(" ") + 1 if t else 0 for t in texts]
            done += len(texts)
            word_ids.extend([vocabulary.setdefault(w, len(vocabulary)) for w in " ".join(texts).split()])
        forward[name] = (np.frombuffer(word_ids, dtype=np.int32).copy(), counts)
    for name, (word_ids_array, counts) in forward.items():
        built[f"{name}_forward"] = word_ids_array
        built[f"{name}_forward_ends"] = np.cumsum(counts)
        built[f"{name}_postings"], built[f"{name}_posting_offsets"] = _postings(
            word_ids_array, counts, len(vocabulary)
        )
    del forward
    words = list(vocabulary)
    del vocabulary
    built["words"] = np.frombuffer("\n".join(words).encode(), dtype=np.uint8)
    built["word_order"] = np.array(sorted(range(len(words)), key=words.__getitem__), dtype=np.int32)
    built["word_weights"] = word_weights_of(words)
    built["variant_keys"], built["variant_owners"] = _variants(words)
    for name, field in SORTED_FIELDS.items():
        keys = [key for texts in _column(records, field) for key in texts]
        built[f"sorted_{name}"] = _sorted_slots(keys)
        if field == PHONE:
            built["sorted_phone_suffix"] = _sorted_slots([key[::-1] for key in keys])
    return built


def words_of(arrays: Arrays) -> list[str]:
    data = arrays["words"].tobytes()
    return data.decode().split("\n") if data else []


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise BadArrays(what)


def _within(values: NDArray[Any], stop: int) -> bool:
    return not len(values) or (int(values.min()) >= 0 and int(values.max()) < stop)


def _rising(values: NDArray[Any]) -> bool:
    return len(values) < 2 or bool(np.all(values[1:] >= values[:-1]))


def check_arrays(arrays: Arrays) -> None:
    """Raise BadArrays unless these arrays fit together as one index: every name present with
    its type, sizes that agree, offsets that rise, ids and slots within bounds.  A checksum
    shows a file is as written; this shows what was written can be searched without errors."""
    for name, dtype in ARRAYS.items():
        value = arrays.get(name)
        _require(value is not None and value.ndim == 1 and value.dtype == np.dtype(dtype), f"{name}: type")
    size = len(arrays["ids"])
    for name in ("record_ends", "slot_ids", "slot_slots"):
        _require(len(arrays[name]) == size, f"{name}: length")
    ends = arrays["record_ends"]
    _require(_rising(ends) and (not size or int(ends[-1]) == len(arrays["records"])), "record_ends")
    _require(_rising(arrays["slot_ids"]) and _within(arrays["slot_slots"], size), "slot map")
    words = words_of(arrays)
    vocabulary = len(words)
    _require(len(set(words)) == vocabulary and all(words), "words")
    order = arrays["word_order"]
    _require(len(order) == vocabulary and _within(order, vocabulary), "word_order")
    _require(len(arrays["word_weights"]) == vocabulary, "word_weights")
    _require(len(arrays["variant_keys"]) == len(arrays["variant_owners"]), "variants: length")
    _require(_rising(arrays["variant_keys"]) and _within(arrays["variant_owners"], vocabulary), "variants")
    for field in WORD_FIELDS:
        offsets = arrays[f"{field}_posting_offsets"]
        postings = arrays[f"{field}_postings"]
        _require(len(offsets) == vocabulary + 1 and _rising(offsets), f"{field} postings: offsets")
        _require(int(offsets[0]) == 0 and int(offsets[-1]) == len(postings), f"{field} postings: ends")
        _require(_within(postings, size), f"{field} postings: slots")
        forward_ends = arrays[f"{field}_forward_ends"]
        forward = arrays[f"{field}_forward"]
        _require(len(forward_ends) == size and _rising(forward_ends), f"{field} forward: ends")
        _require((int(forward_ends[-1]) if size else 0) == len(forward), f"{field} forward: length")
        _require(_within(forward, vocabulary), f"{field} forward: words")
    for name in (*(f"sorted_{field}" for field in SORTED_FIELDS), "sorted_phone_suffix"):
        _require(len(arrays[name]) <= size and _within(arrays[name], size), name)
