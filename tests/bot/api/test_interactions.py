"""/api/v1/customers/{id}/interactions: log one as `log` does (sentiment included), list newest
first with kind and since filters and a cursor; bad input named, nothing written."""

from __future__ import annotations

from datetime import timedelta

import httpx

from crm_store.store import Store
from handlers.context import Services
from nlp.sentiment import SentimentClassifier
from tests.bot.api.conftest import AUTH, client_for
from tests.conftest import T0


async def _customer(store: Store, name: str = "Acme") -> int:
    async with store.write("test") as tx:
        return (await tx.customers.add(name=name)).id


async def test_log_with_sentiment_and_list_newest_first(
    services: Services, store: Store, classifier: SentimentClassifier
) -> None:
    services.sentiment = classifier
    acme = await _customer(store)
    async with client_for(services) as api:
        made = []
        for kind, text, at in (
            ("call", "Discussed the renewal; they are very happy with us", T0 - timedelta(days=2)),
            ("email", "Sent the quote", None),
            ("note", "Terrible delays, they are furious and want to cancel", T0 - timedelta(days=1)),
        ):
            body: dict[str, str] = {"kind": kind, "text": text}
            if at is not None:
                body["occurred_at"] = at.isoformat()
            response = await api.post(f"/customers/{acme}/interactions", json=body, headers=AUTH)
            assert response.status_code == 201, response.text
            made.append(response.json())
        assert made[0]["channel"] == "api" and made[0]["sentiment"] == "positive"
        assert made[2]["sentiment"] == "negative"
        first = await api.get(f"/customers/{acme}/interactions", params={"limit": 2}, headers=AUTH)
        page = first.json()
        assert [i["id"] for i in page["items"]] == [made[1]["id"], made[2]["id"]]
        rest = await api.get(
            f"/customers/{acme}/interactions", params={"cursor": page["next_cursor"]}, headers=AUTH
        )
        assert [i["id"] for i in rest.json()["items"]] == [made[0]["id"]]
        assert rest.json()["next_cursor"] is None
        calls = await api.get(f"/customers/{acme}/interactions", params={"kind": "call"}, headers=AUTH)
        assert [i["kind"] for i in calls.json()["items"]] == ["call"]
        since = (T0 - timedelta(days=1, hours=1)).isoformat()
        recent = await api.get(f"/customers/{acme}/interactions", params={"since": since}, headers=AUTH)
        assert {i["id"] for i in recent.json()["items"]} == {made[1]["id"], made[2]["id"]}
    async with store.read() as tx:
        entries = await tx.audit.recent(entity="interaction")
    assert {e.actor for e in entries} == {"api:env"} and len(entries) == 3


async def test_bad_input_is_named_and_changes_nothing(api: httpx.AsyncClient, store: Store) -> None:
    acme = await _customer(store)
    cases = [
        ({"kind": "message", "text": "x"}, "kind"),
        ({"kind": "call", "text": ""}, "text"),
        ({"kind": "call", "text": "x" * 4001}, "text"),
        ({"kind": "call", "text": "x", "occurred_at": "2026-01-01T10:00:00"}, "occurred_at"),
        ({"kind": "call", "text": "x", "occurred_at": (T0 + timedelta(days=1)).isoformat()}, "occurred_at"),
        ({"kind": "call", "text": "x", "mood": "great"}, "mood"),
    ]
    for body, field in cases:
        response = await api.post(f"/customers/{acme}/interactions", json=body, headers=AUTH)
        assert response.status_code == 422, (body, response.text)
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field], response.text
    async with store.read() as tx:
        assert await tx.interactions.for_customer(acme) == []
    for path in (
        "/customers/0/interactions",
        "/customers/404/interactions",
        f"/customers/{2**63}/interactions",
    ):
        assert (await api.get(path, headers=AUTH)).status_code == 404
        assert (await api.post(path, json={"kind": "note", "text": "x"}, headers=AUTH)).status_code == 404
    bad = await api.get(f"/customers/{acme}/interactions", params={"kind": "fax", "limit": 0}, headers=AUTH)
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"kind", "limit"}
