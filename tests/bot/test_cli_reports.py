"""crm-bot report NAME [--days N] [--out FILE.png], run as a subprocess on a temporary store: the
chat report's text, its chart in a file, and clear refusals."""

from __future__ import annotations

import asyncio
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
def rated(db_url: str) -> str:
    """One ticket rated 4 an hour ago (real clock: the CLI reads the book as of now)."""

    async def _seed() -> None:
        store = Store.open(db_url, clock=lambda: datetime.now(UTC) - timedelta(hours=1))
        async with store.write("test") as tx:
            acme = await tx.customers.add(name="Acme Corp")
            ticket = await tx.tickets.open(customer_id=acme.id, subject="Broken", source="test")
            await tx.tickets.resolve(ticket.id)
            assert await tx.tickets.set_csat(ticket.id, acme.id, 4)
        await store.close()

    asyncio.run(_seed())
    return db_url


def test_report_prints_the_chat_report_and_writes_its_chart(rated: str, tmp_path: Path) -> None:
    chart = tmp_path / "satisfaction.png"
    result = crm_bot(rated, "report", "satisfaction", "--days", "7", "--out", str(chart))
    assert result.returncode == 0, result.stderr
    assert "== Satisfaction report, last 7 days ==" in result.stdout
    assert "CSAT ratings: 1★ 0 · 2★ 0 · 3★ 0 · 4★ 1 · 5★ 0" in result.stdout
    assert f"[chart satisfaction.png: saved to {chart}]" in result.stdout
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and struct.unpack(">II", data[16:24]) == (1000, 600)
    unsaved = crm_bot(rated, "report", "needs")
    assert unsaved.returncode == 0, unsaved.stderr
    assert "No data: 1 text from customers in the last 180 days" in unsaved.stdout
    assert "[chart needs.png: not saved; --out FILE.png writes it]" in unsaved.stdout


def test_bad_names_days_and_files_are_refused_clearly(rated: str, tmp_path: Path) -> None:
    unknown = crm_bot(rated, "report", "nosuch")
    assert unknown.returncode == 2 and "There is no 'nosuch' report; the reports are " in unknown.stderr
    for days in ("0", "367"):
        bad = crm_bot(rated, "report", "loyalty", "--days", days, "--out", str(tmp_path / "x.png"))
        assert bad.returncode == 2 and "Days must be 1 to 366." in bad.stderr
        assert not (tmp_path / "x.png").exists()
    nowhere = crm_bot(rated, "report", "tickets", "--out", str(tmp_path / "missing" / "x.png"))
    assert nowhere.returncode == 0  # tickets has no chart: nothing to write, nothing refused
    unwritable = crm_bot(rated, "report", "satisfaction", "--out", str(tmp_path / "missing" / "x.png"))
    assert unwritable.returncode == 1 and "Could not write the chart to" in unwritable.stderr
    assert "Traceback" not in unknown.stderr + unwritable.stderr
