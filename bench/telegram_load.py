"""Telegram load bench: `crm-bot run` in webhook mode, customers' updates at rising steady rates; one JSON.

The bot runs as a subprocess (`python -m bot run`) in webhook mode against the Bot API stand-in
(bench/bot_api_sink.py, through TELEGRAM_API_URL) on the 100,000-customer book of
bench/handlers.py, of whom 300 are linked to Telegram accounts, each with an open ticket and a
resolved one not yet rated (``--database postgres``: the same rows in a fresh PostgreSQL
database). Updates are posted as Telegram posts them (JSON, the secret token header), round-robin
over the 300 customers: a message to the open ticket, /status, or a press of a rating button
(callback_query). An update refused (any status but 200, or no answer) is delivered again as
Telegram does, after its Retry-After (or 2 s), with the same update_id.

At each rate (open loop, latencies from the scheduled time): webhook response p50/p99, the
statuses (5xx; 429/503 with Retry-After count as shed, not as errors), updates answered within
20 s of the stage's last request, answer p50/p99 (an update's answer: the next sendMessage or
editMessageText in its chat; a press also needs its answerCallbackQuery), lost (unanswered) and
doubled per stage (an answer after the stage's 20 s counts against the next stage's: the
figures over the whole run, once everything is answered, are ``exactly_once_over_the_run``).
Then the same at twice
the highest rate that met the targets (webhook p99 < 300 ms, no 5xx, all answered once, answer
p99 < 1 s): shed or queued, and the "database is locked" lines of the bot's log, which must be 0.

Run from the repository root: ``.venv/bin/python bench/telegram_load.py``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.bot_api_sink import TOKEN, BotApiSink  # noqa: E402
from bench.handlers import FORMAT, book_file, build_book  # noqa: E402
from bench.load_common import (  # noqa: E402
    BotProcess,
    HealthPoll,
    bot_env,
    bot_process,
    data_dir,
    drop_pg,
    models_dir,
    ms,
    open_loop,
    pg_book,
)

SECRET = "bench-webhook-secret"
CUSTOMERS_ON_TELEGRAM = 300
FIRST_TELEGRAM_ID = 700_000_000
ANSWER_WITHIN = 20.0
WEBHOOK_P99_MS = 300
ANSWER_P99_MS = 1000
REDELIVER_AFTER = 2.0  # seconds, when a refusal names no Retry-After
MAX_DELIVERIES = 8
MIX = {"message": 60, "status": 25, "rate": 15}
TEXTS = (
    "Any news on this?",
    "It still does not work after the restart",
    "Thanks, that helped a bit",
    "Can someone call me back please",
    "The screen flickers again",
)
BOOK_TABLES = ("reps", "identities", "customers", "orders", "interactions", "tickets", "reminders")


def telegram_book(cache: Path, customers: int) -> tuple[Path, dict[int, int]]:
    """The handlers bench's book plus 300 customers linked to Telegram, each with an open ticket
    and a resolved one to rate; and each Telegram user's resolved ticket."""
    base = book_file(cache, customers)
    target = base.with_name(base.stem + "-telegram.db")
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(base, partial)
        conn = sqlite3.connect(partial, isolation_level=None)
        now = datetime.now(UTC)
        stamp = (now - timedelta(days=2)).replace(tzinfo=None).strftime(FORMAT)
        resolved_at = {"resolved": stamp}
        conn.execute("BEGIN IMMEDIATE")
        for n in range(1, CUSTOMERS_ON_TELEGRAM + 1):
            conn.execute(
                "INSERT INTO identities (platform, external_id, customer_id, display_name, created_at)"
                " VALUES ('telegram', ?, ?, ?, ?)",
                (str(FIRST_TELEGRAM_ID + n), n, f"Customer {n}", stamp),
            )
            for status in ("resolved", "open"):
                conn.execute(
                    "INSERT INTO tickets (customer_id, subject, status, priority, source, created_at,"
                    " updated_at, resolved_at) VALUES (?, ?, ?, 'normal', 'telegram', ?, ?, ?)",
                    (n, f"Bench ticket {status}", status, stamp, stamp, resolved_at.get(status)),
                )
        conn.execute("COMMIT")
        conn.close()
        partial.replace(target)
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    rated = dict(
        conn.execute(
            "SELECT customer_id, id FROM tickets"
            " WHERE subject = 'Bench ticket resolved' AND customer_id <= ?",
            (CUSTOMERS_ON_TELEGRAM,),
        ).fetchall()
    )
    conn.close()
    return target, {FIRST_TELEGRAM_ID + c: t for c, t in rated.items()}


@dataclass(slots=True)
class Update:
    update_id: int
    user: int
    kind: str
    body: bytes
    callback_id: str | None = None


class Plan:
    """Updates round-robin over the customers (in a shuffled order), so one customer's updates
    are 300/rate seconds apart, as a person typing would be."""

    def __init__(self, rated: dict[int, int], seed: int) -> None:
        self.rng = random.Random(seed)
        self.users = list(rated)
        self.rng.shuffle(self.users)
        self.rated = rated
        self.next_id = 1
        self.turn = 0
        self.sent: list[Update] = []

    def make(self, count: int) -> list[Update]:
        kinds, weights = zip(*MIX.items(), strict=True)
        out = []
        for _ in range(count):
            user = self.users[self.turn % len(self.users)]
            self.turn += 1
            kind = self.rng.choices(kinds, weights)[0]
            uid = self.next_id
            self.next_id += 1
            sender = {"id": user, "is_bot": False, "first_name": f"Customer {user - FIRST_TELEGRAM_ID}"}
            chat = {"id": user, "type": "private", "first_name": sender["first_name"]}
            callback_id = None
            if kind == "rate":
                callback_id = f"cq-{uid}"
                data: dict[str, Any] = {
                    "update_id": uid,
                    "callback_query": {
                        "id": callback_id,
                        "from": sender,
                        "chat_instance": "ci",
                        "data": f"crm:csat:{self.rated[user]}-{self.rng.randint(3, 5)}",
                        "message": {
                            "message_id": 10,
                            "date": int(time.time()),
                            "chat": chat,
                            "from": {"id": 123456, "is_bot": True, "first_name": "CRM"},
                            "text": "How did we do?",
                        },
                    },
                }
            else:
                text = "/status" if kind == "status" else self.rng.choice(TEXTS)
                message: dict[str, Any] = {
                    "message_id": 1000 + uid,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": sender,
                    "text": text,
                }
                if kind == "status":
                    message["entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
                data = {"update_id": uid, "message": message}
            out.append(Update(uid, user, kind, json.dumps(data).encode(), callback_id))
        self.sent += out
        return out


class Stage:
    def __init__(self, name: str, rate: float, updates: list[Update], sink: BotApiSink) -> None:
        self.name = name
        self.rate = rate
        self.updates = updates
        self.sink = sink
        self.due = [0.0] * len(updates)
        self.response: list[float | None] = [None] * len(updates)  # the first delivery's
        self.statuses: dict[str, int] = {}
        self.shed_with_retry_after = 0
        self.deliveries = 0
        self.accepted = [False] * len(updates)
        self.sink_start = len(sink.received), len(sink.edits)

    async def send(self, session: aiohttp.ClientSession, url: str, i: int, due: float) -> None:
        self.due[i] = due
        update = self.updates[i]
        headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": SECRET}
        for attempt in range(MAX_DELIVERIES):
            started = time.monotonic()
            retry_after: str | None = None
            try:
                async with session.post(url + "/telegram/webhook", data=update.body, headers=headers) as r:
                    await r.read()
                    code = str(r.status)
                    retry_after = r.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                code = type(exc).__name__
            self.deliveries += 1
            if attempt == 0:
                self.response[i] = time.monotonic() - due
            self.statuses[code] = self.statuses.get(code, 0) + 1
            if code == "200":
                self.accepted[i] = True
                return
            if code in ("429", "503") and retry_after is not None:
                self.shed_with_retry_after += 1
            wait = float(retry_after) if retry_after and retry_after.isdigit() else REDELIVER_AFTER
            await asyncio.sleep(max(0.0, wait - (time.monotonic() - started)))

    def figures(
        self, *, begin: float, last: float, health: HealthPoll, log: dict[str, int]
    ) -> dict[str, Any]:
        """Answers matched per chat in order: an update's answer is its chat's next message."""
        sent, edited = self.sink_start
        by_chat: dict[str, list[float]] = {}
        for r in [*self.sink.received[sent:], *self.sink.edits[edited:]]:
            by_chat.setdefault(r.chat_id, []).append(r.at)
        for times in by_chat.values():
            times.sort()
        expected: dict[str, list[int]] = {}
        for i, u in enumerate(self.updates):
            expected.setdefault(str(u.user), []).append(i)
        answers: list[float] = []
        lost = doubled = 0
        cutoff = last + ANSWER_WITHIN
        for chat, indices in expected.items():
            arrived = [t for t in by_chat.get(chat, []) if t <= cutoff]
            doubled += max(0, len(by_chat.get(chat, [])) - len(indices))
            for n, i in enumerate(indices):
                if n >= len(arrived):
                    lost += 1
                    continue
                answers.append(arrived[n] - self.due[i])
        unanswered_presses = 0
        for u in self.updates:
            if u.callback_id is not None:
                calls = self.sink.callbacks.get(u.callback_id, [])
                doubled += max(0, len(calls) - 1)
                unanswered_presses += not calls
        responses = [r for r in self.response if r is not None]
        fives = sum(v for k, v in self.statuses.items() if k.startswith("5") and k != "503")
        bare_503 = self.statuses.get("503", 0) - self.shed_with_retry_after
        out = {
            "offered_per_second": self.rate,
            "updates": len(self.updates),
            "sent_over_seconds": round(last - begin, 1),
            "deliveries": self.deliveries,
            "statuses": dict(sorted(self.statuses.items())),
            "shed_with_retry_after": self.shed_with_retry_after,
            "5xx_without_retry_after": fives + max(0, bare_503),
            "webhook_p50_ms": ms(responses, 50),
            "webhook_p99_ms": ms(responses, 99),
            "answered_within_20s": len(answers),
            "answer_p50_ms": ms(answers, 50),
            "answer_p99_ms": ms(answers, 99),
            "lost": lost,
            "doubled": doubled,
            "presses_without_answer_callback_query": unanswered_presses,
            "healthz": health.between(begin, last + 1),
            "log": log,
        }
        out["meets_targets"] = bool(
            out["5xx_without_retry_after"] == 0
            and self.shed_with_retry_after == 0
            and (out["webhook_p99_ms"] or 1e9) < WEBHOOK_P99_MS
            and len(answers) == len(self.updates)
            and lost == 0
            and doubled == 0
            and unanswered_presses == 0
            and (out["answer_p99_ms"] or 1e9) < ANSWER_P99_MS
        )
        return out


async def _stage(
    stage: Stage, session: aiohttp.ClientSession, bot: BotProcess, health: HealthPoll
) -> dict[str, Any]:
    since = bot.log_size()

    async def send(i: int, due: float) -> None:
        await stage.send(session, bot.url, i, due)

    begin, last = await open_loop(len(stage.updates), stage.rate, send)
    deadline = last + ANSWER_WITHIN
    want = len(stage.updates)
    start_sent, start_edited = stage.sink_start
    while time.monotonic() < deadline:
        if len(stage.sink.received) - start_sent + len(stage.sink.edits) - start_edited >= want:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a doubled answer would come right after
    return stage.figures(begin=begin, last=last, health=health, log=bot.log_counts(since))


async def _exactly_once(plan: Plan, sink: BotApiSink, *, within: float = 90.0) -> dict[str, Any]:
    """After the last stage (and what is still queued) is answered: every update sent answered
    exactly once, counted per chat over the whole run (a late answer counts for its own update,
    not as a second one for a later stage's), and every press's callback answered once."""
    deadline = time.monotonic() + within
    while len(sink.received) + len(sink.edits) < len(plan.sent) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a second answer would come right after
    expected: dict[str, int] = {}
    for update in plan.sent:
        expected[str(update.user)] = expected.get(str(update.user), 0) + 1
    arrived: dict[str, int] = {}
    for answer in [*sink.received, *sink.edits]:
        arrived[answer.chat_id] = arrived.get(answer.chat_id, 0) + 1
    presses = [u.callback_id for u in plan.sent if u.callback_id is not None]
    return {
        "updates": len(plan.sent),
        "answers": len(sink.received) + len(sink.edits),
        "lost": sum(max(0, n - arrived.get(chat, 0)) for chat, n in expected.items()),
        "doubled": sum(max(0, n - expected.get(chat, 0)) for chat, n in arrived.items()),
        "presses_answered_not_once": sum(len(sink.callbacks.get(p, [])) != 1 for p in presses),
        "waited_seconds": round(within - max(0.0, deadline - time.monotonic()), 1),
    }


async def run_variant(
    *,
    database_url: str,
    rated: dict[int, int],
    source: Path,
    work: Path,
    models: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    sink = await BotApiSink().start()
    env = bot_env(
        database_url,
        data_dir(work, "data", models),
        source,
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=sink.url,
        TELEGRAM_WEBHOOK_URL="https://bench.invalid/telegram/webhook",
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        CRM_LOG_LEVEL="WARNING",
        **dict(kv.split("=", 1) for kv in args.bot_env),
    )
    plan = Plan(rated, seed=20261203)
    stages: dict[str, Any] = {}
    try:
        async with bot_process(env, work, work / "bot.log") as bot:
            connector = aiohttp.TCPConnector(limit=1000)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                health = HealthPoll(bot.url)
                health.start()
                try:
                    await _stage(Stage("warm", 10, plan.make(args.warm), sink), session, bot, health)
                    for rate in args.rates:
                        stage = Stage(f"r{rate:g}", rate, plan.make(int(rate * args.seconds)), sink)
                        stages[f"{rate:g}_per_second"] = await _stage(stage, session, bot, health)
                        await asyncio.sleep(args.pause)
                    met = [s["offered_per_second"] for s in stages.values() if s["meets_targets"]]
                    sustainable = max(met) if met else min(args.rates)
                    rate = 2 * sustainable
                    stage = Stage("over", rate, plan.make(int(rate * args.seconds)), sink)
                    overload = await _stage(stage, session, bot, health)
                    overall = await _exactly_once(plan, sink)
                finally:
                    health.stop()
            log = bot.log_counts()
    finally:
        await sink.stop()
    return {
        "source": str(source),
        "stages": stages,
        "highest_rate_meeting_targets": max(met) if met else None,
        "overload": {"at_twice_sustainable": rate, **overload},
        "exactly_once_over_the_run": overall,
        "log": log,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    book, rated = telegram_book(args.cache, args.customers)
    work = Path(tempfile.mkdtemp(prefix="telegram-load-", dir=args.cache))
    pg_url = None
    try:
        if args.database == "postgres":
            pg_url = database_url = await pg_book(book, BOOK_TABLES)
        else:
            db = work / "crm.db"
            shutil.copyfile(book, db)
            database_url = f"sqlite+aiosqlite:///{db}"
        result = await run_variant(
            database_url=database_url,
            rated=rated,
            source=args.source.resolve(),
            work=work,
            models=args.cache / "models",
            args=args,
        )
    finally:
        if pg_url is not None:
            await drop_pg(pg_url)
        shutil.rmtree(work, ignore_errors=True)
    lowest = result["stages"].get(f"{min(args.rates):g}_per_second", {})
    return {
        "benchmark": "telegram_load",
        "database": args.database,
        "customers": args.customers,
        "customers_on_telegram": CUSTOMERS_ON_TELEGRAM,
        "mix": MIX,
        "seconds_per_rate": args.seconds,
        "targets": {
            "webhook_p99_ms": WEBHOOK_P99_MS,
            "answer_p99_ms": ANSWER_P99_MS,
            "5xx": 0,
            "lost_or_doubled": 0,
            "database_is_locked_at_2x": 0,
        },
        "highest_rate_meeting_targets": result["highest_rate_meeting_targets"],
        "reference_lowest_rate": {
            k: lowest.get(k)
            for k in ("offered_per_second", "webhook_p99_ms", "answer_p50_ms", "answer_p99_ms")
        },
        **result,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rates", type=float, nargs="+", default=[20, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each rate's stage")
    parser.add_argument("--warm", type=int, default=50, help="updates at 10/s before the stages")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between stages")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose bot runs")
    parser.add_argument("--bot-env", nargs="*", default=[], help="extra NAME=value settings for the bot")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "crm-bench")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if not book_file(args.cache, args.customers).exists():
        build_book(book_file(args.cache, args.customers), args.customers)
    models_dir(args.cache)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
