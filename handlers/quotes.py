"""Typographic quotes read as ASCII ones for parsing, and a reading of the text given back the
quotes as they were typed."""

from __future__ import annotations

from difflib import SequenceMatcher

# One ASCII character for each, so the plain text stays aligned with the typed one, position by
# position. Phones type ’ for ', and “ ” „ « » for " (depending on the keyboard's language).
_SINGLE = "\u2018\u2019\u201a\u201b\u2032\u2035\u2039\u203a\u02bb\u02bc\u02bd\u00b4\uff07"
_DOUBLE = "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb\u02ee\uff02"
_PLAIN = str.maketrans({**dict.fromkeys(_SINGLE, "'"), **dict.fromkeys(_DOUBLE, '"')})
# Shorter runs shared by a reading and the text can be coincidence (a quote the reading added).
_MIN_RUN = 3


def plain_quotes(text: str) -> str:
    """``what’s “new”`` -> ``what's "new"``: the same length, only quote characters changed."""
    return text.translate(_PLAIN)


def as_typed(derived: str, *, typed: str) -> str:
    """``derived`` (made from ``plain_quotes(typed)``, e.g. a reading's command) with the quotes
    of every stretch copied from the text put back as they were typed, so a note keeps "it’s"."""
    plain = plain_quotes(typed)
    if plain == typed:
        return derived
    restored = list(derived)
    matcher = SequenceMatcher(None, plain, derived, autojunk=False)
    for start, at, size in matcher.get_matching_blocks():
        if size < _MIN_RUN:
            continue
        for k in range(size):
            restored[at + k] = typed[start + k]
    return "".join(restored)
