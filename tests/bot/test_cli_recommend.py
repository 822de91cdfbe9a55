"""crm-bot recommend --out FILE.csv [--top N], run as a subprocess on a temporary store."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from crm_store.store import Store
from tests.bot.test_cli_jobs import crm_bot
from tests.handlers.test_recommend import seed_shop


def test_every_customer_gets_their_top_k_with_reasons(db_url: str, tmp_path: Path) -> None:
    async def _seed() -> dict[str, int]:
        store = Store.open(db_url)
        try:
            return await seed_shop(store)
        finally:
            await store.close()

    ids = asyncio.run(_seed())
    out = tmp_path / "next.csv"
    done = crm_bot(db_url, "recommend", "--out", str(out), "--top", "2")
    assert done.returncode == 0, done.stderr
    assert "Wrote the top 2 products for 17 customers (34 rows, 5 products in the model)" in done.stderr
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["customer_id", "rank", "sku", "product", "score", "reason"]
    assert len({r["customer_id"] for r in rows}) == 17 and len(rows) == 34
    ann = [r for r in rows if r["customer_id"] == str(ids["ann"])]
    assert [(r["rank"], r["sku"], r["product"]) for r in ann] == [
        ("1", "POT", "Red teapot"),
        ("2", "TEA", "Tea leaves"),
    ]
    assert ann[0]["reason"] == "bought by 10 of the 11 customers who bought Blue mug"
    newbie = [r for r in rows if r["customer_id"] == str(ids["newbie"])]
    assert [r["sku"] for r in newbie] == ["MUG", "POT"]
    assert newbie[0]["reason"] == "a best seller: bought by 11 of the 16 customers"


def test_an_empty_catalogue_and_a_bad_top_are_clear_answers(db_url: str, tmp_path: Path) -> None:
    out = tmp_path / "next.csv"
    empty = crm_bot(db_url, "recommend", "--out", str(out))
    assert empty.returncode == 1 and "No products have been sold yet" in empty.stderr
    bad = crm_bot(db_url, "recommend", "--top", "0")
    assert bad.returncode == 2 and "--top" in bad.stderr
