"""Which databases the store tests run on (CRM_TEST_DATABASES), and PostgreSQL housekeeping done
off the test's event loop: creating a database waits, dropping one does not hold up the next test."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from tests import postgres

VARIABLE = "CRM_TEST_DATABASES"
KNOWN = ("sqlite", "postgres")
DEFAULT = "sqlite,postgres"

T = TypeVar("T")

_create = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-test-create")
_drop = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-test-drop")
_drops: list[Future[None]] = []
_lock = threading.Lock()


def selected(env: Mapping[str, str]) -> tuple[str, ...]:
    """The databases named in CRM_TEST_DATABASES (comma-separated; both when unset), in order."""
    names = tuple(n.strip() for n in env.get(VARIABLE, DEFAULT).split(",") if n.strip())
    unknown = [n for n in names if n not in KNOWN]
    if unknown or not names:
        raise ValueError(f"{VARIABLE}={env.get(VARIABLE)!r}: name one or more of {', '.join(KNOWN)}")
    return names


def run_aside(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a loop of its own in another thread (fixtures run it outside
    the test's loop, which pytest-asyncio owns)."""
    return _create.submit(asyncio.run, coro).result()


def drop_later(url: str) -> None:
    """Drop a test database in the background; wait_for_drops waits for all of them."""
    with _lock:
        _drops.append(_drop.submit(asyncio.run, postgres.drop_database(url)))


def wait_for_drops() -> None:
    with _lock:
        pending, _drops[:] = list(_drops), []
    for future in pending:
        future.result()
