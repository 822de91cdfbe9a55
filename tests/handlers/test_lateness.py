"""Pushes due at a time: the deadline travels in the outbox payload and "(late)" is judged at
the moment of sending, strictly past the allowed delay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.lateness import Deadline, as_delivered, deadline_of, with_deadline
from handlers.messages import Reply, reply_from_dict, reply_to_dict

DUE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)


def test_the_deadline_travels_with_the_payload_and_late_is_judged_at_sending() -> None:
    payload = with_deadline(
        reply_to_dict(Reply(title="Reminder #4", text="call")), Deadline(DUE, FIVE_MINUTES)
    )
    reply, deadline = reply_from_dict(payload), deadline_of(payload)
    assert deadline == Deadline(DUE, FIVE_MINUTES)
    assert as_delivered(reply, deadline, now=DUE).title == "Reminder #4"
    assert as_delivered(reply, deadline, now=DUE + FIVE_MINUTES).title == "Reminder #4"  # not past it
    late = as_delivered(reply, deadline, now=DUE + FIVE_MINUTES + timedelta(seconds=1))
    assert late.title == "Reminder #4 (late)" and late.text == "call"
    assert as_delivered(Reply(text="x"), deadline, now=DUE + timedelta(hours=1)).title == "(late)"


def test_a_push_without_a_deadline_is_never_late() -> None:
    payload = reply_to_dict(Reply(title="Digest", text="x"))
    assert deadline_of(payload) is None
    assert as_delivered(reply_from_dict(payload), None, now=DUE + timedelta(days=9)).title == "Digest"


@pytest.mark.parametrize(
    "deadline",
    [
        {"due_at": "soon", "late_after": 300},
        {"due_at": "2026-11-23T10:00:00", "late_after": 300},  # no time zone
        {"due_at": "2026-11-23T10:00:00+00:00", "late_after": "a while"},
        {"late_after": 300},
        "2026-11-23T10:00:00+00:00",
    ],
)
def test_a_malformed_deadline_is_refused_as_unreadable(deadline: object) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        deadline_of({"text": "x", "deadline": deadline})
