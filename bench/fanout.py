"""Benchmark outbox fan-out to Telegram; prints one JSON object.

Enqueues N messages (default 3,000) spread over C private chats (default 300) in a temporary
SQLite store, then lets one Dispatcher send them through ptb's Bot to a Bot API stand-in
(bench/bot_api_sink.py) on 127.0.0.1. Reports messages/s reached against Telegram's
30/s per-bot limit, the busiest 1-second window seen by the fake, and that nothing was lost,
duplicated or reordered within a chat. The baseline is the limit itself (the best possible).

Run from the repository root: ``.venv/bin/python bench/fanout.py [--messages N --chats C]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot  # noqa: E402

from bench.bot_api_sink import TOKEN, BotApiSink  # noqa: E402
from bot.delivery import Dispatcher  # noqa: E402
from bot.telegram.sender import TelegramSender  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402

LIMIT_PER_SECOND = 30


def _busiest_second(times: list[float]) -> int:
    ordered = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(messages: int, chats: int, path: Path) -> dict[str, Any]:
    sink = await BotApiSink().start()
    store = Store.open(f"sqlite+aiosqlite:///{path}")
    await upgrade(store.engine)
    bot = Bot(token=TOKEN, base_url=sink.url)
    await bot.initialize()
    try:
        async with store.write("bench") as tx:
            for n in range(messages):
                await tx.outbox.enqueue(
                    platform="telegram",
                    target=str(10_000 + n % chats),
                    payload={"text": f"m{n}"},
                    key=f"fan:{n}",
                )
        dispatcher = Dispatcher.of(store, [TelegramSender(bot)])
        started = time.perf_counter()
        sent = 0
        while sent < messages:
            report = await dispatcher.run_once()
            sent += report.sent
            if not report.sent:
                await asyncio.sleep(0.02)  # every chat is waiting on its window
        elapsed = time.perf_counter() - started
    finally:
        await bot.shutdown()
        await store.close()
        await sink.stop()
    calls = sink.received
    texts = Counter(c.text for c in calls)
    per_chat: dict[str, list[int]] = defaultdict(list)
    for call in calls:
        per_chat[call.chat_id].append(int(call.text[1:]))
    return {
        "messages": messages,
        "chats": chats,
        "seconds": round(elapsed, 1),
        "messages_per_second": round(messages / elapsed, 1),
        "telegram_limit_per_second": LIMIT_PER_SECOND,
        "share_of_limit": round(messages / elapsed / LIMIT_PER_SECOND, 3),
        "busiest_second": _busiest_second([c.at for c in calls]),
        "delivered": len(calls),
        "lost": messages - len(texts),
        "duplicated": sum(n - 1 for n in texts.values()),
        "in_order_per_chat": all(v == sorted(v) for v in per_chat.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3_000)
    parser.add_argument("--chats", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args.messages, args.chats, Path(tmp) / "fanout.db"))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
