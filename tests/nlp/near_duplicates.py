"""Near-duplicates between training and evaluation text: both sides normalised (Unicode form,
case, quotes, punctuation, spacing; numbers and the given names masked) and compared with
rapidfuzz, so a phrase that differs from a trained one only by a name, a number, a typo or its
punctuation counts as seen in training."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# A ratio this high is a copy with a word or a few letters changed ("show ticket 57" /
# "show ticket 150", "my remindrs" / "my reminders").
SIMILAR = 90.0
NAME = "somebody"  # what a masked name reads as: a word of its own, found in no phrase
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "´": "'", "`": "'"})


@dataclass(frozen=True, slots=True)
class NearDuplicate:
    evaluated: str
    trained: str
    score: float


def normalise(text: str, *, names: Iterable[str] = ()) -> str:
    """``text`` casefolded with the ``names`` masked, punctuation gone, every number 0 and
    spaces collapsed; text that is nothing but punctuation or emoji keeps those."""
    folded = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    for name in sorted({n.casefold().strip() for n in names if n.strip()}, key=len, reverse=True):
        folded = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", f" {NAME} ", folded)
    words = re.sub(r"\d+", "0", re.sub(r"[^\w\s]", " ", folded)).split()
    return " ".join(words) if words else " ".join(folded.split())


def near_duplicates(
    evaluated: Sequence[str], trained: Sequence[str], *, threshold: float = SIMILAR
) -> list[NearDuplicate]:
    """Each normalised evaluation text whose closest training text scores ``threshold`` or
    more, by edit ratio or by the same ratio over sorted words (a reordered copy)."""
    found = []
    pool = list(dict.fromkeys(trained))
    for text in evaluated:
        best = None
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            match = process.extractOne(text, pool, scorer=scorer, score_cutoff=threshold)
            if match is not None and (best is None or match[1] > best.score):
                best = NearDuplicate(text, match[0], float(match[1]))
        if best is not None:
            found.append(best)
    return found
