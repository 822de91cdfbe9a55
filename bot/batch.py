"""Group commit: small writes that arrive together (a request signature's first use, an update
marked done) share one write transaction instead of queueing for one turn each."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from crm_store.store import Store, StoreBusy, Tx

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")
Op = Callable[[Tx], Awaitable[Any]]
MAX_BATCH = 200  # writes in one transaction; more wait for the next


class WriteBatcher:
    """``run(op)`` runs ``op`` in a write transaction shared with the ops waiting beside it: while
    one batch waits for its turn to write (SQLite's one writer) or a connection, new ops gather
    for the next. Each caller gets its own op's result; if the transaction fails, every op of that
    batch gets the error, and none of its writes stand."""

    def __init__(self, store: Store, *, actor: str, urgent: bool = False, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.actor = actor
        self.urgent = urgent  # requests stored before their acknowledgement: ahead of other writes
        self.max_batch = max_batch
        self._waiting: list[tuple[Op, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.transactions = 0  # how many batches were written (for tests and figures)

    async def run(self, op: Callable[[Tx], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((op, future))
        if self._flusher is None or self._flusher.done():
            # A context of its own: the caller's (a handler run's claim, its write turn) is not the
            # batch's, and must not leak into it.
            self._flusher = asyncio.get_running_loop().create_task(
                self._flush(), context=contextvars.Context()
            )
        # Shielded: a caller that gives up (its request cancelled) leaves the batch to finish.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            try:
                await self._write(batch)
            except Exception as exc:
                if len(batch) == 1 or isinstance(exc, StoreBusy):
                    # No turn to write (or one write alone): trying each again would only wait longer.
                    _fail(batch, exc)
                    continue
                # One bad write must not sink the others: each again in a transaction of its own.
                for one in batch:
                    try:
                        await self._write([one])
                    except Exception as single:
                        _fail([one], single)

    async def _write(self, batch: list[tuple[Op, asyncio.Future[Any]]]) -> None:
        async with self.store.write(self.actor, urgent=self.urgent) as tx:
            results = [await op(tx) for op, _ in batch]
        self.transactions += 1
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def close(self) -> None:
        """Let the batch under way finish (its callers are waiting for it)."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)


def _fail(batch: list[tuple[Op, asyncio.Future[Any]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
