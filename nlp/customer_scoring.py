"""How well a query matches customer fields: exact, then prefix, then fuzzy, on one 0..100 scale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from nlp.text_normal import (
    looks_like_email,
    looks_like_phone,
    normalize,
    normalize_email,
    phone_digits,
)

FIELDS = ("name", "company", "email", "phone")
EXACT_SCORE = 100.0
# Tiers: exact = 100, prefix in (90, 99), fuzzy in [0, 90].  A prefix hit therefore always
# outranks a fuzzy one, and the tiers never overlap however the fuzzy part is tuned.
PREFIX_FLOOR = 90.0
PREFIX_SPAN = 9.0
FUZZY_CEILING = 90.0
# Same number with and without a country/trunk prefix ("+1 555 0100" vs "555 0100").
NATIONAL_PHONE_SCORE = 98.0
MIN_NATIONAL_DIGITS = 7

_FUZZY_SCALE = np.float32(FUZZY_CEILING / 100.0)

Scores = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Query:
    """A search string in the forms it is compared in; empty forms take no part."""

    text: str
    email: str = ""
    digits: str = ""

    @classmethod
    def parse(cls, raw: str) -> Query:
        email = normalize_email(raw) if looks_like_email(raw) else ""
        digits = phone_digits(raw) if looks_like_phone(raw) else ""
        return cls(text=normalize(raw), email=email, digits=digits)

    def __bool__(self) -> bool:
        return bool(self.text or self.email or self.digits)


def prefix_score(query_len: int, field_len: int) -> float:
    """A prefix hit covering more of the field ranks higher; a 1-char prefix still beats fuzzy."""
    return PREFIX_FLOOR + PREFIX_SPAN * query_len / field_len


def _apply_tiers(scores: Scores, query: str, column: Sequence[str]) -> None:
    # Only prefix hits need Python work, and startswith is cheap enough to run over a
    # full column in the reference scan.
    size = len(query)
    for i, value in enumerate(column):
        if value.startswith(query):
            scores[i] = EXACT_SCORE if len(value) == size else prefix_score(size, len(value))


# Legal forms and generic company words: a query that leaves them out, or a record that
# adds them, says little about who is meant ("Blue Harbor" vs "Blue Harbor Group Inc").
NOISE_WORDS = frozenset(
    (
        *("inc", "llc", "ltd", "gmbh", "ag", "sa", "co", "corp", "corporation", "company", "group"),
        *("holdings", "holding", "partners", "international", "enterprises", "limited", "plc"),
        *("bv", "nv", "srl", "spa", "oy", "ab", "as", "kg", "sarl", "the", "and", "of"),
    )
)
NOISE_WEIGHT = 0.3
# Word similarity (rapidfuzz ratio, 0..1) at or below this earns nothing: unrelated words
# share a few letters by chance.  Tuned on generated books: 0.4 found every intended
# customer of 600 at 100k; 0.3 and 0.5 one fewer, 0.6 four fewer.
WORD_FLOOR = 0.4
# Share of the score from covering the query's words; the rest from covering the record's,
# so that a record with fewer unexplained words ranks higher.
QUERY_SHARE = 0.8
# The spaceless strings are compared too, at a discount, so that run-together or split
# words still match ("johnsmith", "mc donald"); at 0.9 it cost no recall on typo'd queries.
JOINED_WEIGHT = 0.9


def word_weight(word: str) -> float:
    """How much a word counts in alignment: long words say more, legal forms little."""
    return len(word) * (NOISE_WEIGHT if word in NOISE_WORDS else 1.0)


def word_weights_of(words: Sequence[str] | NDArray[np.object_]) -> NDArray[np.float64]:
    return np.fromiter(map(word_weight, words), dtype=np.float64, count=len(words))


class WordColumn:
    """One text field of many records as flat word arrays, for the aligned-words score.

    `words` are the distinct words, `word_ids` each record's words in order (indices into
    `words`), `counts` how many words each record has.  `texts` (the whole field strings)
    are only needed for the whole-string parts of `score_columns`.
    """

    def __init__(
        self,
        words: Sequence[str] | NDArray[np.object_],
        word_ids: NDArray[np.int64],
        counts: NDArray[np.int64],
        texts: Sequence[str] = (),
        word_weights: NDArray[np.float64] | None = None,
    ) -> None:
        self.texts = texts
        self.words = words
        self.word_ids = word_ids
        self.counts = counts
        if word_weights is None:  # the index passes weights it keeps per dictionary word
            word_weights = word_weights_of(words)
        self.weights = word_weights[word_ids]
        # Segment starts of the records that have words (reduceat needs non-empty segments).
        self.has_words = counts > 0
        self.starts = (np.cumsum(counts) - counts)[self.has_words]
        self.weight_totals = np.add.reduceat(self.weights, self.starts) if len(self.starts) else np.zeros(0)
        self._joined: list[str] | None = None

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> WordColumn:
        ids: dict[str, int] = {}
        split = [text.split() for text in texts]
        counts = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
        word_ids = np.fromiter(
            (ids.setdefault(w, len(ids)) for words in split for w in words),
            dtype=np.int64,
            count=int(counts.sum()),
        )
        return cls(list(ids), word_ids, counts, texts)

    @property
    def joined(self) -> list[str]:
        """The texts without spaces (computed once: a full scan reuses it for every query)."""
        if self._joined is None:
            self._joined = [text.replace(" ", "") for text in self.texts]
        return self._joined

    def __len__(self) -> int:
        return len(self.counts)


def aligned_scores(query_words: Sequence[str], column: WordColumn) -> NDArray[np.float64]:
    """0..100 by aligning each query word with its most similar record word, and back.

    Word order does not matter and a typo only costs its own word, unlike token_sort,
    where one typo in a first letter reorders the sorted string.
    """
    scores = np.zeros(len(column), dtype=np.float64)
    if not query_words or not len(column.starts):
        return scores
    # Scores under the floor earn nothing, so rapidfuzz may give up on them early (0).
    similarity = (
        cdist(query_words, column.words, scorer=fuzz.ratio, dtype=np.float32, score_cutoff=100.0 * WORD_FLOOR)
        / 100.0
    )
    credit = np.where(similarity > WORD_FLOOR, similarity, np.float32(0.0))  # query x word
    word_ids, starts = column.word_ids, column.starts
    covered = np.zeros(len(starts), dtype=np.float64)
    query_weights = [word_weight(w) for w in query_words]
    # An explicit loop (not a matrix product) keeps the summation order fixed, so a record
    # scores the same whether it is scored alone, among candidates or in a full scan.
    for weight, row in zip(query_weights, credit, strict=True):
        covered += weight * np.maximum.reduceat(row[word_ids], starts)
    query_cover = covered / sum(query_weights)
    # Best credit of each distinct word first, then per position: same numbers as a max over
    # a query-word x position matrix, without building it.
    record_credit = credit.max(axis=0)[word_ids] * column.weights
    record_cover = np.add.reduceat(record_credit, starts) / column.weight_totals
    scores[column.has_words] = 100.0 * (QUERY_SHARE * query_cover + (1.0 - QUERY_SHARE) * record_cover)
    return scores


def _words_scores(query: str, column: WordColumn, workers: int) -> Scores:
    aligned = aligned_scores(query.split(), column)
    if JOINED_WEIGHT:
        joined = cdist(
            [query.replace(" ", "")], column.joined, scorer=fuzz.ratio, dtype=np.float32, workers=workers
        )[0]
        aligned = np.maximum(aligned, JOINED_WEIGHT * joined)
    scores: Scores = aligned.astype(np.float32) * _FUZZY_SCALE
    _apply_tiers(scores, query, column.texts)
    return scores


def _email_scores(query: str, column: Sequence[str], workers: int) -> Scores:
    scores: Scores = cdist([query], column, scorer=fuzz.ratio, dtype=np.float32, workers=workers)[0]
    scores *= _FUZZY_SCALE
    _apply_tiers(scores, query, column)
    return scores


def same_number(first: str, second: str) -> bool:
    """Digits of one number written with and without country code or trunk "0".

    "+1 555 0100" / "555 0100" and "+44 20 7946 0958" / "020 7946 0958" are the same
    number; the shorter must still have MIN_NATIONAL_DIGITS digits to count.
    """
    first, second = first.removeprefix("0"), second.removeprefix("0")
    return min(len(first), len(second)) >= MIN_NATIONAL_DIGITS and (
        first.endswith(second) or second.endswith(first)
    )


def _phone_scores(digits: str, column: Sequence[str]) -> Scores:
    # Phones match by digits only, never fuzzily: two random numbers share many digits,
    # so an edit-distance score would rank strangers.
    scores: Scores = np.zeros(len(column), dtype=np.float32)
    size = len(digits)
    for i, value in enumerate(column):
        if not value:
            continue
        if value == digits:
            scores[i] = EXACT_SCORE
        elif same_number(value, digits):
            scores[i] = NATIONAL_PHONE_SCORE
        elif value.startswith(digits) or value.endswith(digits):
            scores[i] = prefix_score(size, len(value))
    return scores


def score_columns(
    query: Query,
    names: WordColumn | Sequence[str],
    companies: WordColumn | Sequence[str],
    emails: Sequence[str],
    phones: Sequence[str],
    *,
    workers: int = 1,
) -> tuple[Scores, NDArray[np.intp]]:
    """Best score per record and the index into FIELDS of the field that gave it.

    The index ranks its candidates with this and the reference full scan ranks every
    record with it, so both agree exactly on any record they both look at.
    """
    size = len(names)
    if not isinstance(names, WordColumn):
        names = WordColumn.from_texts(names)
    if not isinstance(companies, WordColumn):
        companies = WordColumn.from_texts(companies)
    zeros: Scores = np.zeros(size, dtype=np.float32)
    per_field = [
        _words_scores(query.text, names, workers) if query.text and size else zeros,
        _words_scores(query.text, companies, workers) if query.text and size else zeros,
        _email_scores(query.email, emails, workers) if query.email and size else zeros,
        _phone_scores(query.digits, phones) if query.digits and size else zeros,
    ]
    stacked = np.vstack(per_field)
    # argmax takes the first maximum, so ties go to name, then company, email, phone.
    best_field = stacked.argmax(axis=0)
    best: Scores = stacked[best_field, np.arange(size)]
    return best, best_field
