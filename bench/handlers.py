"""Benchmark the handler path alone (actor, router, store, fuzzy lookup) on SQLite; prints one JSON object.

A book of 100,000 customers (names from bench/synthetic_book.py) with 50 reps on Slack, orders,
interactions, open tickets and reminders is built once with sqlite3 and cached (``--cache``,
default /tmp/crm-bench); each run works on a fresh copy. The messages are what 50 reps send on a
busy day: find with typos, show (a typo'd name, so some get a pick list), log, remind, tickets,
ticket, reminders, and button presses (show, timeline, snooze). Each message resolves its rep
as the front ends do (``staff_actor``) and goes through ``Router.handle``; no front end, no
sentiment model.

What is measured, on the same messages for both stores (one event loop, stores side by side):
- capacity: 50 reps each sending their next message as soon as the last is answered
  (messages/s, p50/p99 latency), in rounds that alternate the stores so a change in the
  machine's load falls on both;
- latency at one steady rate for both (``--fraction`` of the first store's capacity):
  messages start on a fixed schedule whatever happened before, latency counts from the
  scheduled start, so a store that falls behind shows it;
- the same at the target rate (``--rate``, 2,000/s) for the store as it is.
The store as it is (pooled connections, one trip per statement, one in-process writer queue,
the speaker cache) is compared with a baseline in the same run: a new connection per
transaction (NullPool) with aiosqlite's own cursors, writers meeting on SQLite's file lock
(busy timeout), who is speaking read on every message. Failures are apologies from the
router's error funnel, with their causes ("database is locked"; StoreBusy: a transaction waited
longer than the pool timeout, 30 s, for its turn).

Run from the repository root: ``.venv/bin/python bench/handlers.py [--customers N --rate R]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on the path, and this file is named like the
# handlers package it measures: the repository root must win.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench.synthetic_book import make_book, perturb  # noqa: E402
from crm_store.engine import configure_sqlite, create_engine  # noqa: E402
from crm_store.migrate import head_revision, upgrade  # noqa: E402
from crm_store.speakers import SpeakerCache  # noqa: E402
from crm_store.store import Store  # noqa: E402
from handlers.context import HandlerSettings, Services  # noqa: E402
from handlers.lookup import CustomerLookup  # noqa: E402
from handlers.messages import Actor, Message, Reply  # noqa: E402
from handlers.people import staff_actor  # noqa: E402
from handlers.router import APOLOGY, Router  # noqa: E402

# Bump when the seeded book changes, so a cached file from before is not reused.
BOOK_VERSION = 1
REPS = 50
WARM = 500  # messages each store answers before anything is timed (pool, caches, statements)
ROUNDS = 4
SEED = 20261123
FORMAT = "%Y-%m-%d %H:%M:%S.%f"
PLATFORM = "slack"
# The share of each kind of message in the mix (a busy floor: mostly looking things up).
MIX = {
    "find": 24,
    "show": 14,
    "log": 12,
    "remind": 8,
    "tickets": 8,
    "ticket": 5,
    "reminders": 6,
    "press-show": 12,
    "press-timeline": 5,
    "press-snooze": 6,
}
NOTES = ("discussed renewal", "asked for a quote", "no answer, left a voicemail", "sent the deck")


@dataclass(frozen=True, slots=True)
class Planned:
    rep: int  # 1-based rep number
    kind: str
    text: str = ""
    action: str | None = None


def rep_user(n: int) -> str:
    return f"U{n:04d}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).strftime(FORMAT)


def book_file(cache: Path, customers: int) -> Path:
    return cache / f"handlers-{customers}-v{BOOK_VERSION}-{head_revision()}.db"


def build_book(path: Path, customers: int) -> float:
    """The seeded book, written next to ``path`` and renamed into place (a half-built file is
    never reused). Returns seconds taken."""
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)

    async def _migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{partial}")
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(_migrate())
    rng = np.random.default_rng(SEED)
    now = datetime.now(UTC)
    created = _stamp(now - timedelta(days=400))
    book = make_book(customers, seed=SEED)
    conn = sqlite3.connect(partial, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO reps (id, display_name, role, timezone, created_at) VALUES (?, ?, ?, 'UTC', ?)",
        [(n, f"Rep {n}", "manager" if n <= 3 else "rep", created) for n in range(1, REPS + 1)],
    )
    conn.executemany(
        "INSERT INTO identities (platform, external_id, rep_id, display_name, created_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(PLATFORM, rep_user(n), n, f"Rep {n}", created) for n in range(1, REPS + 1)],
    )
    owners = rng.integers(1, REPS + 1, size=customers).tolist()
    owned = (rng.random(customers) < 0.6).tolist()
    conn.executemany(
        "INSERT INTO customers (id, name, company, email, phone, owner_rep_id, status, source, tags,"
        " custom, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'active', 'import', '[]', '{}', ?, ?)",
        [
            (c.id, c.name, c.company, c.email, c.phone, owner if own else None, created, created)
            for c, owner, own in zip(book, owners, owned, strict=True)
        ],
    )

    def stamps(count: int, days: int) -> list[str]:
        minutes = rng.integers(0, days * 1440, size=count).tolist()
        return [_stamp(now - timedelta(minutes=m)) for m in minutes]

    n = customers * 3
    conn.executemany(
        "INSERT INTO orders (customer_id, rep_id, amount_cents, currency, note, ordered_at, created_at)"
        " VALUES (?, ?, ?, 'USD', '', ?, ?)",
        zip(
            rng.integers(1, customers + 1, size=n).tolist(),
            rng.integers(1, REPS + 1, size=n).tolist(),
            rng.lognormal(9.0, 1.2, size=n).astype(np.int64).tolist(),
            stamps(n, 730),
            [created] * n,
            strict=True,
        ),
    )
    n = customers * 2
    conn.executemany(
        "INSERT INTO interactions (customer_id, rep_id, channel, kind, direction, text, occurred_at,"
        " created_at) VALUES (?, ?, 'slack', ?, 'out', ?, ?, ?)",
        zip(
            rng.integers(1, customers + 1, size=n).tolist(),
            rng.integers(1, REPS + 1, size=n).tolist(),
            rng.choice(["call", "email", "meeting", "note"], size=n).tolist(),
            rng.choice(NOTES, size=n).tolist(),
            stamps(n, 365),
            [created] * n,
            strict=True,
        ),
    )
    n = customers // 10
    opened = stamps(n, 60)
    states = rng.choice(["open", "open", "pending", "resolved", "resolved"], size=n).tolist()
    conn.executemany(
        "INSERT INTO tickets (customer_id, subject, status, priority, assignee_rep_id, source,"
        " created_at, updated_at, resolved_at) VALUES (?, ?, ?, 'normal', ?, 'telegram', ?, ?, ?)",
        [
            (
                c,
                "Printer will not print",
                s,
                None if s == "open" and a % 2 else a,
                o,
                o,
                o if s == "resolved" else None,
            )
            for c, s, a, o in zip(
                rng.integers(1, customers + 1, size=n).tolist(),
                states,
                rng.integers(1, REPS + 1, size=n).tolist(),
                opened,
                strict=True,
            )
        ],
    )
    n = REPS * 20
    conn.executemany(
        "INSERT INTO reminders (rep_id, customer_id, text, due_at, status, created_at)"
        " VALUES (?, ?, 'call back', ?, 'pending', ?)",
        zip(
            [1 + i % REPS for i in range(n)],
            rng.integers(1, customers + 1, size=n).tolist(),
            [_stamp(now + timedelta(days=30 + i % 60)) for i in range(n)],
            [created] * n,
            strict=True,
        ),
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    partial.replace(path)
    return time.perf_counter() - started


def plan(customers: int, count: int, *, seed: int) -> list[Planned]:
    """``count`` messages from the 50 reps, in the order they are sent."""
    rng = random.Random(seed)
    book = make_book(customers, seed=SEED)
    reminder_ids = {r: [r + REPS * i for i in range(20)] for r in range(1, REPS + 1)}
    kinds, weights = zip(*MIX.items(), strict=True)
    out: list[Planned] = []
    for _ in range(count):
        rep = rng.randint(1, REPS)
        kind = rng.choices(kinds, weights)[0]
        target = rng.choice(book)
        typed, _ = perturb(target.name, rng, person=True)
        cid = target.id
        if kind == "find":
            field = target.company if target.company and rng.random() < 0.4 else target.name
            out.append(Planned(rep, kind, f"find {perturb(field, rng, person=field == target.name)[0]}"))
        elif kind == "show":
            out.append(Planned(rep, kind, f"show {typed}"))
        elif kind == "log":
            who = typed if rng.random() < 0.5 else f"#{cid}"
            kind_word = rng.choice(("call", "email", "meeting", "note"))
            out.append(Planned(rep, kind, f"log {who} {kind_word}: {rng.choice(NOTES)}"))
        elif kind == "remind":
            out.append(Planned(rep, kind, f"remind #{cid} tomorrow 10:00: follow up on the quote"))
        elif kind == "tickets":
            out.append(Planned(rep, kind, rng.choice(("tickets", "tickets mine", "tickets open"))))
        elif kind == "ticket":
            out.append(Planned(rep, kind, f"ticket {rng.randint(1, customers // 10)}"))
        elif kind == "reminders":
            out.append(Planned(rep, kind, "reminders"))
        elif kind == "press-show":
            out.append(Planned(rep, kind, action=f"crm:show:{cid}"))
        elif kind == "press-timeline":
            out.append(Planned(rep, kind, action=f"crm:timeline:{cid}"))
        else:
            out.append(Planned(rep, kind, action=f"crm:snooze-1h:{rng.choice(reminder_ids[rep])}"))
    return out


_SENDER: ContextVar[Runner | None] = ContextVar("bench_sender", default=None)


class _FailureCauses(logging.Handler):
    """Counts, per runner, why the router's error funnel apologised ("database is locked",
    "the store is busy", ...): the funnel logs the exception of every failure."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)

    def emit(self, record: logging.LogRecord) -> None:
        runner = _SENDER.get()
        if runner is None or not record.exc_info or record.exc_info[1] is None:
            return
        exc = record.exc_info[1]
        cause = "database is locked" if "database is locked" in str(exc) else type(exc).__name__
        runner.causes[cause] += 1


class FileLockStore(Store):
    """The baseline: every writer goes straight to SQLite's file lock (BEGIN IMMEDIATE and the
    busy timeout), as the store did before its in-process writer queue."""

    async def _take_turn(self, *, write: bool, urgent: bool = False) -> Any:
        return None


def open_store(url: str, variant: str) -> Store:
    if variant == "pooled":
        return Store.open(url)
    engine = create_async_engine(url, poolclass=NullPool)
    configure_sqlite(engine)
    store = FileLockStore(engine)
    store.speakers = SpeakerCache(ttl=0)  # who is speaking is read on every message
    return store


class Runner:
    def __init__(self, store: Store, router: Router) -> None:
        self.store = store
        self.router = router
        self.failures = 0
        self.kinds: Counter[str] = Counter()
        self.causes: Counter[str] = Counter()

    async def send(self, item: Planned) -> float:
        started = time.perf_counter()
        _SENDER.set(self)
        try:
            actor: Actor = await staff_actor(
                self.store, platform=PLATFORM, user_id=rep_user(item.rep), display_name=f"Rep {item.rep}"
            )
            if item.action is not None:
                reply = await self.router.handle(Message(actor=actor, action=item.action))
            else:
                reply = await self.router.handle(Message(actor=actor, text=item.text))
        except Exception as exc:  # outside the router's funnel (who is speaking): what a front end logs
            self.failures += 1
            self.causes[type(exc).__name__] += 1
        else:
            self._note(item, reply)
        return time.perf_counter() - started

    def _note(self, item: Planned, reply: Reply) -> None:
        if reply.is_error and reply.text == APOLOGY:
            self.failures += 1
        self.kinds["error_reply" if reply.is_error else "answer"] += 1

    async def closed_loop(self, items: Sequence[Planned]) -> tuple[float, list[float]]:
        """Each rep sends their next message when the last is answered."""
        queues: dict[int, list[Planned]] = {}
        for item in items:
            queues.setdefault(item.rep, []).append(item)
        latencies: list[float] = []

        async def rep_loop(mine: list[Planned]) -> None:
            for item in mine:
                latencies.append(await self.send(item))

        started = time.perf_counter()
        await asyncio.gather(*(rep_loop(q) for q in queues.values()))
        return time.perf_counter() - started, latencies

    async def open_loop(self, items: Sequence[Planned], rate: float) -> tuple[float, list[float]]:
        """Message i starts at i/rate seconds whatever happened before; latency from that time."""
        latencies: list[float] = []
        loop = asyncio.get_running_loop()

        async def one(item: Planned, due: float) -> None:
            await self.send(item)
            latencies.append(loop.time() - due)

        tasks = []
        begin = loop.time() + 0.05
        for i, item in enumerate(items):
            due = begin + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(item, due)))
        await asyncio.gather(*tasks)
        return loop.time() - begin, latencies


def _ms(values: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)) * 1000, 2)


async def _runner(url: str, variant: str) -> Runner:
    store = open_store(url, variant)
    services = Services(store=store, lookup=CustomerLookup(store), settings=HandlerSettings())
    await services.lookup.refresh(force=True)
    return Runner(store, Router(services))


def _steady(runner: Runner, seconds: float, latencies: list[float], count: int) -> dict[str, Any]:
    figures = {
        "messages": count,
        "achieved_per_second": round(count / seconds, 1),
        "p50_ms": _ms(latencies, 50),
        "p99_ms": _ms(latencies, 99),
        "max_ms": round(max(latencies) * 1000, 1),
        "failures": runner.failures,
    }
    runner.failures = 0
    return figures


async def measure(
    paths: dict[str, Path], messages: Sequence[Planned], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Both stores in one loop: the closed loop in alternating rounds (so a change in the
    machine's load falls on both), then the steady parts."""
    runners = {v: await _runner(f"sqlite+aiosqlite:///{path}", v) for v, path in paths.items()}
    warm, rest = messages[:WARM], messages[WARM:]
    for runner in runners.values():
        await runner.closed_loop(warm)
        runner.failures = 0
    share = {"pooled": 1.0, "baseline": args.baseline_share}
    per_round = args.messages // ROUNDS
    seconds = dict.fromkeys(runners, 0.0)
    closed: dict[str, list[float]] = {v: [] for v in runners}
    for r in range(ROUNDS):
        chunk = rest[r * per_round : (r + 1) * per_round]
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for variant in order:
            took, latencies = await runners[variant].closed_loop(chunk[: int(len(chunk) * share[variant])])
            seconds[variant] += took
            closed[variant] += latencies
    rest = rest[ROUNDS * per_round :]
    results: dict[str, dict[str, Any]] = {}
    for variant, runner in runners.items():
        results[variant] = {
            "messages_per_second": round(len(closed[variant]) / seconds[variant], 1),
            "p50_ms": _ms(closed[variant], 50),
            "p99_ms": _ms(closed[variant], 99),
            "failures": runner.failures,
        }
        runner.failures = 0
    # The same steady rate for both, well within what the store as it is carries.
    rate = round(results["pooled"]["messages_per_second"] * args.fraction, 1)
    count = int(rate * args.seconds)
    for variant, runner in runners.items():
        took, latencies = await runner.open_loop(rest[:count], rate)
        results[variant][f"steady_at_{args.fraction:g}_of_capacity"] = {
            "offered_per_second": rate,
            **_steady(runner, took, latencies, count),
        }
    # The target rate, for the store as it is (shorter: beyond capacity the queue only grows).
    count = int(args.rate * args.target_seconds)
    took, latencies = await runners["pooled"].open_loop(rest[-count:], args.rate)
    results["pooled"]["steady_at_target_rate"] = {
        "offered_per_second": args.rate,
        **_steady(runners["pooled"], took, latencies, count),
    }
    for variant, runner in runners.items():
        results[variant]["answers"] = dict(runner.kinds)
        results[variant]["failure_causes"] = dict(runner.causes)
        await runner.store.close()
    return results


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=8_000, help="closed-loop messages (store as it is)")
    parser.add_argument("--baseline-share", type=float, default=0.3, help="the baseline's share of those")
    parser.add_argument("--rate", type=float, default=2_000.0, help="the target rate, messages/s")
    parser.add_argument("--fraction", type=float, default=0.5, help="steady rate for both, of capacity")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the steady part for both")
    parser.add_argument("--target-seconds", type=float, default=2.0, help="length of the part at --rate")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "crm-bench")
    args = parser.parse_args(argv)

    router_log = logging.getLogger("handlers.router")
    router_log.addHandler(_FailureCauses())
    router_log.propagate = False  # the baseline's failures would flood stderr; they are counted
    cached = book_file(args.cache, args.customers)
    build_seconds = 0.0 if cached.exists() else build_book(cached, args.customers)
    steady = int(args.rate * args.seconds) + int(args.rate * args.target_seconds)
    messages = plan(args.customers, WARM + args.messages + steady, seed=SEED)
    with tempfile.TemporaryDirectory() as work:
        paths = {variant: Path(work) / f"{variant}.db" for variant in ("baseline", "pooled")}
        for path in paths.values():
            shutil.copy(cached, path)
        results = asyncio.run(measure(paths, messages, args))
    pooled, baseline = results["pooled"], results["baseline"]
    at_target = pooled["steady_at_target_rate"]
    out = {
        "customers": args.customers,
        "reps": REPS,
        "mix": MIX,
        "book_build_seconds": round(build_seconds, 1),
        "pooled": pooled,
        "baseline_new_connection_per_transaction": baseline,
        "throughput_ratio": round(pooled["messages_per_second"] / baseline["messages_per_second"], 2),
        "database_locked": sum(r["failure_causes"].get("database is locked", 0) for r in results.values()),
        "target": {"messages_per_second": args.rate, "p99_ms": 20},
        "target_met": at_target["achieved_per_second"] >= 0.98 * args.rate and at_target["p99_ms"] < 20,
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
