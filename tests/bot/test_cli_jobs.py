"""crm-bot outbox [retry], loyalty recompute and digest, run as a subprocess on a temporary store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from crm_store.store import Store


def crm_bot(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "SLACK_", "TELEGRAM_"))}
    env["CRM_DATABASE_URL"] = db_url
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def seeded(db_url: str) -> str:
    async def _seed() -> None:
        store = Store.open(db_url)
        async with store.write("test") as tx:
            for n in range(3):
                await tx.outbox.enqueue(
                    platform="telegram", target=str(n), payload={"text": "secret"}, key=f"k{n}"
                )
            claimed = await tx.outbox.claim_due(platforms=["telegram"], limit=1, lease=timedelta(0))
            await tx.outbox.fail(claimed[0].id, error="telegram Forbidden")
            await tx.customers.add(name="Acme Corp")
        await store.close()

    asyncio.run(_seed())
    return db_url


def test_outbox_lists_and_retries_failed_rows(seeded: str) -> None:
    listed = crm_bot(seeded, "outbox")
    assert listed.returncode == 0, listed.stderr
    assert "pending=2" in listed.stdout and "failed=1" in listed.stdout
    assert "#1 failed telegram:0 attempts=1" in listed.stdout and "error=telegram Forbidden" in listed.stdout
    assert "secret" not in listed.stdout  # message text never printed
    only_failed = crm_bot(seeded, "outbox", "--state", "failed")
    assert only_failed.stdout.count("\n#") == 1 and "pending telegram" not in only_failed.stdout
    retried = crm_bot(seeded, "outbox", "retry")
    assert "Requeued 1 failed row(s)." in retried.stdout
    assert "pending=3" in crm_bot(seeded, "outbox").stdout


def test_loyalty_recompute_and_printed_digest(seeded: str) -> None:
    recomputed = crm_bot(seeded, "loyalty", "recompute")
    assert recomputed.returncode == 0, recomputed.stderr
    assert "Scored 1 customers" in recomputed.stdout
    digest = crm_bot(seeded, "digest", "--now")
    assert digest.returncode == 0, digest.stderr
    assert "== Daily digest ==" in digest.stdout and "[image: digest-trend.png" in digest.stdout
    assert "No subscriptions" in digest.stdout


def test_outbox_retry_of_an_id_beyond_64_bits_is_no_such_row(seeded: str) -> None:
    result = crm_bot(seeded, "outbox", "retry", "1", "99999999999999999999")
    assert result.returncode == 1 and "There is no outbox row #99999999999999999999." in result.stderr
    assert "Traceback" not in result.stderr
    assert "failed=1" in crm_bot(seeded, "outbox").stdout  # row 1 was not requeued either
    too_many = crm_bot(seeded, "outbox", "--limit", "99999999999999999999")
    assert too_many.returncode == 2 and "Traceback" not in too_many.stderr
    assert "Invalid value for '--limit'" in too_many.stderr and "100000" in too_many.stderr
