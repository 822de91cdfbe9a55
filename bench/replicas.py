"""Replicas on PostgreSQL: 1 and then 2 `crm-bot run` processes (Slack HTTP mode, one database,
the Slack stand-in bench/slack_api_sink.py) behind the same signed `/crm` load, round-robin over
their ports; the highest steady rate each carries within acknowledgement p99 < 300 ms, every
request answered, answer p99 < 1 s. Then 20,000 reminders due at once on two replicas, one of
them SIGKILLed part-way: duplicates and losses counted at the stand-in, per-channel pacing, and
the drain time against the platform bound (Slack: 1 message/s per channel, bot/delivery.py).

    .venv/bin/python bench/replicas.py

Prints one JSON object. The customer book (100,000 by default) is built once into a PostgreSQL
template database (crm_bench_book_<size>_s<seed>) and each run gets a copy of it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from aiohttp import web  # noqa: E402
from slack_sdk.signature import SignatureVerifier  # noqa: E402

from bench.book_db import CACHE_DIR  # noqa: E402
from bench.load_common import bot_env  # noqa: E402
from bench.slack_api_sink import SlackApiSink  # noqa: E402
from bench.startup import data_dir, train_models  # noqa: E402
from bench.synthetic_book import make_book, make_queries  # noqa: E402
from crm_store.engine import create_engine  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from crm_store.tables import reminders as reminders_table  # noqa: E402

SERVER = os.environ.get("CRM_BENCH_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
SECRET = "bench-signing-secret"
REPS = 50
ACK_P99_MS = 300.0
ANSWER_P99_MS = 1000.0
ANSWER_WITHIN = 20.0  # seconds after the last request of a step
SLACK_CHANNEL_GAP = 1.0  # bot/delivery.py platform_limits: about 1 message/s per Slack channel
SETTLE = 20.0  # seconds between the first answers and the first step
REMINDER_ID = re.compile(r"Reminder #(\d+)")


# -- PostgreSQL databases ---------------------------------------------------------------------


async def _admin(statement: str) -> None:
    engine = create_engine(f"{SERVER}/postgres")
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _databases() -> set[str]:
    engine = create_engine(f"{SERVER}/postgres")
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(sa.text("SELECT datname FROM pg_database"))).scalars())
    finally:
        await engine.dispose()


async def book_template(size: int, seed: int) -> str:
    """The name of a migrated database holding the synthetic book; built once, under another
    name and renamed when complete, so an interrupted build never looks finished."""
    name = f"crm_bench_book_{size}_s{seed}"
    if name in await _databases():
        return name
    building = f"{name}_building_{os.getpid()}"
    await _admin(f"CREATE DATABASE {building}")
    store = Store.open(f"{SERVER}/{building}")
    try:
        await upgrade(store.engine)
        book = make_book(size, seed)
        for start in range(0, size, 20_000):
            rows = [
                {"name": c.name, "company": c.company, "email": c.email, "phone": c.phone}
                for c in book[start : start + 20_000]
            ]
            async with store.write("bench:book") as tx:
                await tx.customers.add_many(rows, source="bench")
    finally:
        await store.close()
    await _admin(f"ALTER DATABASE {building} RENAME TO {name}")
    return name


async def copy_database(template: str | None) -> str:
    name = f"crm_bench_run_{uuid.uuid4().hex[:10]}"
    await _admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    return f"{SERVER}/{name}"


async def drop_database(url: str) -> None:
    await _admin(f"DROP DATABASE IF EXISTS {url.rpartition('/')[2]} WITH (FORCE)")


# -- the Slack stand-in, with the answer address of each request ------------------------------


@dataclass(slots=True)
class AnsweringSink(SlackApiSink):
    """The stand-in, also noting when each response_url key is first answered."""

    answered: dict[str, float] = field(default_factory=dict)

    async def _respond(self, request: web.Request) -> web.Response:
        self.answered.setdefault(request.match_info["key"], time.monotonic())
        return await SlackApiSink._respond(self, request)


# -- replicas ---------------------------------------------------------------------------------


def environment(url: str, data: Path, sink: SlackApiSink, replicas: int, pool: int) -> dict[str, str]:
    return bot_env(
        url,
        data,
        ROOT,
        CRM_REPLICAS=str(replicas),
        CRM_DB_POOL_SIZE=str(pool),
        CRM_LOG_LEVEL="WARNING",
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=sink.url,
    )


@contextlib.asynccontextmanager
async def replicas(count: int, env: dict[str, str], cwd: Path) -> Any:
    """``count`` `crm-bot run` processes; yields [(process, base URL)] once each listens."""
    started: list[tuple[asyncio.subprocess.Process, str]] = []
    try:
        for n in range(count):
            log = (cwd / f"replica-{n}.log").open("ab")  # for a post-mortem; the child keeps it open
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                env=env,
                cwd=cwd,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
            log.close()
            assert process.stdout is not None
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=180)).decode()
            if " on http://" not in line:
                raise RuntimeError(f"crm-bot run did not start: {line!r}")
            started.append((process, line.split(" on ")[1].split(";")[0].strip()))
        yield started
    finally:
        for process, _ in started:
            if process.returncode is None:
                process.terminate()
        for process, _ in started:
            try:
                await asyncio.wait_for(process.wait(), timeout=30)
            except TimeoutError:
                process.kill()
                await process.wait()


# -- the load ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Load:
    """Signed `/crm` slash commands from REPS reps, round-robin over the replicas' URLs."""

    sink: AnsweringSink
    urls: list[str]
    texts: list[str]
    session: aiohttp.ClientSession
    verifier: SignatureVerifier = field(default_factory=lambda: SignatureVerifier(SECRET))
    sent: int = 0
    last_body: bytes = b""

    async def one(self, text: str, *, user: str) -> tuple[str, float, float, int]:
        """(response_url key, send time, ack ms, HTTP status) for one command."""
        self.sent += 1
        key = f"r{self.sent}"
        body = urlencode(
            {
                "team_id": "T0001",
                "channel_id": "C0BENCH",
                "user_id": user,
                "user_name": user.lower(),
                "command": "/crm",
                "text": text,
                "api_app_id": "A0001",
                "response_url": self.sink.response_url(key),
                "trigger_id": f"trigger-{key}",
            }
        )
        ts = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.verifier.generate_signature(timestamp=ts, body=body),
        }
        url = self.urls[self.sent % len(self.urls)]
        started = time.monotonic()
        try:
            async with self.session.post(f"{url}/slack/events", data=body.encode(), headers=headers) as r:
                self.last_body = await r.read()
                status = r.status
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        return key, started, (time.monotonic() - started) * 1000, status

    async def step(self, rate: float, seconds: float, rng: random.Random) -> dict[str, Any]:
        """``rate`` requests/s for ``seconds``, open loop (sent on schedule, never waiting for
        earlier answers); then up to ANSWER_WITHIN s for the answers."""
        count = max(1, int(rate * seconds))
        begin = time.monotonic() + 0.2
        tasks = []
        for i in range(count):
            delay = begin + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.one(rng.choice(self.texts), user=f"U0REP{i % REPS:03d}")))
        results = await asyncio.gather(*tasks)
        last = time.monotonic()
        keys = {key for key, *_ in results}
        await until(
            lambda: keys <= self.sink.answered.keys(), within=ANSWER_WITHIN - (time.monotonic() - last)
        )
        acks = sorted(ms for *_, ms, _ in results)
        answers = sorted(
            (self.sink.answered[key] - at) * 1000 for key, at, _, _ in results if key in self.sink.answered
        )
        errors = sum(1 for *_, status in results if status != 200)
        out = {
            "rate": rate,
            "requests": count,
            "ack_ms": {"p50": _pct(acks, 0.5), "p99": _pct(acks, 0.99)},
            "not_200": errors,
            "answered": len(answers),
            "answer_ms": {"p50": _pct(answers, 0.5), "p99": _pct(answers, 0.99)},
        }
        out["meets_targets"] = bool(
            errors == 0
            and len(answers) == count
            and out["ack_ms"]["p99"] < ACK_P99_MS
            and out["answer_ms"]["p99"] < ANSWER_P99_MS
        )
        return out


async def until(done: Callable[[], bool], *, within: float) -> bool:
    """Poll ``done`` every 0.1 s for up to ``within`` seconds; whether it came true."""
    for _ in range(max(0, int(within / 0.1))):
        if done():
            return True
        await asyncio.sleep(0.1)
    return done()


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * q))], 1)


def command_texts(size: int, seed: int) -> list[str]:
    """The mix: typo'd finds (half), shows, logged calls and reminders, by customer name."""
    book = make_book(size, seed)
    queries = make_queries(book, 400, seed=11)
    rng = random.Random(5)
    texts: list[str] = []
    for q in queries:
        texts += [f"find {q.text}"] * 5
        name = book[q.customer_id - 1].name
        texts += [f"show {name}"] * 2
        texts.append(f"log {name} call: talked about the renewal")
        texts.append(f"remind {name} tomorrow at 10: follow up")
        texts.append("reminders")
    rng.shuffle(texts)
    return texts


async def warm(load: Load, *, within: float = 300.0) -> float:
    """Wait until every replica answers a find (its index loaded); seconds it took."""
    started = time.monotonic()
    for url in load.urls:
        while True:
            load.urls, saved = [url], load.urls
            key, _, _, status = await load.one("find " + load.texts[0].partition(" ")[2], user="U0REP000")
            load.urls = saved
            await until(lambda: key in load.sink.answered, within=30)  # noqa: B023
            if status == 200 and key in load.sink.answered:
                break
            if time.monotonic() - started > within:
                raise RuntimeError("the replicas never answered")
    # Every rep's first contact (users.info, the rep's row) before the steps, on every replica.
    for n in range(REPS):
        load.urls, saved = [load.urls[n % len(load.urls)]], load.urls
        await load.one("help", user=f"U0REP{n:03d}")
        load.urls = saved
    return round(time.monotonic() - started, 1)


async def carry(
    count: int, *, template: str, data: Path, work: Path, rates: list[float], seconds: float, texts: list[str]
) -> dict[str, Any]:
    """The rising steps on ``count`` replicas over a fresh copy of the book."""
    url = await copy_database(template)
    sink = await AnsweringSink().start()
    for n in range(REPS):
        sink.add_user(f"U0REP{n:03d}", f"Bench Rep {n}")
    try:
        env = environment(url, data, sink, count, pool=5)
        async with replicas(count, env, work) as started:
            connector = aiohttp.TCPConnector(limit=0)
            timeout = aiohttp.ClientTimeout(total=30)
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                load = Load(sink, [u for _, u in started], texts, session)
                warmed = await warm(load)
                await asyncio.sleep(SETTLE)  # start-up's background work (models, loyalty) done
                rng = random.Random(count)
                steps = []
                for rate in rates:
                    steps.append(await load.step(rate, seconds, rng))
                    if not steps[-1]["meets_targets"]:
                        break
                    await asyncio.sleep(2)
        met = [s["rate"] for s in steps if s["meets_targets"]]
        return {
            "replicas": count,
            "warm_seconds": warmed,
            "best_rate": max(met) if met else 0,
            "steps": steps,
        }
    finally:
        await sink.stop()
        await drop_database(url)


# -- reminders with a replica killed ----------------------------------------------------------


async def seed_reminders(url: str, *, reps: int, count: int) -> None:
    """``reps`` Slack reps, and ``count`` reminders shared among them, due in an hour (made due
    at once by release_reminders, once the replicas run)."""
    store = Store.open(url)
    try:
        await upgrade(store.engine)
        async with store.write("bench:reminders") as tx:
            ids = [
                (
                    await tx.people.add_rep(
                        display_name=f"Rem {n}", platform="slack", external_id=f"U0REM{n:03d}"
                    )
                ).id
                for n in range(reps)
            ]
        due = datetime.now(UTC) + timedelta(hours=1)
        rows = [
            {
                "rep_id": ids[i % reps],
                "customer_id": None,
                "text": f"bench reminder {i}",
                "due_at": due,
                "status": "pending",
                "created_at": datetime.now(UTC),
            }
            for i in range(count)
        ]
        async with store.write("bench:reminders") as tx:
            for start in range(0, count, 5_000):
                await tx.conn.execute(sa.insert(reminders_table), rows[start : start + 5_000])
    finally:
        await store.close()


async def release_reminders(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(reminders_table).values(due_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        await engine.dispose()


async def reminders_with_a_kill(
    *, data: Path, work: Path, reps: int, count: int, kill_after: float, tick: float
) -> dict[str, Any]:
    url = await copy_database(None)
    sink = await AnsweringSink().start()
    try:
        await seed_reminders(url, reps=reps, count=count)
        env = environment(url, data, sink, 2, pool=5)
        env["CRM_TICK_SECONDS"] = str(tick)
        async with replicas(2, env, work) as started:
            await asyncio.sleep(3)  # both schedulers running
            await release_reminders(url)
            released = time.monotonic()
            killed_at = None
            bound = (count + reps - 1) // reps - 1  # the busiest channel's messages, 1/s
            deadline = released + bound * 3 + 120
            while time.monotonic() < deadline:
                posts = _reminder_posts(sink)
                if killed_at is None and len(posts) >= count * kill_after:
                    started[1][0].send_signal(signal.SIGKILL)
                    killed_at = time.monotonic() - released
                if len({rid for rid, _, _ in posts}) >= count:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(20)  # longer than a lease (15 s): a late duplicate would show
        posts = _reminder_posts(sink)
    finally:
        await sink.stop()
        await drop_database(url)
    per_id = Counter(rid for rid, _, _ in posts)
    by_channel: dict[str, list[float]] = defaultdict(list)
    for _, channel, at in posts:
        by_channel[channel].append(at)
    gaps = [
        b - a for times in by_channel.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    first = min(at for _, _, at in posts) if posts else released
    last = max(at for _, _, at in posts) if posts else released
    busiest = max(Counter(ch for _, ch, _ in posts).values(), default=0)
    bound_s = max(busiest - 1, 0) * SLACK_CHANNEL_GAP
    drain = last - released
    return {
        "reminders": count,
        "channels": reps,
        "tick_seconds": tick,
        "killed_replica_at_seconds": None if killed_at is None else round(killed_at, 1),
        "posts": len(posts),
        "distinct_sent": len(per_id),
        "duplicates": sum(n - 1 for n in per_id.values()),
        "lost": count - len(per_id),
        "first_send_seconds": round(first - released, 2),
        "drain_seconds": round(drain, 1),
        "rate_limit_bound_seconds": bound_s,
        "drain_over_bound": round(drain / bound_s, 3) if bound_s else None,
        "channel_gaps_under_1s": sum(1 for g in gaps if g < SLACK_CHANNEL_GAP * 0.95),
        "min_channel_gap_ms": round(min(gaps) * 1000, 1) if gaps else None,
    }


def _reminder_posts(sink: SlackApiSink) -> list[tuple[int, str, float]]:
    out = []
    for r in sink.of("chat.postMessage"):
        found = REMINDER_ID.search(json.dumps(r.params))
        if found:
            out.append((int(found.group(1)), str(r.params.get("channel", "")), r.at))
    return out


# -- main -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    models = CACHE_DIR / "models"
    if not (models / ".trained").exists():
        train_models(models)
        (models / ".trained").touch()
    template = await book_template(args.customers, 7)
    texts = command_texts(args.customers, 7)
    rates = [float(r) for r in args.rates.split(",")]
    out: dict[str, Any] = {
        "bench": "replicas",
        "database": "postgresql",
        "customers": args.customers,
        "cores": os.cpu_count(),
        "targets": {"ack_p99_ms": ACK_P99_MS, "answer_p99_ms": ANSWER_P99_MS, "every_request_answered": True},
        "step_seconds": args.seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = data_dir(work, "data", models)
        if not args.skip_load:
            one = await carry(
                1, template=template, data=data, work=work, rates=rates, seconds=args.seconds, texts=texts
            )
            two = await carry(
                2, template=template, data=data, work=work, rates=rates, seconds=args.seconds, texts=texts
            )
            out["one_replica"] = one
            out["two_replicas"] = two
            out["two_over_one"] = round(two["best_rate"] / one["best_rate"], 2) if one["best_rate"] else None
            out["two_over_one_target"] = 1.6
        if not args.skip_reminders:
            out["reminders_with_a_kill"] = await reminders_with_a_kill(
                data=data, work=work, reps=args.channels, count=args.reminders, kill_after=0.3, tick=args.tick
            )
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--rates", default="25,50,75,100,125,150,200,250,300")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each steady step")
    parser.add_argument("--reminders", type=int, default=20_000)
    parser.add_argument("--channels", type=int, default=100, help="reps (Slack DM channels) sharing them")
    parser.add_argument("--tick", type=float, default=5.0, help="CRM_TICK_SECONDS of the replicas")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--skip-reminders", action="store_true")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
