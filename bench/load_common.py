"""What the live-process load benches share: the bot as a subprocess, its store (a copy of a cached
SQLite book, or the same rows in a fresh PostgreSQL database), an open-loop schedule, /healthz
polling, percentiles and the bot's log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
HEALTH_EVERY = 0.05  # seconds between /healthz polls, as a load balancer polls, only faster
# Columns of the copied tables that hold JSON on PostgreSQL (text in SQLite).
_JSON_COLUMNS = {"tags", "custom", "attachments", "payload"}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (nearest rank), in the unit given; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def ms(values: Sequence[float], q: float) -> float | None:
    found = percentile(values, q)
    return None if found is None else round(found * 1000, 1)


def bot_env(database_url: str, data_dir: Path, source: Path, **extra: str) -> dict[str, str]:
    """The bot's environment: none of the caller's CRM_/SLACK_/TELEGRAM_ variables or proxies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "TELEGRAM_"))}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    env.update(
        CRM_DATABASE_URL=database_url,
        CRM_DATA_DIR=str(data_dir),
        CRM_HTTP_HOST="127.0.0.1",
        CRM_HTTP_PORT="0",
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(source),
    )
    env.update(extra)
    return env


def models_dir(cache: Path) -> Path:
    """The trained sentiment model, once per cache (not timed)."""
    models = cache / "models"
    models.mkdir(parents=True, exist_ok=True)
    code = "import sys; from nlp.sentiment import SentimentClassifier as S; S.load_or_train(sys.argv[1])"
    import subprocess

    subprocess.run(
        [sys.executable, "-c", code, str(models)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    return models


def data_dir(work: Path, name: str, models: Path) -> Path:
    directory = work / name
    directory.mkdir(parents=True, exist_ok=True)
    link = directory / "models"
    if not link.exists():
        link.symlink_to(models, target_is_directory=True)
    return directory


@dataclass(slots=True)
class BotProcess:
    process: asyncio.subprocess.Process
    url: str
    log: Path

    def log_size(self) -> int:
        return self.log.stat().st_size

    def log_counts(self, since: int = 0) -> dict[str, int]:
        """What the log says from byte ``since`` on."""
        with self.log.open("rb") as handle:
            handle.seek(since)
            text = handle.read().decode(errors="replace")
        return {
            "database_is_locked": text.count("database is locked"),
            "tracebacks": text.count("Traceback (most recent call last)"),
            "error_lines": sum(1 for line in text.splitlines() if " ERROR " in line or "ERROR:" in line),
            "store_busy": text.count("StoreBusy") + text.count("the store is busy"),
        }


@contextlib.asynccontextmanager
async def bot_process(env: dict[str, str], cwd: Path, log: Path) -> AsyncIterator[BotProcess]:
    """`python -m bot run` until the block ends; its stderr (the log) goes to ``log``."""
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--no-sample",
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=300)).decode()
        if " on http://" not in line:
            raise RuntimeError(f"the bot did not start: {line!r}; see {log}")
        yield BotProcess(process, line.split(" on ")[1].split(";")[0], log)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


@dataclass(slots=True)
class HealthPoll:
    """GET /healthz every HEALTH_EVERY s from a thread of its own (so the bench's busy loop does
    not delay the polls it times); each poll's start and latency (s)."""

    url: str
    samples: list[tuple[float, float]] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="healthz", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=35)

    def _run(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                with opener.open(self.url + "/healthz", timeout=30) as response:
                    response.read()
                    if response.status != 200:
                        self.failures += 1
            except OSError:
                self.failures += 1
            self.samples.append((started, time.monotonic() - started))
            self._stop.wait(HEALTH_EVERY)

    def between(self, start: float, end: float) -> dict[str, Any]:
        taken = [latency for at, latency in self.samples if start <= at <= end]
        return {
            "polls": len(taken),
            "p50_ms": ms(taken, 50),
            "p99_ms": ms(taken, 99),
            "max_ms": ms(taken, 100),
        }


async def open_loop(
    count: int, rate: float, send: Callable[[int, float], Awaitable[None]]
) -> tuple[float, float]:
    """Request i starts at i/rate seconds after the start, whatever happened before (latency is
    counted from that scheduled time by ``send(i, due)``, so a bot that falls behind shows it).
    Returns the start and the time the last request was sent."""
    loop = asyncio.get_running_loop()
    begin = time.monotonic() + 0.1
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        due = begin + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(loop.create_task(send(i, due)))
    last = time.monotonic()
    await asyncio.gather(*tasks, return_exceptions=True)
    return begin, last


# -- PostgreSQL: the same book in a fresh database --------------------------------------------


async def pg_book(sqlite_book: Path, tables: Sequence[str]) -> str:
    """A new database on 127.0.0.1:5432, migrated, holding ``tables`` copied from ``sqlite_book``
    (COPY, then each id sequence moved past the copied ids); its SQLAlchemy URL."""
    import asyncpg

    from crm_store.engine import create_engine
    from crm_store.migrate import upgrade

    name = f"crm_load_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    source = sqlite3.connect(f"file:{sqlite_book}?mode=ro", uri=True)
    conn = await asyncpg.connect(f"{PG_SERVER}/{name}")
    try:
        for table in tables:
            types = dict(
                await conn.fetch(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1",
                    table,
                )
            )
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})") if row[1] in types]
            converters = [_converter(types[c], c) for c in columns]
            rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while batch := rows.fetchmany(50_000):
                records = [tuple(f(v) for f, v in zip(converters, row, strict=True)) for row in batch]
                await conn.copy_records_to_table(table, records=records, columns=columns)
            if "id" in columns:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
        source.close()
    return url


def _converter(pg_type: str, column: str) -> Callable[[Any], Any]:
    if pg_type.startswith("timestamp"):
        return lambda v: None if v is None else datetime.fromisoformat(v).replace(tzinfo=UTC)
    if pg_type in ("json", "jsonb") or (column in _JSON_COLUMNS and pg_type != "text"):
        return lambda v: v if v is None or isinstance(v, str) else json.dumps(v)
    if pg_type == "boolean":
        return lambda v: None if v is None else bool(v)
    return lambda v: v


async def drop_pg(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(f"{PG_SERVER}/postgres")
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
