"""Quiet hours: when a customer's local night holds back a push that is not an answer to them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.errors import UserError

if TYPE_CHECKING:  # config/ validates CRM_QUIET_HOURS with parse_window and imports no store
    from crm_store.store import Tx

DEFAULT = "21:00-09:00"
OFF = "off"
# Released recipients are spread over this much of the morning, by customer id, so a night's
# backlog does not arrive as one burst at 09:00 sharp (and the order stays the same each run).
SPREAD = timedelta(minutes=20)
_WINDOW = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """From ``start`` to ``end`` local time, across midnight when ``end`` is earlier."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        moment = local.replace(tzinfo=None, fold=0)
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_window(text: str) -> QuietWindow | None:
    """``"22:00-07:00"`` as a window; ``"off"`` as None (no quiet hours). Anything else, or a
    window that starts where it ends, is a UserError saying how to write it."""
    value = text.strip().lower()
    if value == OFF:
        return None
    found = _WINDOW.match(value)
    if found is None:
        raise UserError(f"{text!r} is not quiet hours: write them like 22:00-07:00, or off for none.")
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    window = QuietWindow(time(h1, m1), time(h2, m2))
    if window.start == window.end:
        raise UserError("Quiet hours must start and end at different times (or say off for none).")
    return window


def normalise(text: str) -> str:
    """A staff-given value as stored in customers.quiet_hours ("22:00-07:00" or "off")."""
    window = parse_window(text)
    return OFF if window is None else str(window)


@dataclass(frozen=True, slots=True)
class QuietPolicy:
    """The team's quiet hours (CRM_QUIET_HOURS; None: none) and the time zone of a customer who
    has none of their own (CRM_TIMEZONE, else UTC)."""

    default: QuietWindow | None = QuietWindow(time(21, 0), time(9, 0))  # DEFAULT
    timezone: str = "UTC"

    @classmethod
    def of(cls, quiet_hours: str, timezone: str) -> QuietPolicy:
        return cls(parse_window(quiet_hours), timezone)

    def window_for(self, own: str | None) -> QuietWindow | None:
        """A customer's own setting over the team's; a stored value that no longer parses
        counts as the team's."""
        if not own:
            return self.default
        try:
            return parse_window(own)
        except UserError:
            return self.default


def quiet_until(now: datetime, window: QuietWindow | None, tz: ZoneInfo) -> datetime | None:
    """When the quiet window ``now`` falls in ends (UTC), or None if ``now`` is not in one.
    Computed on the local calendar with zoneinfo, so a DST change moves the end with the clock
    on the wall (a 09:00 end stays 09:00 local)."""
    if window is None:
        return None
    local = now.astimezone(tz)
    if not window.contains(local.time()):
        return None
    day = local.date()
    if window.start > window.end and local.time().replace(tzinfo=None, fold=0) >= window.start:
        day += timedelta(days=1)  # the evening part: the window ends tomorrow morning
    end = datetime.combine(day, window.end, tzinfo=tz)
    # A wall time skipped by a DST change (02:30 on the spring-forward night) is read by zoneinfo
    # as the offset before the change; normalising through UTC lands it just after the gap.
    return end.astimezone(now.tzinfo)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def spread(customer_id: int) -> timedelta:
    """A customer's place in the morning release, the same for every run."""
    seconds = int(SPREAD.total_seconds())
    return timedelta(seconds=(customer_id * 7919) % seconds) if seconds else timedelta(0)


async def not_before(
    tx: Tx, customer_ids: Iterable[int], *, now: datetime, policy: QuietPolicy
) -> dict[int, datetime]:
    """The customers of ``customer_ids`` in their quiet hours at ``now``, each with when a
    push to them may go: the window's end plus their spread. The others are not in the answer."""
    held: dict[int, datetime] = {}
    for customer_id, own, tz_name in await tx.customers.quiet_settings(list(customer_ids)):
        until = quiet_until(now, policy.window_for(own), zone(tz_name or policy.timezone))
        if until is not None:
            held[customer_id] = until + spread(customer_id)
    return held


async def delay_for(tx: Tx, customer_id: int, *, now: datetime, policy: QuietPolicy) -> timedelta:
    """How long a non-urgent push to ``customer_id`` waits now (zero outside quiet hours)."""
    held = (await not_before(tx, [customer_id], now=now, policy=policy)).get(customer_id)
    return timedelta(0) if held is None else held - now
