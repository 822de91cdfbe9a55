"""sklearn ``char_wb`` n-gram vocabulary columns of many words at once, found as integer keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

# Keys are base-(alphabet + 1) numbers; they must stay clear of int64 overflow.
_KEY_LIMIT: Final = 2**62


class CharNgramColumns:
    """Finds which ``char_wb`` n-grams of words are in a fitted vectoriser's vocabulary.

    sklearn pads each word with one space on either side and takes every n-gram of it for n
    in ``ngram_range`` (a padded word shorter than n counts once, whole, and ends the series;
    with ``min_n <= 3`` that whole word is exactly its only n-gram of its own length, so
    sliding windows give the same grams). Here each character becomes its rank in the
    vocabulary's alphabet (0 for any other character, which no gram holds), each window a
    base-(alphabet + 1) number, and the lookup one sorted search per n for all words at once.
    ``columns_of`` answers for one word gram by gram from the vocabulary instead: the same
    answer, cheaper for a handful of words than the search's fixed cost (some sixty numpy
    calls).
    """

    def __init__(self, vocabulary: Mapping[str, int], ngram_range: tuple[int, int]) -> None:
        self._min_n, self._max_n = ngram_range
        if not 1 <= self._min_n <= 3 or self._max_n < self._min_n:
            raise ValueError(f"n-gram range {ngram_range} is not supported (min_n must be 1-3)")
        self._vocabulary = vocabulary
        grams = list(vocabulary)
        self._alphabet = np.unique(_code_points("".join(grams)))
        self._base = len(self._alphabet) + 1
        if self._base**self._max_n >= _KEY_LIMIT:
            raise ValueError(f"{len(self._alphabet)} distinct characters are too many for integer keys")
        lengths = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
        if grams and (lengths.min() < self._min_n or lengths.max() > self._max_n):
            raise ValueError("the vocabulary holds grams outside the n-gram range")
        keys = self._gram_keys("".join(grams), lengths)
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(grams))
        self._keys: dict[int, IntArray] = {}
        self._columns: dict[int, IntArray] = {}
        for n in range(self._min_n, self._max_n + 1):
            of_length = lengths == n
            order = np.argsort(keys[of_length])
            self._keys[n] = keys[of_length][order]
            self._columns[n] = columns[of_length][order]

    def _digits(self, codes: IntArray) -> IntArray:
        rank = np.minimum(np.searchsorted(self._alphabet, codes), len(self._alphabet) - 1)
        known = self._alphabet[rank] == codes if len(self._alphabet) else np.zeros(len(codes), bool)
        return np.where(known, rank + 1, 0)

    def _gram_keys(self, joined: str, lengths: IntArray) -> IntArray:
        if not len(lengths):
            return np.zeros(0, dtype=np.int64)
        digits = self._digits(_code_points(joined))
        starts = np.cumsum(lengths) - lengths
        place = np.arange(len(digits)) - np.repeat(starts, lengths)
        powers = np.power(self._base, np.repeat(lengths, lengths) - 1 - place)
        keys: IntArray = np.add.reduceat(digits * powers, starts)
        return keys

    def columns(self, words: Sequence[str]) -> tuple[IntArray, IntArray]:
        """``(word index, column)`` for every in-vocabulary n-gram occurrence in ``words``.

        ``words`` must hold no whitespace (they are the split normalised text).
        """
        if not words:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        padded = " " + "  ".join(words) + " "
        digits = self._digits(_code_points(padded))
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        word_of = np.repeat(np.arange(len(words)), lengths)
        end_of = np.repeat(np.cumsum(lengths), lengths)
        index = np.arange(len(digits))
        keys = digits.copy()
        known = digits > 0
        found_words: list[IntArray] = []
        found_columns: list[IntArray] = []
        for n in range(1, self._max_n + 1):
            windows = len(digits) - n + 1
            if windows <= 0:
                break
            if n > 1:
                # Grow every window by the character after it (the tail positions drop out).
                keys = keys[:windows] * self._base + digits[n - 1 :]
                known = known[:windows] & (digits[n - 1 :] > 0)
            if n < self._min_n:
                continue
            inside = known & (index[:windows] + n <= end_of[:windows])
            candidates = keys[inside]
            table = self._keys[n]
            if not len(table):
                continue
            slot = np.minimum(np.searchsorted(table, candidates), len(table) - 1)
            hit = table[slot] == candidates
            found_words.append(word_of[:windows][inside][hit])
            found_columns.append(self._columns[n][slot[hit]])
        if not found_words:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return np.concatenate(found_words), np.concatenate(found_columns)

    def columns_of(self, word: str) -> list[int]:
        """The columns of one word's in-vocabulary n-grams, building each gram as sklearn does."""
        padded = f" {word} "
        length = len(padded)
        grams: list[str] = []
        for n in range(self._min_n, self._max_n + 1):
            if length <= n:  # a word shorter than n counts once, whole, and ends the series
                grams.append(padded)
                break
            grams += [padded[start : start + n] for start in range(length - n + 1)]
        return [column for column in map(self._vocabulary.get, grams) if column is not None]


def _code_points(text: str) -> IntArray:
    # "surrogatepass": a lone surrogate is a character like any other (and in no gram).
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
