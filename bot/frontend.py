"""What a front end offers the delivery path: a Sender per platform, and the errors it raises."""

from __future__ import annotations

from typing import Protocol

from handlers.messages import Reply


class RetryAfter(Exception):
    """The platform said "too many requests": nothing was sent; try again after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds:g} s")
        self.seconds = max(float(seconds), 0.0)


class PermanentSendError(Exception):
    """No retry can deliver this (the chat is gone, the bot was blocked, the payload is refused).
    The message names the platform's error code only, never message text."""


class Sender(Protocol):
    """Posts a rendered Reply to one chat (in a thread, where the platform has them)."""

    platform: str

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        """Send and return the platform's id of the (first) message; raise RetryAfter on 429."""
        ...
