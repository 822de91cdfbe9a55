"""Opaque cursors for list endpoints: where the last page ended, base64url of a small JSON."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from bot.api.errors import FieldError, invalid

T = TypeVar("T")

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def utc_time(value: datetime, field: str) -> datetime:
    """``value`` in UTC, or a 422 naming ``field``: it needs a zone, and a year-1 time east of
    UTC (or year-9999 west of it) has no UTC time at all."""
    if value.tzinfo is None:
        raise invalid([FieldError(field=field, message="give a time zone, e.g. 2026-01-31T09:00:00Z")])
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise invalid([FieldError(field=field, message="out of range")]) from None


def encode(moment: datetime, last_id: int) -> str:
    raw = json.dumps([moment.isoformat(), last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None) -> tuple[datetime, int] | None:
    """The (updated_at, id) a cursor holds; a 422 naming ``cursor`` when it is not ours."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, last_id = json.loads(raw)
        when = datetime.fromisoformat(moment)
        if not isinstance(last_id, int) or not 0 <= last_id < 2**63 or when.tzinfo is None:
            raise ValueError(cursor)
        return when.astimezone(UTC), last_id
    except (ValueError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise invalid([FieldError(field="cursor", message="not a cursor this API gave")]) from None


def encode_id(last_id: int) -> str:
    """A cursor for lists in id order."""
    return base64.urlsafe_b64encode(json.dumps(["id", last_id]).encode()).decode().rstrip("=")


def decode_id(cursor: str | None) -> int:
    """The id a list in id order continues after (0 for the first page)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, last_id = json.loads(raw)
        if kind != "id" or not isinstance(last_id, int) or not 0 <= last_id < 2**63:
            raise ValueError(cursor)
        return last_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise invalid([FieldError(field="cursor", message="not a cursor this API gave")]) from None


def page_of(rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> tuple[list[T], str | None]:
    """The page in ``rows`` (fetched as ``limit`` + 1, so one more means there is a next page)
    and the cursor after its last row; None on the last page."""
    page = list(rows[:limit])
    return page, cursor_of(page[-1]) if len(rows) > limit else None
