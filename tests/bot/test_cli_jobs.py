"""crm-bot outbox [retry], loyalty recompute and digest, run as a subprocess on a temporary store."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from crm_store.store import Store
from handlers.digests import current_period
from handlers.jobs import JobSettings, run_loyalty
from handlers.messages import Reply, reply_from_dict
from handlers.people import staff_actor
from tests.conftest import all_text


def crm_bot(db_url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    settings = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "SLACK_", "TELEGRAM_"))}
    env["CRM_DATABASE_URL"] = db_url
    env.update(settings)
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


def test_loyalty_recompute_and_printed_digest_with_its_chart_in_a_file(seeded: str, tmp_path: Path) -> None:
    recomputed = crm_bot(seeded, "loyalty", "recompute")
    assert recomputed.returncode == 0, recomputed.stderr
    assert "Scored 1 customers" in recomputed.stdout
    nobody = crm_bot(seeded, "digest", "--now")
    assert nobody.returncode == 0, nobody.stderr
    assert nobody.stdout.startswith("No subscriptions")
    printed = crm_bot(seeded, "digest")
    assert "== Daily digest ==" in printed.stdout
    assert "[chart digest-trend.png: not saved; --out FILE.png writes it]" in printed.stdout
    chart = tmp_path / "trend.png"
    saved = crm_bot(seeded, "digest", "--weekly", "--out", str(chart))
    assert saved.returncode == 0, saved.stderr
    assert "== Weekly digest ==" in saved.stdout
    assert f"[chart digest-trend.png: saved to {chart}]" in saved.stdout
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    mixed = crm_bot(seeded, "digest", "--now", "--out", str(tmp_path / "other.png"))
    assert mixed.returncode == 2 and "--now sends each subscription its own digest" in mixed.stderr
    assert not (tmp_path / "other.png").exists()


def test_outbox_retry_of_an_id_beyond_64_bits_is_no_such_row(seeded: str) -> None:
    result = crm_bot(seeded, "outbox", "retry", "1", "99999999999999999999")
    assert result.returncode == 1 and "There is no outbox row #99999999999999999999." in result.stderr
    assert "Traceback" not in result.stderr
    assert "failed=1" in crm_bot(seeded, "outbox").stdout  # row 1 was not requeued either
    too_many = crm_bot(seeded, "outbox", "--limit", "99999999999999999999")
    assert too_many.returncode == 2 and "Traceback" not in too_many.stderr
    assert "Invalid value for '--limit'" in too_many.stderr and "100000" in too_many.stderr


@pytest.fixture
def two_books(db_url: str) -> str:
    """Two managers, each owning one slipping customer (alerted on in today's loyalty run) and
    subscribed to the digest in the console: Dana daily, Bea weekly."""

    async def _seed() -> None:
        store = Store.open(db_url)
        for user, name, cadence, customer in (
            ("dana", "Dana", "daily", "Danas Slipping Ltd"),
            ("bea", "Bea", "weekly", "Beas Fading Co"),
        ):
            boss = await staff_actor(
                store, platform="console", user_id=user, display_name=name, role="manager"
            )
            assert boss.rep_id is not None
            async with store.write("test") as tx:
                owned = await tx.customers.add(name=customer, owner_rep_id=boss.rep_id)
                await tx.orders.add(
                    customer_id=owned.id,
                    rep_id=None,
                    amount_cents=100,
                    ordered_at=tx.now - timedelta(days=200),
                )
                await tx.digests.subscribe(
                    rep_id=boss.rep_id,
                    platform="console",
                    target=user,
                    cadence=cadence,
                    local_time="08:00",
                    timezone="UTC",
                    current_period=current_period(cadence, "08:00", "UTC", tx.now).key,
                )
        await run_loyalty(store, JobSettings(staff_platforms=("console",), alert_below=90))
        await store.close()

    asyncio.run(_seed())
    return db_url


def _queued_digests(db_url: str) -> dict[str, Reply]:
    async def _read() -> dict[str, Reply]:
        store = Store.open(db_url)
        async with store.read() as tx:
            rows = await tx.outbox.listing(states=["pending"], limit=100)
        await store.close()
        return {r.target: reply_from_dict(r.payload) for r in rows if r.idempotency_key.startswith("digest:")}

    return asyncio.run(_read())


def test_digest_now_sends_each_subscription_its_own_cadence_and_only_its_readers_customers(
    two_books: str,
) -> None:
    sent = crm_bot(two_books, "digest", "--now", env={"CRM_CUSTOMER_ACCESS": "owner"})
    assert sent.returncode == 0, sent.stderr
    assert "Queued 2 digest(s)" in sent.stdout, sent.stdout
    digests = _queued_digests(two_books)
    seen = {
        target: (reply.title, "Danas Slipping Ltd" in all_text(reply), "Beas Fading Co" in all_text(reply))
        for target, reply in digests.items()
    }
    assert seen == {"dana": ("Daily digest", True, False), "bea": ("Weekly digest", False, True)}


def test_loyalty_recompute_counts_the_alerts_the_digest_lists(two_books: str) -> None:
    """Nobody the CLI can reach owns them, yet both alerts exist: the run says 2, as the digest does."""
    recomputed = crm_bot(two_books, "loyalty", "recompute")
    assert recomputed.returncode == 0, recomputed.stderr
    assert "Scored 2 customers" in recomputed.stdout
    assert "2 loyalty alert(s) for that day (0 new" in recomputed.stdout, recomputed.stdout
    printed = crm_bot(two_books, "digest")
    assert re.search(r"Loyalty alerts\s+2\n", printed.stdout), printed.stdout
    assert printed.stdout.count("• Loyalty alert ") == 2


def test_segments_recompute_segments_the_book(db_url: str) -> None:
    from tests.segment_book import plant

    async def _seed() -> None:
        store = Store.open(db_url)
        await plant(store)
        await store.close()

    asyncio.run(_seed())
    done = crm_bot(db_url, "segments", "recompute")
    assert done.returncode == 0, done.stderr
    assert "Segmented 70 customers into" in done.stdout and "Champions (" in done.stdout
    again = crm_bot(db_url, "segments", "recompute")
    assert "0 moved segment since the last run" in again.stdout


def test_segments_recompute_on_a_tiny_book_says_why_not(db_url: str) -> None:
    done = crm_bot(db_url, "segments", "recompute")
    assert done.returncode == 0, done.stderr
    assert "No segments: 0 customers are too few to segment" in done.stdout
