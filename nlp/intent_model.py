"""The fitted intent classifier as plain arrays: shipped beside its phrases, scored without scikit-learn."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODEL_PATH", "CompiledIntents", "arrays", "digest_of", "load", "save"]

MODEL_PATH = Path(__file__).parent / "data" / "intents_model.npz"
# Bump when the features change: a model saved by other code is never used.
FORMAT = "intents-1"
_WORD_TOKEN = re.compile(r"(?u)\b\w[\w'-]*\b")
_WHITE_SPACES = re.compile(r"\s\s+")
_LETTERS = re.compile(r"[^\W\d_]+")
_WORDS = re.compile(r"\w[\w'-]*")


def digest_of(training: Path) -> str:
    """What a saved model was fitted on: the training phrases and the feature code's format."""
    return hashlib.sha256(FORMAT.encode() + training.read_bytes()).hexdigest()


def _word_grams(text: str) -> list[str]:
    tokens = _WORD_TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def _char_grams(text: str, longest: int) -> list[str]:
    """scikit-learn's ``char_wb`` n-grams (1..longest), edge-padded inside each word."""
    grams: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(1, longest + 1):
            grams.extend(padded[i : i + n] for i in range(max(size - n + 1, 1)))
            if size <= n:
                break  # a short word is counted once, as scikit-learn does
    return grams


@dataclass(frozen=True, slots=True)
class _Part:
    vocabulary: dict[str, int]
    idf: Any  # float64 array
    offset: int

    def add(self, grams: list[str], into: dict[int, float]) -> None:
        """Sublinear tf-idf of the known grams, l2-normalised, at this part's feature offset."""
        counts = Counter(g for g in grams if g in self.vocabulary)
        values = {
            self.vocabulary[g]: (1.0 + math.log(c)) * self.idf[self.vocabulary[g]] for g, c in counts.items()
        }
        norm = math.sqrt(sum(v * v for v in values.values()))
        if norm:
            for k, v in values.items():
                into[self.offset + k] = v / norm


class CompiledIntents:
    """The same answers as the fitted scikit-learn pipeline (word 1-2-grams and char_wb 1-5-grams,
    sublinear tf-idf, one-vs-rest logistic regression), from its saved numbers."""

    def __init__(self, arrays: dict[str, Any]) -> None:
        words = [str(t) for t in arrays["word_terms"]]
        chars = [str(t) for t in arrays["char_terms"]]
        self._words = _Part(dict(zip(words, range(len(words)), strict=True)), arrays["word_idf"], 0)
        self._chars = _Part(dict(zip(chars, range(len(chars)), strict=True)), arrays["char_idf"], len(words))
        self._longest = int(arrays["char_longest"])
        self._weights = arrays["weights"]
        self._bias = arrays["bias"]
        self._classes = [str(c) for c in arrays["classes"]]
        self.word_vocabulary = frozenset(words)

    def known_words(self, prepared: str) -> int:
        return sum(1 for w in _WORDS.findall(prepared) if w in self.word_vocabulary)

    def rank(self, prepared: str) -> list[tuple[str, float]]:
        """(intent, probability) pairs, likeliest first."""
        features: dict[int, float] = {}
        self._words.add(_word_grams(prepared), features)
        self._chars.add(_char_grams(prepared, self._longest), features)
        if features:
            rows = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
            values = np.fromiter(features.values(), dtype=np.float64, count=len(features))
            scores = values @ self._weights[rows] + self._bias
        else:
            scores = np.array(self._bias, dtype=np.float64)
        sigmoid = 1.0 / (1.0 + np.exp(-scores))
        probabilities = sigmoid / sigmoid.sum()
        pairs = [(label, float(p)) for label, p in zip(self._classes, probabilities, strict=True)]
        return sorted(pairs, key=lambda pair: -pair[1])


def arrays(*, digest: str, features: Any, weights: Any, bias: Any, classes: list[str]) -> dict[str, Any]:
    """A fitted pipeline's numbers: its two vectorizers' terms and idf, weights and bias."""
    word, char = (vectorizer for _, vectorizer in features.transformer_list)
    return {
        "digest": np.array(digest),
        "word_terms": np.array(sorted(word.vocabulary_, key=word.vocabulary_.__getitem__)),
        "word_idf": np.asarray(word.idf_, dtype=np.float64),
        "char_terms": np.array(sorted(char.vocabulary_, key=char.vocabulary_.__getitem__)),
        "char_idf": np.asarray(char.idf_, dtype=np.float64),
        "char_longest": np.array(char.ngram_range[1]),
        "weights": np.asarray(weights, dtype=np.float64),
        "bias": np.asarray(bias, dtype=np.float64),
        "classes": np.array(classes),
    }


def save(path: Path, numbers: dict[str, Any]) -> None:
    """Write the numbers; the same fit always writes the same arrays."""
    with path.open("wb") as out:
        np.savez_compressed(out, **numbers)


def load(path: Path, *, digest: str) -> CompiledIntents | None:
    """The saved model when it was fitted on these phrases by this code; else None."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["digest"]) != digest:
                return None
            return CompiledIntents({key: saved[key] for key in saved.files})
    except (OSError, KeyError, ValueError):
        return None
