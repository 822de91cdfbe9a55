"""Pure helpers for export and erasure: rows as JSON, who sent a raw update, scrubbing mentions."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

ERASED = "[erased]"
# Keys under which a raw platform update names a person (Telegram ``from``/``chat``, Slack ``user``).
_SENDER_KEYS = frozenset({"from", "chat", "user", "sender_chat"})


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 strings, ready for ``json.dumps``."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def senders(payload: Any) -> set[str]:
    """Every person id a raw update names as its sender or chat, as strings."""
    found: set[str] = set()
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if key in _SENDER_KEYS:
                if isinstance(value, Mapping) and "id" in value:
                    found.add(str(value["id"]))
                elif isinstance(value, str | int) and not isinstance(value, bool):
                    found.add(str(value))
            found |= senders(value)
    elif isinstance(payload, list):
        for item in payload:
            found |= senders(item)
    return found


def mention_patterns(
    *, email: str, phone: str, name: str, customer_id: int, text: str
) -> list[re.Pattern[str]]:
    """What to blank in ``text`` (a push written for someone else, e.g. a digest): the email and
    phone wherever they are, the name only beside the customer's ``#id`` (a bare first name
    could be anybody)."""
    patterns = [re.compile(re.escape(v), re.IGNORECASE) for v in (email, phone) if len(v) >= 5]
    if len(name) >= 3 and re.search(rf"#{customer_id}\b", text):
        patterns.append(re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE))
    return patterns


def scrub(value: Any, patterns: Iterable[re.Pattern[str]]) -> Any:
    """``value`` (decoded JSON) with every match of ``patterns`` in its strings replaced by ERASED."""
    patterns = list(patterns)
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(ERASED, value)
        return value
    if isinstance(value, Mapping):
        return {k: scrub(v, patterns) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, patterns) for v in value]
    return value


def mentions_id(text: str, customer_id: int) -> bool:
    return re.search(rf"#{customer_id}\b", text) is not None
