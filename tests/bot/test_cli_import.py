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
    assert "Read 1 row(s) (comma-separated, utf-8): created 1, updated 0" in done.stdout


def test_a_windows_semicolon_file_with_a_hubspot_header_imports_and_dry_run_writes_nothing(
    db_url: str, tmp_path: Path
) -> None:
    export = tmp_path / "hubspot.csv"
    export.write_bytes(
        "Record ID;First Name;Last Name;Email;Phone Number;Company Name;Lead Status;Contact owner;"
        "Job Title\r\n"
        "101;Chloé;Dupont;chloé@exemple.fr;+33 1 23 45 67 89;Café Crème;Open deal;Nobody Here;CEO\r\n"
        '102;"Zoë";Weiß;;;;New;;\r\n'.encode("cp1252")
    )
    dry = crm_bot(db_url, "import", "customers", str(export), "--preset", "hubspot", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Read 2 row(s) (semicolon-separated, cp1252): would be created 2" in dry.stdout
    assert "nothing was written" in dry.stdout
    done = crm_bot(db_url, "import", "customers", str(export), "--preset", "hubspot")
    assert "created 2, updated 0" in done.stdout, done.stderr
    again = crm_bot(db_url, "import", "customers", str(export), "--preset", "hubspot")
    assert "created 0, updated 0, unchanged 2, skipped 0." in again.stdout, again.stderr
    out = tmp_path / "out.csv"
    assert crm_bot(db_url, "export", "customers", "--out", str(out)).returncode == 0
    text = out.read_text(encoding="utf-8")
    assert "Chloé Dupont" in text and "chloé@exemple.fr" in text and "Zoë Weiß" in text
    assert "Nobody Here" in text and "Open deal" in text and ",101," in text


def test_a_windows_1252_semicolon_orders_file_imports(db_url: str, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text("name,email\nCafé Crème,cafe@exemple.fr\n", encoding="utf-8")
    assert crm_bot(db_url, "import", "customers", str(people)).returncode == 0
    orders = tmp_path / "orders.csv"
    orders.write_bytes("customer_email;amount;note\ncafe@exemple.fr;12.50;crème brûlée\n".encode("cp1252"))
    done = crm_bot(db_url, "import", "orders", str(orders))
    assert done.returncode == 0 and "Imported 1 orders; 0 row(s) rejected." in done.stdout, done.stderr
    refused = crm_bot(db_url, "import", "orders", str(orders), "--dry-run")
    assert refused.returncode == 1 and "are for customers" in refused.stderr
