"""What webhook events cost a write: audited single-customer write transactions per second on
SQLite with no endpoint, with one subscribed to another event, and with one subscribed to
customer.created (each event a read of the customer, a delivery row and an outbox row); best of
three rounds, the ratios against no endpoint in the same run. Prints one JSON object."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crm_store.migrate import upgrade
from crm_store.store import Store

WRITES = 1000
ROUNDS = 3
CASES = (("no_endpoint", None), ("other_event", "ticket.resolved"), ("subscribed", "customer.created"))


async def _writes_per_second(subscribe: str | None, writes: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite+aiosqlite:///{folder}/bench.db")
        try:
            await upgrade(store.engine)
            if subscribe is not None:
                async with store.write("bench") as tx:
                    await tx.webhooks.add_endpoint("http://127.0.0.1:9/hooks", [subscribe], "whsec_bench")
            started = time.perf_counter()
            for n in range(writes):
                async with store.write("bench") as tx:
                    await tx.customers.add(name=f"Customer {n}")
            return writes / (time.perf_counter() - started)
        finally:
            await store.close()


async def main() -> None:
    await _writes_per_second(None, 200)  # warm up (imports, caches)
    best: dict[str, float] = {}
    for _ in range(ROUNDS):  # interleaved, so a busy moment on the machine hits every case
        for name, subscribe in CASES:
            best[name] = max(best.get(name, 0.0), await _writes_per_second(subscribe, WRITES))
    print(
        json.dumps(
            {
                "bench": "webhook_emit",
                "writes": WRITES,
                "writes_per_s": {name: round(rate, 1) for name, rate in best.items()},
                "ratio_other_event": round(best["other_event"] / best["no_endpoint"], 3),
                "ratio_subscribed": round(best["subscribed"] / best["no_endpoint"], 3),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
