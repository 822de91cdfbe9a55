"""The kinds of `report NAME [days]`: a registry of name -> async builder, so that an area adds
its report with one ``register(...)`` line in its own module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from crm_store.store import Store
from handlers.messages import Reply


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """What a report builder is asked for: the period [since, until), the reader's zone, and
    whose customers it may cover (``owner_filter``: a rep's own and unowned ones; None: all)."""

    store: Store
    days: int
    since: datetime
    until: datetime
    tz: ZoneInfo
    owner_filter: int | None = None

    @property
    def period_words(self) -> str:
        return f"last {self.days} day{'s' if self.days != 1 else ''}"

    def title(self, name: str) -> str:
        return f"{name.capitalize()} report, {self.period_words}"


ReportBuilder = Callable[[ReportRequest], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class ReportKind:
    name: str
    build: ReportBuilder
    summary: str
    default_days: int = 30


_KINDS: dict[str, ReportKind] = {}


def register(kind: ReportKind) -> ReportKind:
    """Add ``kind``; a second kind under one name is a programming error."""
    if not kind.name.isascii() or not kind.name.isalpha() or kind.name != kind.name.lower():
        raise ValueError(f"report name {kind.name!r} must be lower-case ASCII letters")
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"report {kind.name!r} registered twice")
    _KINDS[kind.name] = kind
    return kind


def get(name: str) -> ReportKind | None:
    return _KINDS.get(name)


def names() -> list[str]:
    """Every registered name, alphabetically."""
    return sorted(_KINDS)
