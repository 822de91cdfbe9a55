"""crm-bot privacy export|erase, run as a subprocess on a temporary store."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path

import pytest

from crm_store.store import Store
from tests.bot.test_cli_jobs import crm_bot


@pytest.fixture
def seeded(db_url: str) -> str:
    async def _seed() -> None:
        store = Store.open(db_url)
        async with store.write("test") as tx:
            for n, name in enumerate(("Carla Diaz", "Oscar Other"), start=1):
                customer = await tx.customers.add(name=name, email=f"{name.split()[0].lower()}@example.org")
                await tx.people.link_customer(
                    platform="telegram", external_id=f"77{n}", customer_id=customer.id
                )
                await tx.interactions.add(
                    customer_id=customer.id, rep_id=None, channel="console", kind="note", text=f"{name} note"
                )
        await store.close()

    asyncio.run(_seed())
    return db_url


async def _customer(db_url: str, customer_id: int) -> tuple[str, int]:
    store = Store.open(db_url)
    try:
        async with store.read() as tx:
            found = await tx.customers.get_many([customer_id])
            links = await tx.people.identities_of_customer(customer_id)
        return found[customer_id].name, len(links)
    finally:
        await store.close()


def test_export_to_stdout_and_to_a_private_file(seeded: str, tmp_path: Path) -> None:
    shown = crm_bot(seeded, "privacy", "export", "1")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["format"] == "crm-bot/contact-export" and data["customer"]["name"] == "Carla Diaz"
    assert [i["external_id"] for i in data["identities"]] == ["771"] and "Oscar" not in shown.stdout
    assert "Exported customer #1:" in shown.stderr
    out = tmp_path / "contact-1.json"
    written = crm_bot(seeded, "privacy", "export", "1", "--out", str(out))
    assert written.returncode == 0 and written.stdout == ""
    assert json.loads(out.read_text(encoding="utf-8"))["customer_id"] == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    missing = crm_bot(seeded, "privacy", "export", "99")
    assert missing.returncode == 1 and "There is no customer #99." in missing.stderr


def test_erase_needs_yes_and_prints_counts(seeded: str) -> None:
    refused = crm_bot(seeded, "privacy", "erase", "1")
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert asyncio.run(_customer(seeded, 1)) == ("Carla Diaz", 1)
    erased = crm_bot(seeded, "privacy", "erase", "1", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "Erased customer #1." in erased.stdout and "  identities: 1" in erased.stdout
    assert "  interactions: 1" in erased.stdout
    assert asyncio.run(_customer(seeded, 1)) == ("Erased customer #1", 0)
    assert asyncio.run(_customer(seeded, 2)) == ("Oscar Other", 1)
    assert crm_bot(seeded, "privacy", "erase", "99", "--yes").returncode == 1


def test_an_id_beyond_64_bits_is_no_such_customer(seeded: str) -> None:
    for args in (("export", "99999999999999999999"), ("erase", "99999999999999999999", "--yes")):
        result = crm_bot(seeded, "privacy", *args)
        assert result.returncode == 1, result.stderr
        assert "There is no customer #99999999999999999999." in result.stderr
        assert "Traceback" not in result.stderr
    not_a_number = crm_bot(seeded, "privacy", "export", "carla")
    assert not_a_number.returncode == 2 and "is not a customer id" in not_a_number.stderr
    assert asyncio.run(_customer(seeded, 1)) == ("Carla Diaz", 1)
