"""Who a chat account is (its identity, rep and customer's zone), kept briefly per process."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from crm_store.records import IdentityRecord, RepRecord

# Another process's change (a role set from another replica or from `crm-bot console`) is seen
# within this many seconds; this process's own changes are seen at once.
SPEAKER_TTL_SECONDS = 5.0
SPEAKER_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Speaker:
    """A known chat account: a team member's (``rep``) or a customer's (``customer_timezone``
    is that customer's zone, if the record has one and is not removed)."""

    identity: IdentityRecord
    rep: RepRecord | None
    customer_timezone: str | None


@dataclass(frozen=True, slots=True)
class _Entry:
    speaker: Speaker
    version: int
    expires: float


class SpeakerCache:
    """Speakers read lately, by (platform, external id). An entry is good for ``ttl`` seconds
    and only while no change to people committed in this process since it was read: the Store
    calls ``changed`` after such a commit, and an answer read before it is never kept."""

    def __init__(
        self,
        *,
        ttl: float = SPEAKER_TTL_SECONDS,
        size: int = SPEAKER_CACHE_SIZE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.size = size
        self.version = 0
        self._monotonic = monotonic
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def get(self, platform: str, external_id: str) -> Speaker | None:
        key = (platform, external_id)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.version != self.version or entry.expires <= self._monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.speaker

    def put(self, speaker: Speaker, *, version: int) -> None:
        """Keep ``speaker``, read when the cache was at ``version`` (taken before the read began)."""
        if version != self.version or self.ttl <= 0:
            return  # people changed while it was being read: it may be the old answer
        key = (speaker.identity.platform, speaker.identity.external_id)
        self._entries[key] = _Entry(speaker, version, self._monotonic() + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def changed(self) -> None:
        """People changed in this process (committed): forget everything read before."""
        self.version += 1
        self._entries.clear()
