"""Incoming updates through the store's inbox: stored first, then handled once, then marked done."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any

from bot.batch import WriteBatcher
from crm_store.inbox import CLAIM_TTL
from crm_store.store import Store, Tx

_LOGGER = logging.getLogger(__name__)
Handle = Callable[[Mapping[str, Any]], Awaitable[None]]


class UpdateInbox:
    """``receive`` before the platform is told the update arrived; ``process`` or ``drain``
    then hand it to ``handle``. A handler that raises leaves the row for a later retry (with
    backoff, at most a few times); a process that dies leaves it claimed until the claim expires."""

    def __init__(self, store: Store, *, platform: str, handle: Handle) -> None:
        self.store = store
        self.platform = platform
        self.handle = handle
        self._actor = f"{platform}:inbox"
        self._finishes = WriteBatcher(store, actor=self._actor)
        self._receives = WriteBatcher(store, actor=self._actor, urgent=True)

    async def receive(
        self,
        event_id: str,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str | None = None,
        claim: bool = False,
    ) -> bool:
        """Store the raw update; False for a re-delivery of one already stored, under the same
        ``event_id`` or with the same ``dedupe_key`` (the message or press it carries). With
        ``claim`` a new update is this worker's at once: hand it to ``handle_claimed``."""
        if not claim:
            async with self.store.write(self._actor) as tx:
                return await tx.inbox.add(self.platform, event_id, payload, dedupe_key=dedupe_key)
        # Webhook deliveries arriving together are stored in one transaction.
        return bool(
            await self._receives.run(
                partial(
                    _add_claimed, platform=self.platform, event_id=event_id, payload=payload, key=dedupe_key
                )
            )
        )

    async def process(self, event_id: str, *, due_only: bool = True) -> bool:
        """Handle one stored update if no one else has or is; True if this call handled it."""
        async with self.store.write(self._actor) as tx:
            payload = await tx.inbox.claim(self.platform, event_id, due_only=due_only)
        if payload is None:
            return False
        return await self.handle_claimed(event_id, payload)

    async def handle_claimed(
        self, event_id: str, payload: Mapping[str, Any], *, handle: Handle | None = None
    ) -> bool:
        """Handle an update this worker has claimed (with ``handle`` instead of the inbox's own,
        e.g. one that has the payload parsed already); True once it is done. Marking it done
        shares a transaction with the other updates finishing at the same time."""
        try:
            await (handle or self.handle)(payload)
        except Exception as exc:
            # The type only: the message of an exception may quote what the customer wrote.
            async with self.store.write(self._actor) as tx:
                state = await tx.inbox.release(self.platform, event_id, error=type(exc).__name__)
            _LOGGER.error(
                "%s update %s failed (%s); now %s", self.platform, event_id, type(exc).__name__, state
            )
            return False
        await self._finishes.run(partial(_finish, platform=self.platform, event_id=event_id))
        return True

    async def close(self) -> None:
        await self._receives.close()
        await self._finishes.close()

    async def drain(self, *, due_only: bool = True) -> int:
        """Handle every waiting update, oldest first; ``due_only=False`` at start also retries
        the ones backing off after a failure. Returns how many were handled."""
        handled = 0
        tried: set[str] = set()
        while True:
            async with self.store.read() as tx:
                found = await tx.inbox.unfinished(self.platform, due_only=due_only)
            waiting = [e for e in found if e not in tried]
            if not waiting:
                return handled
            for event_id in waiting:
                tried.add(event_id)
                handled += await self.process(event_id, due_only=due_only)


async def _finish(tx: Tx, *, platform: str, event_id: str) -> None:
    await tx.inbox.finish(platform, event_id)


async def _add_claimed(
    tx: Tx, *, platform: str, event_id: str, payload: Mapping[str, Any], key: str | None
) -> bool:
    return await tx.inbox.add(platform, event_id, payload, dedupe_key=key, claim_ttl=CLAIM_TTL)
