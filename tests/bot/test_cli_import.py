"""crm-bot import order-lines (the retail sample, twice) beside today's customer import, as a
subprocess on a temporary store."""

from __future__ import annotations

from pathlib import Path

from handlers.order_import import MAP_EXAMPLE
from tests.bot.test_cli_jobs import crm_bot

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "retail" / "online_retail_sample.csv"


def test_the_retail_sample_imports_in_one_command_and_not_twice(db_url: str) -> None:
    args = (
        "import",
        "order-lines",
        str(SAMPLE),
        "--map",
        MAP_EXAMPLE,
        "--create-customers",
        "--currency",
        "GBP",
    )
    first = crm_bot(db_url, *args)
    assert first.returncode == 0, first.stderr
    for needle in (
        "Lines read: 10000",
        "Lines imported: 7709",
        "Orders: 444",
        "Returns (cancelled lines): 100",
        "Customers created: 323",
        "Skipped guest lines (no customer): 2291",
        "Skipped bad lines: 0",
    ):
        assert needle in first.stdout, (needle, first.stdout)
    second = crm_bot(db_url, *args)
    assert second.returncode == 0, second.stderr
    assert (
        "Lines imported: 0" in second.stdout
        and "Already imported before: 444 orders (7709 lines)" in second.stdout
    )
    assert "nothing was written" in second.stdout


def test_a_bad_mapping_is_refused_and_customer_imports_still_work(db_url: str, tmp_path: Path) -> None:
    refused = crm_bot(db_url, "import", "order-lines", str(SAMPLE), "--map", "order_ref=Nope")
    assert refused.returncode == 1 and "Nothing imported:" in refused.stderr
    people = tmp_path / "people.csv"
    people.write_text("name,email\nAcme Corp,ops@acme.example\n", encoding="utf-8")
    done = crm_bot(db_url, "import", "customers", str(people))
    assert done.returncode == 0, done.stderr
    assert "Imported 1 customers; 0 row(s) rejected." in done.stdout
