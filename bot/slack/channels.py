"""The Slack channels the bot can see, found by name or id for commands that name one
(`subscribe digest daily in #sales`): conversations.list, paged, kept for a few minutes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.channels import Channel, ChannelDirectoryError

_LOGGER = logging.getLogger(__name__)
TTL = 300.0  # seconds a listing is trusted
MISS_REFRESH = 10.0  # an unknown name re-lists at most this often (a channel made a minute ago)
PAGE_SIZE = 200  # Slack recommends at most 200 per page
MAX_PAGES = 50


class SlackChannelDirectory:
    """Implements handlers.channels.ChannelDirectory. Replicas each keep their own listing,
    which is only a cache: the store holds channel ids, never names."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = TTL,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl = ttl
        self.page_size = page_size
        self.clock = clock
        self._by_name: dict[str, Channel] = {}
        self._by_id: dict[str, Channel] = {}
        self._listed_at: float | None = None
        self._lock = asyncio.Lock()

    async def find(self, name: str) -> Channel | None:
        return await self._lookup("name", name.lower().removeprefix("#"))

    async def find_id(self, channel_id: str) -> Channel | None:
        return await self._lookup("id", channel_id)

    async def _lookup(self, by: str, key: str) -> Channel | None:
        async with self._lock:
            age = None if self._listed_at is None else self.clock() - self._listed_at
            known = key in (self._by_name if by == "name" else self._by_id)
            if age is None or age > self.ttl or (not known and age > MISS_REFRESH):
                await self._refresh()
            return (self._by_name if by == "name" else self._by_id).get(key)

    async def _refresh(self) -> None:
        by_name: dict[str, Channel] = {}
        by_id: dict[str, Channel] = {}
        cursor = ""
        try:
            for _ in range(MAX_PAGES):
                page = await self.client.conversations_list(
                    types="public_channel,private_channel",
                    exclude_archived=True,
                    limit=self.page_size,
                    cursor=cursor or None,
                )
                for raw in page.get("channels") or []:
                    channel = Channel(
                        id=str(raw.get("id", "")),
                        name=str(raw.get("name", "")).lower(),
                        is_member=bool(raw.get("is_member", False)),
                    )
                    if channel.id:
                        by_id[channel.id] = channel
                        by_name.setdefault(channel.name, channel)
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    break
        except SlackApiError as exc:
            _LOGGER.warning("slack conversations.list failed: %s", exc.response.get("error"))
            raise ChannelDirectoryError(str(exc.response.get("error") or "slack error")) from None
        except OSError as exc:  # the connection itself (after slack_sdk's own retries)
            _LOGGER.warning("slack conversations.list failed: %s", type(exc).__name__)
            raise ChannelDirectoryError(type(exc).__name__) from None
        self._by_name, self._by_id, self._listed_at = by_name, by_id, self.clock()
