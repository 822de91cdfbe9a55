"""examples/erp_sync.py against `crm-bot run` as a real process: the ERP's products, customers and
orders arrive through the API alone, and a second run changes nothing."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx

from nlp.sentiment import SentimentClassifier
from tests.bot.run_process import cli_env, start_run

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


async def test_erp_sync_creates_once_and_reruns_safely(
    tmp_path: Path, classifier: SentimentClassifier, crm_data_dir: Path
) -> None:
    process, _, url = await start_run(tmp_path, crm_data_dir, CRM_API_TOKEN=TOKEN)
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
    finally:
        process.terminate()
        await asyncio.wait_for(process.communicate(), timeout=60)
