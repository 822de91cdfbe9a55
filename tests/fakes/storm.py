"""A 429 storm for the fake platform APIs: a fixed pattern of "too many requests" answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(slots=True)
class Storm:
    """429s for ``burst`` consecutive calls out of every ``every`` (the first ``every - burst``
    of each round pass), with Retry-After taken in turn from ``retry_after``."""

    every: int
    burst: int
    retry_after: tuple[int, ...]
    seen: int = 0
    served: int = 0

    def next_call(self) -> int | None:
        """The Retry-After to answer this call with, or None to let it through."""
        round_position = self.seen % self.every
        self.seen += 1
        if round_position < self.every - self.burst:
            return None
        wait = self.retry_after[self.served % len(self.retry_after)]
        self.served += 1
        return wait


def storm_of(every: int, burst: int, retry_after: int | Sequence[int]) -> Storm:
    waits = (retry_after,) if isinstance(retry_after, int) else tuple(retry_after)
    if not 0 < burst < every or not waits or min(waits) < 0:
        raise ValueError("a storm needs 0 < burst < every and retry_after values >= 0")
    return Storm(every=every, burst=burst, retry_after=waits)
