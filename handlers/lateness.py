"""Pushes due at a given time (reminders): titled "(late)" when they reach the person late."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.messages import Reply

KEY = "deadline"  # in an outbox payload, beside handlers.messages.reply_to_dict's keys
MARK = " (late)"


@dataclass(frozen=True, slots=True)
class Deadline:
    due_at: datetime
    late_after: timedelta

    def is_late(self, now: datetime) -> bool:
        return now - self.due_at > self.late_after


def with_deadline(payload: Mapping[str, Any], deadline: Deadline) -> dict[str, Any]:
    """``payload`` carrying its deadline, so the dispatcher judges lateness when it sends."""
    return {
        **payload,
        KEY: {"due_at": deadline.due_at.isoformat(), "late_after": deadline.late_after.total_seconds()},
    }


def deadline_of(payload: Mapping[str, Any]) -> Deadline | None:
    """The deadline ``payload`` carries, if any; ValueError, TypeError or KeyError when it is
    malformed (the row is then unreadable, as a malformed reply is)."""
    found = payload.get(KEY)
    if found is None:
        return None
    due_at = datetime.fromisoformat(found["due_at"])
    if due_at.tzinfo is None:
        raise ValueError("a deadline needs a time zone")
    return Deadline(due_at=due_at, late_after=timedelta(seconds=float(found["late_after"])))


def as_delivered(reply: Reply, deadline: Deadline | None, *, now: datetime) -> Reply:
    """``reply`` as it goes out at ``now``: titled "(late)" when it is later than its deadline allows."""
    if deadline is None or not deadline.is_late(now):
        return reply
    return dataclasses.replace(reply, title=reply.title + MARK if reply.title else MARK.strip())
