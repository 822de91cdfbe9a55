"""Slack load bench: `crm-bot run` in Slack HTTP mode, signed requests at rising steady rates; one JSON.

The bot runs as a subprocess (`python -m bot run`) against the Slack Web API stand-in
(bench/slack_api_sink.py, through SLACK_API_URL) on a store of 100,000 customers with 50 reps,
orders, interactions, tickets and reminders (the book of bench/handlers.py, cached; each run works
on a copy, or with ``--database postgres`` on the same rows in a fresh PostgreSQL database).

The requests are what 50 reps send on a busy day (bench/handlers.py's mix): `/crm find` with
typos, show, log, remind, tickets, ticket, reminders, and button presses (block_actions: show,
timeline, snooze), each signed as Slack signs it (HMAC-SHA256 over ``v0:ts:body``) and each
with its own response_url. At each rate (open loop: request i is sent at i/rate s whatever
happened before; latencies count from that time) it measures:

- acknowledgement: the HTTP response to the request, p50/p99, and non-200 answers;
- answer: the first post to the request's response_url, p50/p99, and how many were answered
  within 20 s of the last request of the stage;
- GET /healthz, polled every 50 ms throughout, p50/p99/max.

A rate meets the targets when ack p99 < 300 ms, every request is answered and answer p99 < 1 s;
the highest such rate is reported. The lowest rate is the reference; ``--baseline-src DIR`` also
runs the same stages against another checkout (the code before a change) in the same run.

Run from the repository root: ``.venv/bin/python bench/slack_load.py``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.handlers import REPS, SEED, Planned, book_file, build_book, plan, rep_user  # noqa: E402
from bench.load_common import (  # noqa: E402
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
from bench.slack_api_sink import SlackApiSink  # noqa: E402

SECRET = "bench-signing-secret"
TEAM = "T0001"
ANSWER_WITHIN = 20.0  # seconds after a stage's last request
ACK_P99_MS = 300
ANSWER_P99_MS = 1000
HEALTH_P99_MS = 50
BOOK_TABLES = ("reps", "identities", "customers", "orders", "interactions", "tickets", "reminders")


def sign(body: str, timestamp: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(SECRET.encode(), base, hashlib.sha256).hexdigest()


def request_body(item: Planned, key: str, respond: str) -> tuple[str, str]:
    """The body Slack posts for ``item`` (a slash command, or a button press), and its type."""
    user = rep_user(item.rep)
    if item.action is None:
        fields = {
            "token": "legacy",
            "team_id": TEAM,
            "channel_id": "C0SALES",
            "channel_name": "sales",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/crm",
            "text": item.text,
            "api_app_id": "A0001",
            "response_url": respond,
            "trigger_id": f"trigger-{key}",
        }
        return urlencode(fields), "command"
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user, "team_id": TEAM},
        "api_app_id": "A0001",
        "trigger_id": f"trigger-{key}",
        "container": {"type": "message", "channel_id": "C0SALES", "is_ephemeral": True},
        "channel": {"id": "C0SALES"},
        "response_url": respond,
        "actions": [
            {
                "action_id": item.action,
                "block_id": "b1",
                "type": "button",
                "value": item.action,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}), "press"


class Stage:
    """One steady rate: each request's ack latency and status; answers come from the sink."""

    def __init__(self, name: str, rate: float, items: list[Planned], sink: SlackApiSink) -> None:
        self.name = name
        self.rate = rate
        self.items = items
        self.sink = sink
        self.keys = [f"{name}-{i}" for i in range(len(items))]
        self.due: list[float] = [0.0] * len(items)
        self.ack: list[float | None] = [None] * len(items)
        self.status: dict[str, int] = {}
        self.kinds: list[str] = [""] * len(items)

    async def send(self, session: aiohttp.ClientSession, url: str, i: int, due: float) -> None:
        self.due[i] = due
        body, kind = request_body(self.items[i], self.keys[i], self.sink.response_url(self.keys[i]))
        self.kinds[i] = kind
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(body, ts),
        }
        try:
            async with session.post(url + "/slack/events", data=body.encode(), headers=headers) as response:
                await response.read()
                code = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            code = type(exc).__name__
        self.ack[i] = time.monotonic() - due
        self.status[code] = self.status.get(code, 0) + 1

    def answered(self) -> int:
        return sum(1 for k in self.keys if k in self.sink.first_answer)

    def figures(self, *, begin: float, last: float, health: HealthPoll) -> dict[str, Any]:
        acks = [a for a in self.ack if a is not None]
        answers = [
            self.sink.first_answer[k] - self.due[i]
            for i, k in enumerate(self.keys)
            if k in self.sink.first_answer and self.sink.first_answer[k] <= last + ANSWER_WITHIN
        ]
        doubled = sum(1 for k in self.keys if self.sink.answer_count.get(k, 0) > 1)
        count = len(self.items)
        out = {
            "offered_per_second": self.rate,
            "requests": count,
            "sent_over_seconds": round(last - begin, 1),
            "ack_status": dict(sorted(self.status.items())),
            "ack_p50_ms": ms(acks, 50),
            "ack_p99_ms": ms(acks, 99),
            "answered_within_20s": len(answers),
            "answer_p50_ms": ms(answers, 50),
            "answer_p99_ms": ms(answers, 99),
            "answers_in_several_posts": doubled,
            "healthz": health.between(begin, last + 1),
        }
        out["meets_targets"] = bool(
            self.status.get("200", 0) == count
            and (out["ack_p99_ms"] or 1e9) < ACK_P99_MS
            and len(answers) == count
            and (out["answer_p99_ms"] or 1e9) < ANSWER_P99_MS
        )
        return out


async def wait_ready(session: aiohttp.ClientSession, url: str, sink: SlackApiSink, probe: str) -> float:
    """Until a typo'd find is answered from the whole index (not the exact path of start-up)."""
    started = time.monotonic()
    for n in range(600):
        key = f"ready-{n}"
        item = Planned(1, "find", f"find {probe}")
        body, _ = request_body(item, key, sink.response_url(key))
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sign(body, ts),
        }
        async with session.post(url + "/slack/events", data=body.encode(), headers=headers) as response:
            await response.read()
        for _ in range(100):
            if key in sink.first_answer:
                break
            await asyncio.sleep(0.05)
        answer = [r for r in sink.received if r.method == "response_url"]
        if answer and "still loading" not in json.dumps(answer[-1].params):
            return time.monotonic() - started
        await asyncio.sleep(1)
    raise RuntimeError("the index never finished loading")


async def run_variant(
    *, database_url: str, source: Path, work: Path, models: Path, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    sink = await SlackApiSink().start()
    messages = plan(args.customers, int(sum(args.rates) * args.seconds) + args.warm, seed=SEED + 1)
    env = bot_env(
        database_url,
        data_dir(work, f"data-{label}", models),
        source,
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=sink.url,
        CRM_LOG_LEVEL="WARNING",
        **dict(kv.split("=", 1) for kv in args.bot_env),
    )
    log = work / f"{label}.log"
    stages: dict[str, Any] = {}
    try:
        async with bot_process(env, work, log) as bot:
            connector = aiohttp.TCPConnector(limit=1000, force_close=False)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                ready = await wait_ready(session, bot.url, sink, messages[0].text.removeprefix("find "))
                health = HealthPoll(bot.url)
                health.start()
                try:
                    sink.record_calls = False
                    offset = 0
                    warm = Stage("warm", 10, messages[: args.warm], sink)
                    await _stage(warm, session, bot.url)
                    offset = args.warm
                    for rate in args.rates:
                        count = int(rate * args.seconds)
                        stage = Stage(f"r{rate:g}", rate, messages[offset : offset + count], sink)
                        offset += count
                        begin, last = await _stage(stage, session, bot.url)
                        figures = stage.figures(begin=begin, last=last, health=health)
                        stages[f"{rate:g}_per_second"] = figures
                        await asyncio.sleep(args.pause)
                finally:
                    health.stop()
            counts = bot.log_counts()
    finally:
        await sink.stop()
    met = [s["offered_per_second"] for s in stages.values() if s["meets_targets"]]
    return {
        "source": str(source),
        "index_ready_seconds": round(ready, 1),
        "stages": stages,
        "highest_rate_meeting_targets": max(met) if met else None,
        "log": counts,
    }


async def _stage(stage: Stage, session: aiohttp.ClientSession, url: str) -> tuple[float, float]:
    async def send(i: int, due: float) -> None:
        await stage.send(session, url, i, due)

    begin, last = await open_loop(len(stage.items), stage.rate, send)
    deadline = last + ANSWER_WITHIN
    while stage.answered() < len(stage.items) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # the sink's answers are counted as they come
    return begin, last


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cached = book_file(args.cache, args.customers)
    models = args.cache / "models"
    work = Path(tempfile.mkdtemp(prefix="slack-load-", dir=args.cache))
    variants = {"current": ROOT}
    if args.baseline_src:
        variants = {"baseline": args.baseline_src.resolve(), **variants}
    results: dict[str, Any] = {}
    try:
        for label, source in variants.items():
            pg_url = None
            if args.database == "postgres":
                pg_url = database_url = await pg_book(cached, BOOK_TABLES)
            else:
                db = work / f"{label}.db"
                shutil.copyfile(cached, db)
                database_url = f"sqlite+aiosqlite:///{db}"
            try:
                results[label] = await run_variant(
                    database_url=database_url, source=source, work=work, models=models, args=args, label=label
                )
            finally:
                if pg_url is not None:
                    await drop_pg(pg_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    current = results["current"]
    lowest = current["stages"].get(f"{min(args.rates):g}_per_second", {})
    out: dict[str, Any] = {
        "benchmark": "slack_load",
        "database": args.database,
        "customers": args.customers,
        "reps": REPS,
        "seconds_per_rate": args.seconds,
        "targets": {
            "ack_p99_ms": ACK_P99_MS,
            "answer_p99_ms": ANSWER_P99_MS,
            "all_answered_within_s": ANSWER_WITHIN,
            "healthz_p99_ms": HEALTH_P99_MS,
        },
        "highest_rate_meeting_targets": current["highest_rate_meeting_targets"],
        "reference_lowest_rate": {
            k: lowest.get(k) for k in ("offered_per_second", "ack_p99_ms", "answer_p50_ms", "answer_p99_ms")
        },
        "runs": results,
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "sqlite": sqlite3.sqlite_version,
    }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each rate's stage")
    parser.add_argument("--warm", type=int, default=100, help="requests at 10/s before the stages")
    parser.add_argument("--pause", type=float, default=2.0, help="seconds between stages")
    parser.add_argument("--baseline-src", type=Path, help="a checkout of the code before a change")
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
