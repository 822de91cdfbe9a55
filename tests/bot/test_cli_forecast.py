"""crm-bot forecast customers: the CSV from orders dated on or before --as-of only, and clear
answers for a book too new to forecast and for a day that is not one."""

from __future__ import annotations

import csv
from datetime import timedelta
from pathlib import Path

from crm_store.store import Store
from handlers.forecast_book import CSV_COLUMNS, customer_table
from tests.bot.test_cli_jobs import crm_bot
from tests.handlers.test_forecast import seed_book

AS_OF_DAYS_AGO = 120


async def test_as_of_ignores_later_orders(store: Store, db_url: str, tmp_path: Path) -> None:
    await seed_book(store)
    as_of = (store.clock() - timedelta(days=AS_OF_DAYS_AGO)).date()
    _, expected = await customer_table(store, as_of=as_of, horizon_days=60)
    async with store.write("test") as tx:  # after --as-of: a new customer, and more orders
        late = await tx.customers.add(name="Late Co", email="late@example.org")
        for customer_id in (late.id, 4, 41):
            for days in (100, 50, 10):
                await tx.orders.add(
                    customer_id=customer_id,
                    rep_id=None,
                    amount_cents=99_000,
                    ordered_at=tx.now - timedelta(days=days),
                )
    out = tmp_path / "forecast.csv"
    done = crm_bot(
        db_url,
        "forecast",
        "customers",
        "--as-of",
        as_of.isoformat(),
        "--horizon-days",
        "60",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert f"Forecast 60 customers for 60 days after {as_of} (regression)" in done.stdout
    with out.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1:] == expected
    assert "late@example.org" not in out.read_text()
    assert rows[4][0] == "4" and rows[4][2] == "b3@example.org"  # customer_id and email line up
    assert min(float(r[5]) for r in rows[1:]) >= 0.0 and max(float(r[5]) for r in rows[1:]) <= 1.0


async def test_too_little_history_and_bad_day(store: Store, db_url: str, tmp_path: Path) -> None:
    async with store.write("test") as tx:
        customer = await tx.customers.add(name="Acme")
        await tx.orders.add(customer_id=customer.id, rep_id=None, amount_cents=5_000)
    out = tmp_path / "f.csv"
    early = crm_bot(db_url, "forecast", "customers", "--as-of", "2020-01-01", "--out", str(out))
    assert early.returncode == 1 and "Too little order history to forecast as of 2020-01-01" in early.stderr
    thin = crm_bot(db_url, "forecast", "customers", "--as-of", "2030-01-01", "--out", str(out))
    assert thin.returncode == 1 and "ordered more than once" in thin.stderr
    assert not out.exists()
    bad = crm_bot(db_url, "forecast", "customers", "--as-of", "last tuesday", "--out", str(out))
    assert bad.returncode == 2 and "is not a day like" in bad.stderr
