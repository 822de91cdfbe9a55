"""/api/v1 relationships: record one as `relate` does (dates, the same checks, the same answer
for a repeat), a customer's current and ended ones, and ending one, which stays in the history."""

from __future__ import annotations

from datetime import timedelta

import httpx

from crm_store.store import Store
from tests.bot.api.conftest import AUTH
from tests.conftest import Chat, FakeClock


async def _book(store: Store) -> tuple[int, int, int]:
    async with store.write("test") as tx:
        return tuple(  # type: ignore[return-value]
            [(await tx.customers.add(name=name)).id for name in ("Acme Corp", "Jane Doe", "Globex")]
        )


async def test_relate_list_and_end(
    api: httpx.AsyncClient, store: Store, clock: FakeClock, chat: Chat
) -> None:
    acme, jane, globex = await _book(store)
    made = await api.post(
        "/relationships",
        json={"from_customer_id": jane, "kind": "works-at", "to_customer_id": acme, "since": "2024-03-01"},
        headers=AUTH,
    )
    assert made.status_code == 201, made.text
    assert made.json()["outcome"] == "created"
    relation = made.json()["relationship"]
    assert relation["starts_at"] == "2024-03-01T00:00:00Z" and relation["current"] is True
    again = await api.post(
        "/relationships",
        json={"from_customer_id": jane, "kind": "works-at", "to_customer_id": acme},
        headers=AUTH,
    )
    assert again.status_code == 200 and again.json()["outcome"] == "exists"
    assert again.json()["relationship"]["id"] == relation["id"]
    conflict = await api.post(
        "/relationships",
        json={"from_customer_id": jane, "kind": "works-at", "to_customer_id": acme, "since": "2025-01-01"},
        headers=AUTH,
    )
    assert conflict.status_code == 409
    partner = await api.post(
        "/relationships",
        json={
            "from_customer_id": acme,
            "kind": "partner",
            "to_customer_id": globex,
            "since": "2023-01-10",
            "until": "2024-06-30",
        },
        headers=AUTH,
    )
    assert partner.status_code == 201 and partner.json()["relationship"]["current"] is False

    listing = (await api.get(f"/customers/{acme}/relationships", headers=AUTH)).json()
    assert [(r["reads"], r["current"]) for r in listing["items"]] == [
        ("Employs Jane Doe (#2)", True),
        ("Partner of Globex (#3)", False),
    ]
    # Chat sees what the API recorded: one store, one rule.
    assert "Works at Acme Corp (#1)" in " ".join(f.value for f in (await chat.say("show jane doe")).fields)

    clock.advance(days=1)
    ended = await api.delete(f"/relationships/{relation['id']}", headers=AUTH)
    assert ended.status_code == 200, ended.text
    assert ended.json()["current"] is False and ended.json()["ends_at"] is not None
    assert (await api.delete(f"/relationships/{relation['id']}", headers=AUTH)).status_code == 409
    history = (await api.get(f"/customers/{jane}/relationships", headers=AUTH)).json()["items"]
    assert [(r["id"], r["current"], r["reads"]) for r in history] == [
        (relation["id"], False, "Works at Acme Corp (#1)")
    ]
    async with store.read() as tx:
        entries = await tx.audit.recent(entity="relationship")
    assert [(e.actor, e.action) for e in entries] == [
        ("api:env", "end"),
        ("api:env", "create"),
        ("api:env", "create"),
    ]


async def test_until_alone_ends_a_current_relation_that_day(
    api: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    acme, _, globex = await _book(store)
    body = {"from_customer_id": acme, "kind": "reseller", "to_customer_id": globex}
    assert (await api.post("/relationships", json=body, headers=AUTH)).status_code == 201
    later = (clock.now + timedelta(days=40)).date().isoformat()
    ended = await api.post("/relationships", json={**body, "until": later}, headers=AUTH)
    assert ended.status_code == 200 and ended.json()["outcome"] == "ended"
    assert ended.json()["relationship"]["ends_at"] == f"{later}T00:00:00Z"
    assert ended.json()["relationship"]["current"] is True  # until that day


async def test_bad_input_is_named_and_changes_nothing(api: httpx.AsyncClient, store: Store) -> None:
    acme, jane, _ = await _book(store)
    base = {"from_customer_id": jane, "kind": "works-at", "to_customer_id": acme}
    cases = [
        ({**base, "kind": "friend"}, "kind"),
        ({**base, "to_customer_id": jane}, "to_customer_id"),
        ({**base, "to_customer_id": 999}, "to_customer_id"),
        ({**base, "from_customer_id": 0}, "from_customer_id"),
        ({**base, "since": "2024-02-30"}, "since"),
        ({**base, "since": "2024-03-01", "until": "2024-01-01"}, "until"),
    ]
    for body, field in cases:
        response = await api.post("/relationships", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field], response.text
    async with store.read() as tx:
        assert await tx.relationships.for_customer(acme) == []
    for path in ("/relationships/0", "/relationships/77", f"/relationships/{2**64}"):
        assert (await api.delete(path, headers=AUTH)).status_code == 404
    assert (await api.get("/customers/999/relationships", headers=AUTH)).status_code == 404
