"""Start-up benchmark: time until `crm-bot run` answers a real find, and its resident memory, at 1M customers.

Every figure comes from `crm-bot run` as a subprocess on a SQLite store holding the book
(bench/book_db.py), measured from process start:

- ``ready``: the first correct answer to ``find <exact name>`` (console on stdin/stdout, or a
  signed Slack ``/crm find`` answered through its response_url in HTTP mode);
- ``fuzzy_ready``: the first time a typo'd name finds its customer, i.e. the whole index is in;
- memory: VmRSS / VmHWM of the bot process from /proc, and the peak of the index-build child.

Runs, in order: an empty book (the floor: imports, sentiment model, migrations); the baseline,
start-up as it was (App.start builds the whole index in-process before anything answers; the
build itself already the new, faster one); a cold start (no snapshot: built in the background
while the exact path answers); a warm start (the snapshot of the cold start).  The same cold and
warm in Slack HTTP mode, with /healthz polled throughout.  ``--legacy-src`` adds the code before
this change (a `git archive` of it) as a second baseline, on its own copy of the book.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.book_db import CACHE_DIR, book_db, copy_of  # noqa: E402
from bench.load_common import bot_env  # noqa: E402

SECRET = "bench-signing-secret"
REP = "U0BENCH"
POLL = 0.1
# The start as it was before snapshots: App.start awaited a whole in-process index build.
BLOCKING_RUNNER = """
import sys
import bot.app
from bot.cli import main

_start = bot.app.App.start

async def blocking_start(self, *, migrate=True, index=True):
    await _start(self, migrate=migrate, index=False)
    if index:
        await self.services.lookup.refresh(force=True)

bot.app.App.start = blocking_start
sys.argv = ["crm-bot", "run", "--no-sample"]
main()
"""


@dataclass(frozen=True, slots=True)
class Probes:
    """``exact``: a customer's name as stored; ``typo``: another's with one letter changed."""

    exact: str
    exact_id: int
    typo: str
    typo_id: int


def pick_probes(db: Path) -> Probes:
    """Two people whose names are unique in the book, one of them typo'd in the surname."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        found: list[tuple[int, str]] = []
        for customer_id, name in connection.execute(
            "SELECT id, name FROM customers WHERE id % 9973 = 17 AND name NOT LIKE '%.%' ORDER BY id"
        ):
            words = name.split()
            if len(words) == 2 and name.isascii() and len(words[1]) >= 7:
                (count,) = connection.execute(
                    "SELECT count(*) FROM customers WHERE name = ?", (name,)
                ).fetchone()
                if count == 1:
                    found.append((customer_id, name))
            if len(found) == 2:
                break
    finally:
        connection.close()
    (exact_id, exact), (typo_id, name) = found
    first, last = name.split()
    middle = len(last) // 2
    swapped = "a" if last[middle] != "a" else "e"
    return Probes(exact, exact_id, f"{first} {last[:middle]}{swapped}{last[middle + 1 :]}", typo_id)


def status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process in MB (empty once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        key: int(value.split()[0]) // 1024
        for key, value in (line.split(":", 1) for line in lines if line.startswith(("VmRSS", "VmHWM")))
    }


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass(slots=True)
class Watch:
    """Polls the bot's and its children's memory while a run lasts."""

    pid: int
    child_peak_mb: int = 0
    children_seen: int = 0
    _seen: set[int] = field(default_factory=set)

    async def run(self) -> None:
        while True:
            for child in children(self.pid):
                if child not in self._seen:
                    self._seen.add(child)
                    self.children_seen += 1
                self.child_peak_mb = max(self.child_peak_mb, status(child).get("VmHWM", 0))
            await asyncio.sleep(POLL)


def environment(db: Path, data_dir: Path, **extra: str) -> dict[str, str]:
    return bot_env(f"sqlite+aiosqlite:///{db}", data_dir, ROOT, **extra)


def data_dir(work: Path, name: str, models: Path) -> Path:
    """A CRM_DATA_DIR with the trained sentiment model (shared: it is only read)."""
    directory = work / name
    directory.mkdir(exist_ok=True)
    link = directory / "models"
    if not link.exists():
        link.symlink_to(models, target_is_directory=True)
    return directory


@contextlib.asynccontextmanager
async def started(
    command: list[str], env: dict[str, str], cwd: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        *command,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        limit=1 << 20,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


class Console:
    """The console front end over pipes: one line in, one answer (ending in a blank line) out."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout

    async def ask(self, text: str, *, within: float) -> str:
        self.stdin.write(text.encode() + b"\n")
        await self.stdin.drain()
        lines: list[str] = []
        while True:
            line = (await asyncio.wait_for(self.stdout.readline(), timeout=within)).decode()
            if not line:
                raise RuntimeError("the console ended: " + "".join(lines))
            if line == "\n" and lines:
                return "".join(lines)
            lines.append(line)


def found(answer: str, customer_id: int) -> bool:
    return f"(#{customer_id})" in answer


async def console_run(
    command: list[str], *, env: dict[str, str], cwd: Path, probes: Probes, within: float
) -> dict[str, Any]:
    timeout = within
    started_at = time.monotonic()
    async with started(command, env, cwd) as process:
        watch = Watch(process.pid)
        watcher = asyncio.create_task(watch.run())
        try:
            console = Console(process)
            answer = await console.ask(f"find {probes.exact}", within=timeout)
            ready = time.monotonic() - started_at
            at_ready = status(process.pid)
            result: dict[str, Any] = {
                "ready_seconds": round(ready, 2),
                "first_answer_correct": found(answer, probes.exact_id),
                "first_answer_marked_loading": "still loading" in answer,
            }
            fuzzy = None
            while time.monotonic() - started_at < timeout:
                answer = await console.ask(f"find {probes.typo}", within=timeout)
                if found(answer, probes.typo_id):
                    fuzzy = time.monotonic() - started_at
                    break
                await asyncio.sleep(0.5)
            result["fuzzy_ready_seconds"] = None if fuzzy is None else round(fuzzy, 2)
            # Steady state: a few more lookups, then memory as it stays.
            for _ in range(10):
                await console.ask(f"find {probes.typo}", within=timeout)
            await asyncio.sleep(2)
            memory = status(process.pid)
            result["rss_mb"] = {
                "at_ready": at_ready.get("VmRSS"),
                "steady": memory.get("VmRSS"),
                "peak": memory.get("VmHWM"),
                "index_build_child_peak": watch.child_peak_mb or None,
            }
            return result
        finally:
            watcher.cancel()


async def floor_run(command: list[str], *, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """An empty book answering ``help``: what start-up costs before there is a book to load."""
    started_at = time.monotonic()
    async with started(command, env, cwd) as process:
        answer = await Console(process).ask("help", within=60)
        ready = time.monotonic() - started_at
        await asyncio.sleep(2)
        memory = status(process.pid)
    return {
        "ready_seconds": round(ready, 2),
        "answered": "find" in answer,
        "rss_mb": {"steady": memory.get("VmRSS"), "peak": memory.get("VmHWM")},
    }


async def http_run(*, env: dict[str, str], cwd: Path, probes: Probes, within: float) -> dict[str, Any]:
    """`crm-bot run` in Slack HTTP mode against the fake Slack Web API."""
    import httpx
    from slack_sdk.signature import SignatureVerifier

    timeout = within

    from bench.slack_api_sink import SlackApiSink

    fake = await SlackApiSink().start()
    fake.add_user(REP, "Bench Rep")
    verifier = SignatureVerifier(SECRET)
    settings = {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url}
    sent = 0

    async def find(http: httpx.AsyncClient, text: str) -> str:
        nonlocal sent
        sent += 1
        body = urlencode(
            {
                "team_id": "T0001",
                "channel_id": "C0BENCH",
                "user_id": REP,
                "user_name": "bench",
                "command": "/crm",
                "text": f"find {text}",
                "api_app_id": "A0001",
                "response_url": fake.response_url(str(sent)),
                "trigger_id": f"trigger-{sent}",
            }
        )
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        response = await http.post("/slack/events", content=body.encode(), headers=headers)
        response.raise_for_status()
        answer = (await fake.wait_for("response_url", sent, within=timeout))[sent - 1]
        return json.dumps(answer.params)

    started_at = time.monotonic()
    try:
        async with started([sys.executable, "-m", "bot", "run"], {**env, **settings}, cwd) as process:
            watch = Watch(process.pid)
            watcher = asyncio.create_task(watch.run())
            health: list[float] = []
            health_at: list[float] = []
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=timeout)).decode()
            listening = time.monotonic() - started_at
            url = line.split(" on ")[1].split(";")[0]
            async with httpx.AsyncClient(base_url=url, trust_env=False, timeout=timeout) as http:
                stop = asyncio.Event()

                async def poll_health() -> None:
                    while not stop.is_set():
                        t0 = time.monotonic()
                        (await http.get("/healthz")).raise_for_status()
                        health.append((time.monotonic() - t0) * 1000)
                        health_at.append(t0 - started_at)
                        await asyncio.sleep(0.05)

                poller = asyncio.create_task(poll_health())
                try:
                    answer = await find(http, probes.exact)
                    ready = time.monotonic() - started_at
                    result: dict[str, Any] = {
                        "listening_seconds": round(listening, 2),
                        "ready_seconds": round(ready, 2),
                        "first_answer_correct": found(answer, probes.exact_id),
                    }
                    fuzzy = None
                    while time.monotonic() - started_at < timeout:
                        if found(await find(http, probes.typo), probes.typo_id):
                            fuzzy = time.monotonic() - started_at
                            break
                        await asyncio.sleep(1)
                    result["fuzzy_ready_seconds"] = None if fuzzy is None else round(fuzzy, 2)
                finally:
                    stop.set()
                    await poller
                for _ in range(10):
                    await find(http, probes.typo)
                await asyncio.sleep(2)
            memory = status(process.pid)
            watcher.cancel()
            ordered = sorted(health)
            result["healthz_ms"] = {
                "requests": len(ordered),
                "p50": round(statistics.median(ordered), 1),
                "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
                "max": round(ordered[-1], 1),
                "max_at_seconds": round(health_at[health.index(ordered[-1])], 2),
                "over_50ms": sum(1 for ms in health if ms > 50),
            }
            result["rss_mb"] = {
                "steady": memory.get("VmRSS"),
                "peak": memory.get("VmHWM"),
                "index_build_child_peak": watch.child_peak_mb or None,
            }
            return result
    finally:
        await fake.stop()


def train_models(models: Path) -> None:
    """The sentiment model, trained once into the bench cache (not timed)."""
    models.mkdir(parents=True, exist_ok=True)
    code = "import sys; from nlp.sentiment import SentimentClassifier as S; S.load_or_train(sys.argv[1])"
    import subprocess  # a child process, so this one never holds the model's memory

    subprocess.run(
        [sys.executable, "-c", code, str(models)], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )


def legacy_copy(source: Path, work: Path) -> Path:
    """A copy of the book at the schema the code before this change knows (before 0014_index)."""
    directory = work / "legacy"
    directory.mkdir(exist_ok=True)
    db = copy_of(source, directory)
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("DROP TABLE IF EXISTS store_meta")
        connection.execute("UPDATE alembic_version SET version_num = '0012_telegram_dedupe'")
    connection.close()
    return db


def empty_db(work: Path) -> Path:
    directory = work / "empty"
    directory.mkdir(exist_ok=True)
    return directory / "crm.db"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    source = book_db(args.customers)
    models = CACHE_DIR / "models"
    train_models(models)
    probes = pick_probes(source)
    work = Path(tempfile.mkdtemp(prefix="startup-", dir=CACHE_DIR))
    runs: dict[str, Any] = {}
    bot = [sys.executable, "-m", "bot", "run", "--no-sample"]
    timeout = args.timeout
    try:

        def fresh_copy(name: str) -> Path:
            # Each group starts from the book as cached: its first start also runs the day's
            # loyalty scoring, as any first start of a day does, so its memory counts too.
            directory = work / name
            directory.mkdir()
            return copy_of(source, directory)

        def console(command: list[str], database: Path, data: Path) -> Any:
            return console_run(
                command, env=environment(database, data), cwd=work, probes=probes, within=timeout
            )

        runs["empty_book"] = await floor_run(
            bot, env=environment(empty_db(work), data_dir(work, "data-empty", models)), cwd=work
        )
        runs["baseline_blocking_build"] = await console(
            [sys.executable, "-c", BLOCKING_RUNNER],
            fresh_copy("baseline"),
            data_dir(work, "data-baseline", models),
        )
        db = fresh_copy("console")
        console_data = data_dir(work, "data-console", models)
        runs["cold_console"] = await console(bot, db, console_data)
        runs["warm_console"] = await console(bot, db, console_data)
        if not args.skip_http:
            db = fresh_copy("http")
            http_data = data_dir(work, "data-http", models)
            runs["cold_http"] = await http_run(
                env=environment(db, http_data), cwd=work, probes=probes, within=timeout
            )
            runs["warm_http"] = await http_run(
                env=environment(db, http_data), cwd=work, probes=probes, within=timeout
            )
        if args.legacy_src:
            legacy_db = legacy_copy(source, work)
            legacy_env = environment(
                legacy_db, data_dir(work, "data-legacy", models), PYTHONPATH=str(args.legacy_src)
            )
            try:
                runs["legacy_code"] = await console_run(
                    bot, env=legacy_env, cwd=Path(args.legacy_src), probes=probes, within=args.legacy_timeout
                )
            except TimeoutError:
                runs["legacy_code"] = {"ready_seconds": f"> {args.legacy_timeout} (stopped)"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline = runs["baseline_blocking_build"]["ready_seconds"]

    def ratio(name: str) -> float | None:
        value = runs.get(name, {}).get("ready_seconds")
        return round(baseline / value, 1) if isinstance(value, int | float) and value else None

    return {
        "benchmark": "startup",
        "customers": args.customers,
        "store": "sqlite",
        "probes": {"exact": probes.exact, "typo": probes.typo},
        "runs": runs,
        "ready_speedup_vs_baseline": {
            name: ratio(name) for name in runs if name != "baseline_blocking_build"
        },
        "notes": {
            "ready_seconds": "process start to the first correct answer to `find <exact name>`",
            "fuzzy_ready_seconds": "process start to the first typo'd find that finds its customer",
            "baseline_blocking_build": "App.start builds the whole index in-process before answering",
            "rss_mb": "VmRSS/VmHWM of the crm-bot process; index_build_child_peak: the build child's VmHWM",
        },
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=300.0, help="per-answer and per-run limit, seconds")
    parser.add_argument("--skip-http", action="store_true", help="console runs only")
    parser.add_argument("--legacy-src", type=Path, help="a checkout of the code before this change")
    parser.add_argument("--legacy-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
