"""Per-token request rate: a token bucket per token name (CRM_API_RATE)."""

from __future__ import annotations

import time
from collections.abc import Callable

from config.settings import Rate


class Buckets:
    """One bucket per token; ``take`` answers 0 (go) or the seconds until a request may pass."""

    def __init__(self, rate: Rate | None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # name -> (tokens, at)

    def take(self, name: str) -> float:
        if self.rate is None:
            return 0.0
        now = self.clock()
        tokens, at = self._state.get(name, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - at) * self.rate.per_second)
        if tokens >= 1.0:
            self._state[name] = (tokens - 1.0, now)
            return 0.0
        self._state[name] = (tokens, now)
        return (1.0 - tokens) / self.rate.per_second
