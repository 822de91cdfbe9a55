"""Another process writing to the same SQLite file (as the CLI or a console would), for tests that
show the bot's writes never meet "database is locked" meanwhile. Run as
``python -m tests.other_writer URL OPS counter|interactions``; prints "ready" after its first
committed write and "errors N" at the end."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from crm_store.store import Store

ROOT = Path(__file__).resolve().parent.parent


async def _write_once(store: Store, mode: str) -> None:
    async with store.write("other-process") as tx:
        if mode == "counter":  # read, then write what was read plus one
            value = (await tx.conn.exec_driver_sql("SELECT n FROM counter")).scalar_one()
            await tx.conn.exec_driver_sql(f"UPDATE counter SET n = {value + 1}")
        else:  # a note on customer #1
            await tx.interactions.add(customer_id=1, rep_id=None, channel="cli", kind="note", text="aside")


async def run(url: str, ops: int, mode: str) -> int:
    store = Store.open(url)
    errors = 0
    for n in range(ops):
        try:
            await _write_once(store, mode)
        except Exception as exc:
            errors += 1
            print("error", type(exc).__name__, exc, flush=True)
        if n == 0:
            print("ready", flush=True)
    await store.close()
    print("errors", errors, flush=True)
    return errors


@asynccontextmanager
async def other_process(url: str, ops: int, mode: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """The other process, yielded once its first write committed (so the two overlap)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = (sys.executable, "-m", "tests.other_writer", url, str(ops), mode)
    proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE, env=env, cwd=ROOT)
    assert proc.stdout is not None
    try:
        first = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
        assert first.strip() == b"ready", first
        yield proc
    finally:
        if proc.returncode is None:  # the test failed first: let it finish, reading what it says
            await asyncio.wait_for(proc.communicate(), timeout=300)


async def finish(proc: asyncio.subprocess.Process) -> str:
    """Its last line ("errors N") once it is done."""
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode == 0, out
    return out.decode().strip().splitlines()[-1]


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
