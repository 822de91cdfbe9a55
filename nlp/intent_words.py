"""Words and patterns shared by the intent classifier and its slot rules: typo-tolerant
keywords, e-mail addresses, @mentions and numbers."""

from __future__ import annotations

import re
from functools import lru_cache

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
MENTION = re.compile(r"(?<![\w])@[\w][\w.-]*")
NUMBER = re.compile(r"[$€£]?\d[\d,.]*k?\b")

# Words reps misspell that carry the intent. A typo within one edit of one of these
# ("reslove", "tiket", "shwo") is read as the word; customer names are never rewritten.
_KEYWORD_TEXT = """
    help find search show open display add create update change edit rename log call called
    email emailed meeting note notes timeline history order ordered remind reminder reminders
    done snooze postpone tickets ticket assign reply respond resolve resolved reopen invite
    loyalty loyal churn risk digest report summary satisfaction activity customer customers
    contact contacts client account record phone status owner company tags complete finished
    follow schedule tomorrow today tonight monday tuesday wednesday thursday friday saturday
    sunday minutes hours week please details profile purchase bought telegram issue issues
"""
_KEYWORDS = frozenset(_KEYWORD_TEXT.split())


@lru_cache(maxsize=4096)
def canonical(word: str) -> str:
    """word lowercased, or the one keyword it is a typo of."""
    from rapidfuzz.distance import OSA

    low = word.lower()
    if len(low) < 4 or low in _KEYWORDS or not low.isalpha():
        return low
    close = [k for k in _KEYWORDS if abs(len(k) - len(low)) <= 1 and OSA.distance(low, k) <= 1]
    return close[0] if len(close) == 1 else low
