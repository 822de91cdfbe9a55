"""Ids in paths: anything no row can have (beyond 64 bits, zero, negative) is a 404, never a 500."""

from __future__ import annotations

from bot.api.errors import ApiError

MAX_ID = 2**63 - 1  # BIGINT; SQLite's INTEGER is 64-bit too


def existing(value: int, what: str) -> int:
    if not 1 <= value <= MAX_ID:
        raise ApiError(404, "not_found", f"There is no {what} #{value}.")
    return value
