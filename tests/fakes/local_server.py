"""What the fake platform servers share: an aiohttp app on 127.0.0.1 (ephemeral port) and a log
of the calls it answered, with a wait for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web


@dataclass(slots=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # the fake's clock: time.monotonic() unless a test gave its own
    status: int = 200
    retry_after: int | None = None  # the wait a 429 carried


class LocalServer:
    """An aiohttp app served on 127.0.0.1; subclasses (slots dataclasses) give ``_runner`` and
    ``_port``."""

    _runner: web.AppRunner | None
    _port: int

    async def _serve(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class RecordingServer(LocalServer):
    """A LocalServer that records the calls it answers; subclasses give ``calls`` and ``_changed``."""

    calls: list[Call]
    _changed: asyncio.Event

    def of(self, method: str, *, status: int | None = 200) -> list[Call]:
        return [c for c in self.calls if c.method == method and (status is None or c.status == status)]

    async def wait_for(self, method: str, count: int = 1, *, within: float = 30.0) -> list[Call]:
        """The successful calls of ``method`` once there are ``count`` of them; ``within`` is
        generous, so a loaded machine only makes a test slow, never failing."""
        deadline = time.monotonic() + within
        while len(self.of(method)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [c.method for c in self.calls]
                raise AssertionError(f"expected {count} {method} call(s); calls so far: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.1))
        return self.of(method)
