"""Button ids ``crm:<verb>:<id>``: opaque ids only, never names, and at most 64 bytes."""

from __future__ import annotations

import re
from dataclasses import dataclass

PREFIX = "crm"
MAX_BYTES = 64  # Telegram's callback_data limit; Slack allows more, we use the smaller
_VERB = re.compile(r"^[a-z][a-z0-9-]{0,23}$")
_VALUE = re.compile(r"^[A-Za-z0-9_\-.]{0,34}$")


@dataclass(frozen=True, slots=True)
class Action:
    verb: str
    value: str


def encode(verb: str, value: object = "") -> str:
    text = str(value)
    if not _VERB.match(verb) or not _VALUE.match(text):
        raise ValueError("button ids carry a short verb and an opaque id only")
    packed = f"{PREFIX}:{verb}:{text}"
    if len(packed.encode()) > MAX_BYTES:
        raise ValueError("button id over 64 bytes")
    return packed


def decode(packed: str) -> Action | None:
    """The action, or None for anything not made by ``encode`` (forged or foreign data)."""
    parts = packed.split(":", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    verb, value = parts[1], parts[2]
    if not _VERB.match(verb) or not _VALUE.match(value) or len(packed.encode()) > MAX_BYTES:
        return None
    return Action(verb=verb, value=value)
