"""What a front end offers the delivery path: a Sender per platform, and the errors it raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from handlers.messages import Reply

if TYPE_CHECKING:
    from crm_store.outbox import OutboxRow

_T = TypeVar("_T")
# Once part of a reply is out, 429s are waited out in the sender, up to this long in all (far
# below the dispatcher's lease): raising would have the row retried whole and the parts that
# are out sent twice.
PART_WAIT = 30.0


class RetryAfter(Exception):
    """The platform said "too many requests": nothing was sent; try again after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited for {seconds:g} s")
        self.seconds = max(float(seconds), 0.0)


class PermanentSendError(Exception):
    """No retry can deliver this (the chat is gone, the bot was blocked, the payload is refused).
    The message names the platform's error code only, never message text. ``blocked``: the
    person blocked the bot or left the platform (Telegram 403), so the chat is unreachable."""

    def __init__(self, message: str, *, blocked: bool = False) -> None:
        super().__init__(message)
        self.blocked = blocked


class Sender(Protocol):
    """Posts a rendered Reply to one chat (in a thread, where the platform has them)."""

    platform: str

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        """Send and return the platform's id of the (first) message; raise RetryAfter on 429."""
        ...


@runtime_checkable
class RowSender(Protocol):
    """Sends outbox rows that are not chat replies (webhooks: bot/webhooks.py) and records each
    outcome in the store itself, as the claim's ``owner`` (only the holder of a claim may)."""

    platform: str

    async def deliver(self, row: OutboxRow, *, owner: str) -> str:
        """Send the row; returns "sent", "retried" or "failed"."""
        ...


@dataclass(slots=True)
class ReplyParts:
    """Sends the parts of one reply (pages, a photo, a chart). A 429 before anything is out
    raises, so the dispatcher reschedules the row; after that it is slept off here, up to
    ``budget`` seconds in all, and only that part is tried again. ``retry_after`` reads a
    platform error: the seconds a 429 asks for, or None for any other error (which raises)."""

    retry_after: Callable[[Exception], float | None]
    sleep: Callable[[float], Awaitable[None]] | None  # None: never wait, always raise
    budget: float = PART_WAIT
    started: bool = False
    waited: float = 0.0

    async def send(
        self, call: Callable[[], Awaitable[_T]], *, pace: Callable[[], Awaitable[None]] | None = None
    ) -> _T:
        while True:
            if pace is not None:
                await pace()
            try:
                result = await call()
            except Exception as exc:
                wait = self.retry_after(exc)
                if not self.started or wait is None or self.sleep is None or self.waited + wait > self.budget:
                    raise
                self.waited += wait
                await self.sleep(wait)
                continue
            self.started = True
            return result
