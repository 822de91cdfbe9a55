"""/api/v1/tickets: list with filters and cursor paging, get with messages, open in a customer's
name, reply (reaching the customer's chat through the outbox, as `reply` does) and resolve."""

from __future__ import annotations

from datetime import timedelta

import httpx

from crm_store.store import Store
from handlers.messages import Actor
from tests.bot.api.conftest import AUTH
from tests.conftest import FakeClock


async def _telegram_rows(store: Store) -> list[dict[str, object]]:
    """What is queued to Telegram, in order (the outbox hands out one row per chat at a time)."""
    payloads = []
    while True:
        async with store.write("test") as tx:
            rows = await tx.outbox.claim_due(platforms=["telegram"], limit=50, lease=timedelta(minutes=1))
            for row in rows:
                await tx.outbox.mark_sent(row.id, "sent")
        if not rows:
            return payloads
        payloads += [r.payload for r in rows]


async def test_open_reply_and_resolve_reach_the_customer(
    api: httpx.AsyncClient, store: Store, customer: Actor
) -> None:
    assert customer.customer_id is not None
    opened = await api.post(
        "/tickets",
        json={"customer_id": customer.customer_id, "subject": "  Printer   on fire ", "text": "It smokes."},
        headers=AUTH,
    )
    assert opened.status_code == 201, opened.text
    ticket = opened.json()
    assert ticket["subject"] == "Printer on fire" and ticket["status"] == "open"
    assert ticket["source"] == "api"
    assert [(m["author_kind"], m["text"]) for m in ticket["messages"]] == [("customer", "It smokes.")]

    replied = await api.post(
        f"/tickets/{ticket['id']}/replies", json={"text": "A new one ships today."}, headers=AUTH
    )
    assert replied.status_code == 201, replied.text
    body = replied.json()
    assert body["queued_to_chats"] == 1 and body["ticket"]["status"] == "pending"
    assert body["message"]["author_kind"] == "rep" and body["message"]["text"] == "A new one ships today."
    assert body["ticket"]["first_response_at"] is not None

    resolved = await api.post(f"/tickets/{ticket['id']}/resolve", json={"note": "Replaced."}, headers=AUTH)
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"] is not None
    again = await api.post(f"/tickets/{ticket['id']}/resolve", headers=AUTH)
    assert again.status_code == 200 and again.json()["resolved_at"] == resolved.json()["resolved_at"]

    # The customer's Telegram chat gets the reply and the rating question, as from `reply`/`resolve`.
    sent = await _telegram_rows(store)
    assert any("A new one ships today." in str(p.get("text")) for p in sent)
    assert any("Replaced." in str(p) and p.get("buttons") for p in sent)
    async with store.read() as tx:
        entries = await tx.audit.recent(entity="ticket", entity_id=ticket["id"])
    assert {(e.actor, e.action) for e in entries} >= {
        ("api:env", "create"),
        ("api:env", "reply"),
        ("api:env", "resolve"),
    }

    late = await api.post(f"/tickets/{ticket['id']}/replies", json={"text": "one more"}, headers=AUTH)
    assert late.status_code == 409 and late.json()["error"]["code"] == "conflict"
    reopened = await api.post(f"/tickets/{ticket['id']}/reopen", headers=AUTH)
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    assert reopened.json()["resolved_at"] is None
    assert any("open again" in str(p.get("text")) for p in await _telegram_rows(store))
    unchanged = await api.post(f"/tickets/{ticket['id']}/reopen", headers=AUTH)
    assert unchanged.status_code == 200 and unchanged.json()["updated_at"] == reopened.json()["updated_at"]
    assert (await api.post("/tickets/99/reopen", headers=AUTH)).status_code == 404


async def test_bad_input_is_named_and_changes_nothing(
    api: httpx.AsyncClient, store: Store, customer: Actor
) -> None:
    cases = [
        ({"customer_id": 999, "subject": "x"}, "customer_id"),
        ({"customer_id": customer.customer_id, "subject": "   "}, "subject"),
        ({"customer_id": customer.customer_id, "subject": "x" * 201}, "subject"),
        ({"customer_id": customer.customer_id, "subject": "x", "text": "y" * 4001}, "text"),
        ({"customer_id": customer.customer_id, "subject": "x", "priority": "urgent"}, "priority"),
    ]
    for body, field in cases:
        response = await api.post("/tickets", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        assert field in [f["field"] for f in response.json()["error"]["fields"]], response.text
    async with store.read() as tx:
        assert await tx.tickets.find(status="all") == []
    for path in ("/tickets/0", "/tickets/99", f"/tickets/{2**64}"):
        assert (await api.get(path, headers=AUTH)).status_code == 404
    assert (await api.post("/tickets/99/replies", json={"text": "hi"}, headers=AUTH)).status_code == 404
    empty = await api.post("/tickets/99/replies", json={"text": ""}, headers=AUTH)
    assert empty.status_code == 422 and empty.json()["error"]["fields"][0]["field"] == "text"


async def test_list_filters_and_pages_by_last_change(
    api: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")
        other = await tx.customers.add(name="Other")
    ids = []
    for who in (acme.id, other.id, acme.id, other.id, acme.id):
        clock.advance(minutes=1)
        async with store.write("test") as tx:
            ids.append((await tx.tickets.open(customer_id=who, subject="s", source="test")).id)
    since = clock.now
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/tickets", params=params, headers=AUTH)).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        if len(seen) == 2:  # a ticket read already changes between pages: it comes round again
            clock.advance(minutes=1)
            await api.post(f"/tickets/{ids[0]}/resolve", headers=AUTH)
    assert seen == [*ids, ids[0]]
    acme_open = await api.get("/tickets", params={"customer_id": acme.id, "status": "open"}, headers=AUTH)
    assert [t["id"] for t in acme_open.json()["items"]] == [ids[2], ids[4]]
    resolved = await api.get("/tickets", params={"status": "resolved"}, headers=AUTH)
    assert [t["id"] for t in resolved.json()["items"]] == [ids[0]]
    recent = await api.get("/tickets", params={"updated_since": since.isoformat()}, headers=AUTH)
    assert [t["id"] for t in recent.json()["items"]] == [ids[4], ids[0]]
    bad = await api.get("/tickets", params={"status": "closed", "cursor": "nope"}, headers=AUTH)
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} >= {"status"}


async def test_reads_need_a_token_and_writes_the_write_scope(api: httpx.AsyncClient, store: Store) -> None:
    assert (await api.get("/tickets")).status_code == 401
    async with store.write("test") as tx:
        await tx.api_tokens.create(name="reader", token_hash=_hash("r-token"), scopes=("read",))
    reader = {"Authorization": "Bearer r-token"}
    assert (await api.get("/tickets", headers=reader)).status_code == 200
    refused = await api.post("/tickets", json={"customer_id": 1, "subject": "x"}, headers=reader)
    assert refused.status_code == 403


def _hash(token: str) -> str:
    from handlers.api_tokens import token_hash

    return token_hash(token)
