"""tests/databases.py: which databases the store tests run on, from CRM_TEST_DATABASES."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from tests import databases


def test_both_databases_unless_told_otherwise() -> None:
    assert databases.selected({}) == ("sqlite", "postgres")
    assert databases.selected({"CRM_TEST_DATABASES": "postgres"}) == ("postgres",)
    assert databases.selected({"CRM_TEST_DATABASES": " sqlite , postgres "}) == ("sqlite", "postgres")


@pytest.mark.parametrize("value", ["", "mysql", "sqlite,oracle", ","])
def test_an_unknown_or_empty_choice_is_refused_with_the_names_allowed(value: str) -> None:
    with pytest.raises(ValueError, match="name one or more of sqlite, postgres"):
        databases.selected({"CRM_TEST_DATABASES": value})


async def test_each_run_gets_a_migrated_store_of_its_own_on_its_database(backend: str, db_url: str) -> None:
    assert db_url.startswith({"sqlite": "sqlite+aiosqlite:///", "postgres": "postgresql+asyncpg://"}[backend])
    store = Store.open(db_url)
    try:
        async with store.write("t") as tx:
            await tx.customers.add(name="Only Here")
        async with store.read() as tx:
            assert await tx.customers.count() == 1  # migrated, and empty before this test
    finally:
        await store.close()
