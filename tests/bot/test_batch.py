"""Group commit: writes that arrive together share one transaction, each gets its own result, and
a bad write fails alone, with nothing of it kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from bot.batch import WriteBatcher
from crm_store.store import Store, Tx
from crm_store.tables import processed_events


async def _count(store: Store) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(processed_events))).scalar_one())


async def test_writes_arriving_together_share_a_transaction_and_each_gets_its_answer(store: Store) -> None:
    batcher = WriteBatcher(store, actor="test")

    def claim(event_id: str) -> Callable[[Tx], Awaitable[bool]]:
        async def op(tx: Tx) -> bool:
            return await tx.events.claim("test", event_id)

        return op

    # 50 first uses and a second use of one of them, all at once.
    results = await asyncio.gather(
        *(batcher.run(claim(f"e{i}")) for i in range(50)), batcher.run(claim("e7"))
    )
    assert results == [True] * 50 + [False]
    assert await _count(store) == 50
    assert 1 <= batcher.transactions <= 2  # the first may go alone while the rest gather


async def test_a_bad_write_fails_alone_and_the_others_in_its_batch_stand(store: Store) -> None:
    batcher = WriteBatcher(store, actor="test")

    def good(event_id: str) -> Callable[[Tx], Awaitable[bool]]:
        async def op(tx: Tx) -> bool:
            return await tx.events.claim("test", event_id)

        return op

    async def bad(tx: Tx) -> bool:
        await tx.events.claim("test", "written by the bad one")
        raise RuntimeError("broken write")

    results = await asyncio.gather(
        batcher.run(good("a")), batcher.run(bad), batcher.run(good("b")), return_exceptions=True
    )
    assert results[0] is True and isinstance(results[1], RuntimeError) and results[2] is True
    async with store.read() as tx:
        kept = (await tx.conn.execute(select(processed_events.c.event_id))).scalars().all()
    assert sorted(kept) == ["a", "b"]  # nothing of the bad write stands


async def test_a_caller_that_gives_up_leaves_its_write_to_finish(store: Store) -> None:
    batcher = WriteBatcher(store, actor="test")

    async def op(tx: Tx) -> bool:
        return await tx.events.claim("test", "given-up")

    waiting = asyncio.create_task(batcher.run(op))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await batcher.close()
    assert await _count(store) == 1
