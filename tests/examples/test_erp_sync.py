"""examples/erp_sync.py against `crm-bot run` as a real process: the ERP's products, customers and
orders arrive through the API alone, a second run changes nothing, and the ERP's receiver gets a
signed `ticket.resolved` webhook when a ticket it opened through the API is resolved, and
refuses a forged one."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import httpx

from crm_store.webhooks import SUBSCRIBERS_TTL
from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import cli_env, run_cli, start_run

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "erp_sync.py"
TOKEN = "erp-sync-test-token"


async def _sync(tmp_path: Path, data_dir: Path, url: str) -> dict[str, int]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--url",
        url,
        env=cli_env(tmp_path, data_dir, {"CRM_API_TOKEN": TOKEN}),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode()
    result: dict[str, int] = json.loads(out)
    return result


async def _listener(
    tmp_path: Path, data_dir: Path, secret_file: Path
) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--listen",
        "0",
        "--secret-file",
        str(secret_file),
        env=cli_env(tmp_path, data_dir, {}),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    assert line.startswith("listening on http://127.0.0.1:"), line
    return process, line.split(" on ")[1].strip()


async def _event(listener: asyncio.subprocess.Process) -> dict[str, object]:
    assert listener.stdout is not None
    line = await asyncio.wait_for(listener.stdout.readline(), timeout=60)
    event: dict[str, object] = json.loads(line)
    return event


async def test_erp_sync_creates_once_reruns_safely_and_hears_of_resolved_tickets(
    tmp_path: Path, classifier: SentimentClassifier, crm_data_dir: Path
) -> None:
    process, _, url = await start_run(tmp_path, crm_data_dir, CRM_API_TOKEN=TOKEN, CRM_TICK_SECONDS="1")
    secret_file = tmp_path / "whsec.txt"
    secret_file.write_text("", encoding="utf-8")
    listener, hook_url = await _listener(tmp_path, crm_data_dir, secret_file)
    try:
        first = await _sync(tmp_path, crm_data_dir, url)
        assert first == {
            "customers_created": 2,
            "customers_updated": 0,
            "orders_created": 3,
            "orders_existing": 0,
        }
        again = await _sync(tmp_path, crm_data_dir, url)
        assert again == {
            "customers_created": 0,
            "customers_updated": 2,
            "orders_created": 0,
            "orders_existing": 3,
        }
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=auth, timeout=30) as api:
            customers = (await api.get("/customers", params={"limit": 200})).json()["items"]
            assert sorted(c["external_ref"] for c in customers) == ["C-1001", "C-1002"]
            harbour = next(c for c in customers if c["external_ref"] == "C-1001")
            assert harbour["name"] == "Harbour Cafe" and harbour["source"] == "api"
            orders = (await api.get(f"/customers/{harbour['id']}/orders")).json()["items"]
            assert {o["external_ref"]: o["amount_cents"] for o in orders} == {
                "SO-5001": 24 * 1200 + 10 * 900,
                "SO-5003": 2 * 5400 + 40 * 900,
            }
            products = (await api.get("/products")).json()["items"]
            assert sorted(p["sku"] for p in products) == ["ERP-MUG", "ERP-POT", "ERP-TEA"]

            code, out, err = await run_cli(
                tmp_path, crm_data_dir, "webhook", "add", hook_url, "--events", "ticket.resolved"
            )
            assert code == 0, err
            secret = re.search(r"whsec_[0-9a-f]+", out)
            assert secret is not None, out
            secret_file.write_text(secret.group(0), encoding="utf-8")
            await asyncio.sleep(SUBSCRIBERS_TTL + 1)  # the running bot sees the new endpoint
            opened = await api.post(
                "/tickets",
                json={
                    "customer_id": harbour["id"],
                    "subject": "Short delivery",
                    "text": "SO-5001 came 4 mugs short.",
                },
                headers={"Idempotency-Key": "ticket-SO-5001"},
            )
            assert opened.status_code == 201, opened.text
            ticket_id = opened.json()["id"]
            resolved = await api.post(f"/tickets/{ticket_id}/resolve", json={"note": "4 mugs sent."})
            assert resolved.status_code == 200, resolved.text
            event = await _event(listener)
            assert event["verified"] is True and event["type"] == "ticket.resolved"
            assert (event["object"], event["id"], event["status"]) == ("ticket", ticket_id, "resolved")

            async with httpx.AsyncClient() as outsider:
                forged = await outsider.post(
                    hook_url, content=b'{"type": "ticket.resolved"}', headers={"X-CRM-Signature": "t=1,v1=00"}
                )
            assert forged.status_code == 400 and (await _event(listener)) == {"verified": False}
    finally:
        listener.kill()
        await listener.wait()
        process.terminate()
        await asyncio.wait_for(process.communicate(), timeout=60)
