"""crm-bot webhook add|list|test|deliveries|redeliver|remove, run as a subprocess against a
receiver on 127.0.0.1; bad input is answered on stderr, exit 1, and changes nothing (the
other refusals are in tests/handlers/test_webhooks.py)."""

from __future__ import annotations

import asyncio
import re
import subprocess

from bot.webhook_signature import verify_signature
from crm_store.store import Store
from tests.bot.test_cli_jobs import crm_bot
from tests.fakes.webhook_receiver import FakeReceiver


async def _cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    # On a worker thread: the receiver answers on this loop meanwhile.
    return await asyncio.get_running_loop().run_in_executor(None, lambda: crm_bot(db_url, "webhook", *args))


async def _endpoints(db_url: str) -> int:
    store = Store.open(db_url)
    try:
        async with store.read() as tx:
            return len(await tx.webhooks.endpoints(include_disabled=True))
    finally:
        await store.close()


async def test_the_webhook_commands(sqlite_url: str) -> None:
    receiver = await FakeReceiver(statuses=[200, 500]).start()
    try:
        refused = await _cli(sqlite_url, "add", "ftp://example.org/x", "--events", "ticket.created")
        assert refused.returncode == 1 and "must start with http:// or https://" in refused.stderr
        assert await _endpoints(sqlite_url) == 0

        added = await _cli(sqlite_url, "add", receiver.url, "--events", "ticket.resolved,customer.created")
        assert added.returncode == 0, added.stderr
        assert f"Added webhook #1 to {receiver.url} for ticket.resolved, customer.created." in added.stdout
        secret = re.search(r"Signing secret .*: (whsec_[0-9a-f]{48})$", added.stdout.strip())
        assert secret is not None

        listed = await _cli(sqlite_url, "list")
        assert f"#1 enabled {receiver.url} events=ticket.resolved,customer.created" in listed.stdout
        assert secret.group(1) not in listed.stdout  # shown once, at add

        tested = await _cli(sqlite_url, "test", "1")
        assert tested.returncode == 0, tested.stderr
        assert tested.stdout.startswith("#1 delivered ping to webhook #1") and "last=200" in tested.stdout
        (ping,) = receiver.received
        assert ping.json["type"] == "ping"
        timestamp = int(ping.headers["X-CRM-Signature"].split(",")[0][2:])
        assert verify_signature(secret.group(1), ping.headers["X-CRM-Signature"], ping.body, now=timestamp)

        again = await _cli(sqlite_url, "redeliver", "1")  # the receiver answers 500 this time
        assert (
            again.returncode == 0 and "#1 pending ping" in again.stdout and "error=HTTP 500" in again.stdout
        )
        busy = await _cli(sqlite_url, "redeliver", "1")
        assert busy.returncode == 1 and "Delivery #1 is still pending" in busy.stderr

        shown = await _cli(sqlite_url, "deliveries")
        assert shown.stdout.startswith("#1 pending ping to webhook #1") and "attempts=2" in shown.stdout

        removed = await _cli(sqlite_url, "remove", "1")
        assert removed.returncode == 0 and f"Removed webhook #1 ({receiver.url})." in removed.stdout
        assert "#1 disabled (removed)" in (await _cli(sqlite_url, "list")).stdout
    finally:
        await receiver.stop()
