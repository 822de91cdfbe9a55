"""Sends outbox rows to Slack channels and DMs (into threads) with chat.postMessage, paced per
channel, uploads a reply's chart with files_upload_v2, and maps Slack's errors."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.frontend import PermanentSendError, ReplyParts, RetryAfter
from bot.slack import render
from handlers.messages import Reply

PLATFORM = "slack"
PAGE_GAP = 1.0  # chat.postMessage: about one message per second per channel
# Errors no retry can fix: parked at once, with the code (never the text) as the reason.
PERMANENT = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "msg_too_long", "no_text"}
)
# The bot may not post into the conversation (not a member, a DM between others, archived).
NOT_POSTABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


def sender_client(*, token: str, api_url: str) -> AsyncWebClient:
    """No rate-limit retry handler here: a 429 goes back to the dispatcher, which waits
    Retry-After without holding up other channels."""
    return AsyncWebClient(
        token=token, base_url=api_url, retry_handlers=[AsyncConnectionErrorRetryHandler(max_retry_count=2)]
    )


class ChannelPacer:
    """Keeps posts to one channel ``gap`` seconds apart in this process: a long reply's pages
    and its chart are several posts, which the dispatcher's per-row limiter counts as one."""

    def __init__(
        self,
        *,
        gap: float = PAGE_GAP,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.gap = gap
        self.clock = clock
        self.sleep = sleep
        self._last: dict[str, float] = {}

    async def wait(self, channel: str) -> None:
        last = self._last.get(channel)
        if last is not None:
            wait = last + self.gap - self.clock()
            if wait > 0:
                await self.sleep(wait)
        self._last[channel] = self.clock()


def _retry_after(exc: Exception) -> float | None:
    if not isinstance(exc, SlackApiError) or exc.response.status_code != 429:
        return None
    headers = {str(k).lower(): v for k, v in (exc.response.headers or {}).items()}
    return float(headers.get("retry-after", 1) or 1)


def _raise_mapped(exc: SlackApiError) -> None:
    wait = _retry_after(exc)
    if wait is not None:
        raise RetryAfter(wait) from None
    code = str(exc.response.get("error") or "")
    if code in PERMANENT:
        raise PermanentSendError(f"slack {code}") from None


async def upload_image(client: AsyncWebClient, *, channel: str, reply: Reply, thread: str | None) -> None:
    """The reply's image (a digest's chart) into ``channel`` with files_upload_v2:
    files.getUploadURLExternal, the upload, then files.completeUploadExternal. Outbox pushes
    and typed answers both upload here."""
    assert reply.image is not None
    await client.files_upload_v2(
        channel=channel,
        file=reply.image,
        filename=reply.image_name or "chart.png",
        title=reply.title or "Chart",
        alt_txt=f"{reply.title or 'Chart'}; the numbers are in the message above.",
        thread_ts=thread,
    )


class SlackSender:
    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, *, pacer: ChannelPacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self._dm: dict[str, str] = {}

    async def _channel(self, target: str) -> str:
        """A user id (a DM to a rep) becomes the DM's channel id, which file uploads need."""
        if not target.startswith(("U", "W")):
            return target
        if target not in self._dm:
            opened = await self.client.conversations_open(users=target)
            self._dm[target] = str((opened.get("channel") or {}).get("id") or target)
        return self._dm[target]

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        """Post each page of ``reply`` and then its image; the first page's ts (the thread of
        later posts). A 429 part-way is waited out (bot.frontend.ReplyParts); another failure
        part-way raises, and the row is retried whole."""
        first: str | None = None
        parts = ReplyParts(retry_after=_retry_after, sleep=self.pacer.sleep)
        try:
            channel = await self._channel(target)

            async def pace() -> None:
                await self.pacer.wait(channel)

            for page in render.render(reply):
                response = await parts.send(
                    functools.partial(
                        self.client.chat_postMessage, channel=channel, thread_ts=thread, **page
                    ),
                    pace=pace,
                )
                first = first or str(response.get("ts") or "")
            if reply.image is not None:
                await parts.send(
                    functools.partial(upload_image, self.client, channel=channel, reply=reply, thread=thread),
                    pace=pace,
                )
        except SlackApiError as exc:
            _raise_mapped(exc)
            raise
        return first or ""
