"""Admission: at most ``workers`` handled at once, the rest in arrival order, and a refusal once
``max_backlog`` are working or waiting (logged once in a while, not per request)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.admission import Admission


async def test_at_most_workers_run_at_once_and_the_rest_wait_in_order() -> None:
    admission = Admission(workers=3, max_backlog=100)
    running = 0
    most = 0
    order: list[int] = []
    release = asyncio.Event()

    async def job(n: int) -> None:
        nonlocal running, most
        async with admission.work():
            running += 1
            most = max(most, running)
            order.append(n)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(job(n)) for n in range(10)]
    await asyncio.sleep(0.01)
    assert (running, admission.inflight) == (3, 10)
    release.set()
    await asyncio.gather(*tasks)
    assert most == 3 and order == list(range(10)) and admission.inflight == 0


async def test_beyond_the_backlog_requests_are_refused_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    admission = Admission(workers=1, max_backlog=2, clock=lambda: now[0])
    release = asyncio.Event()

    async def job() -> None:
        async with admission.work():
            await release.wait()

    tasks = [asyncio.create_task(job()) for _ in range(2)]
    await asyncio.sleep(0.01)
    caplog.set_level(logging.WARNING)
    assert [admission.admit() for _ in range(5)] == [False] * 5
    assert admission.refusals == 5
    assert len([r for r in caplog.records if r.name == "bot.admission"]) == 1
    now[0] = 11.0
    assert not admission.admit()
    assert len([r for r in caplog.records if r.name == "bot.admission"]) == 2
    release.set()
    await asyncio.gather(*tasks)
    assert admission.admit()
