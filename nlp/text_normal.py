"""Normalising names, emails and phone numbers so that case, accents and punctuation never matter."""

from __future__ import annotations

import re
import unicodedata

# Letters that NFKD does not decompose into "base letter + mark" but that people still type
# as plain ASCII ("Łukasz" -> "lukasz", "Søren" -> "soren").  Applied after casefolding,
# so only lower-case forms are needed.
_LETTER_FOLDS = str.maketrans(
    {
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŀ": "l",
        "ĸ": "k",
    }
)
# Apostrophes join rather than split: users type "OBrien", "O'Brien" and "O’Brien" alike.
_APOSTROPHES = re.compile(r"['’`´ʼ]")
# Everything that is not a letter or digit (underscore included) separates words.
_SEPARATORS = re.compile(r"[\W_]+")
_NON_DIGITS = re.compile(r"\D+")
# What may surround the digits of a phone number typed as a query.
_PHONE_CHARS = re.compile(r"[\s+\-().\u2010-\u2015/]+")
# Characters that show up in email addresses but almost never in names.
_EMAIL_MARKS = frozenset("@._+")
MIN_PHONE_DIGITS = 4


def fold(text: str) -> str:
    """Casefold and strip accents, keeping every other character."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    decomposed = unicodedata.normalize("NFKD", folded)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return bare.translate(_LETTER_FOLDS)


def normalize(text: str) -> str:
    """Folded words separated by single spaces: the form names and companies are compared in."""
    folded = fold(text)
    if not folded.isascii() or "'" in folded or "`" in folded:
        folded = _APOSTROPHES.sub("", folded)
    return _SEPARATORS.sub(" ", folded).strip()


def normalize_email(text: str) -> str:
    """An email address as compared: folded, without surrounding or inner whitespace."""
    return "".join(fold(text).split())


def phone_digits(text: str) -> str:
    """The ASCII digits of a phone number ("+1 (555) 010-0" -> "15550100")."""
    digits = _NON_DIGITS.sub("", text)
    if digits.isascii():
        return digits
    # Other scripts' digits (e.g. Arabic-Indic) count too, as their ASCII value.
    return "".join(str(unicodedata.decimal(ch)) for ch in digits)


def looks_like_phone(text: str) -> bool:
    """True for text made only of digits and phone punctuation, with enough digits to dial."""
    stripped = _PHONE_CHARS.sub("", text)
    return len(stripped) >= MIN_PHONE_DIGITS and stripped.isdecimal()


def looks_like_email(text: str) -> bool:
    """True for one word that carries email punctuation ("ann@x.io", "ann.lee", "a_lee")."""
    word = text.strip()
    return (
        bool(word)
        and len(word.split()) == 1
        and any(ch in _EMAIL_MARKS for ch in word)
        and any(ch.isalpha() for ch in word)
    )
