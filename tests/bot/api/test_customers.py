"""/api/v1/customers: create (with chat's checks and duplicate rule), get, patch, upsert by
external_ref, and the list's filters and cursor paging; every write audited as api:<token>."""

from __future__ import annotations

from datetime import timedelta

import httpx

from crm_store.store import Store
from tests.bot.api.conftest import AUTH
from tests.conftest import FakeClock


async def _create(api: httpx.AsyncClient, **body: object) -> dict[str, object]:
    response = await api.post("/customers", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


async def test_create_get_and_patch_a_customer_audited_as_the_token(
    api: httpx.AsyncClient, store: Store
) -> None:
    made = await _create(
        api,
        name="  Acme   Corp ",
        email="OPS@Acme.example",
        phone="+1 (555) 010-0100",
        tags=["VIP", "retail"],
        custom={"industry": "logistics"},
        external_ref="ERP-1",
    )
    assert made["name"] == "Acme Corp" and made["email"] == "ops@acme.example"
    assert made["phone"] == "+15550100100" and made["tags"] == ["retail", "vip"]
    assert made["custom"] == {"industry": "logistics"} and made["source"] == "api"
    got = await api.get(f"/customers/{made['id']}", headers=AUTH)
    assert got.status_code == 200 and got.json() == made

    patched = await api.patch(
        f"/customers/{made['id']}", json={"status": "churned", "custom": {"industry": None}}, headers=AUTH
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "churned" and patched.json()["custom"] == {}
    assert patched.json()["name"] == "Acme Corp"  # what was not sent stays
    async with store.read() as tx:
        entries = await tx.audit.recent(entity="customer", entity_id=made["id"])
    assert [(e.actor, e.action) for e in entries] == [("api:env", "update"), ("api:env", "create")]


async def test_each_bad_field_is_named_and_nothing_is_written(api: httpx.AsyncClient, store: Store) -> None:
    response = await api.post(
        "/customers",
        json={
            "name": "Bad",
            "email": "not-an-email",
            "phone": "12",
            "status": "sleeping",
            "custom": {"Bad Key": "x"},
        },
        headers=AUTH,
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert {f["field"] for f in error["fields"]} == {"status"}  # the model's own check comes first
    response = await api.post(
        "/customers",
        json={"name": "Bad", "email": "not-an-email", "phone": "12", "custom": {"Bad Key": "x"}},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"email", "phone", "custom.Bad Key"}
    missing = await api.post("/customers", json={"email": "a@b.example"}, headers=AUTH)
    assert missing.status_code == 422 and missing.json()["error"]["fields"][0]["field"] == "name"
    unknown = await api.post("/customers", json={"name": "X", "colour": "red"}, headers=AUTH)
    assert unknown.status_code == 422 and unknown.json()["error"]["fields"][0]["field"] == "colour"
    async with store.read() as tx:
        assert await tx.customers.count() == 0


async def test_a_likely_duplicate_is_a_409_unless_forced(api: httpx.AsyncClient) -> None:
    first = await _create(api, name="Acme Corp", email="ops@acme.example")
    again = await api.post(
        "/customers", json={"name": "Other Name", "email": "ops@acme.example"}, headers=AUTH
    )
    assert again.status_code == 409
    assert again.json()["error"]["fields"] == [
        {"field": "email", "message": f"same email as customer #{first['id']}"}
    ]
    forced = await api.post(
        "/customers", json={"name": "Other Name", "email": "ops@acme.example", "force": True}, headers=AUTH
    )
    assert forced.status_code == 201
    clash = await api.patch(f"/customers/{first['id']}", json={"phone": "+1 555 0100 100"}, headers=AUTH)
    assert clash.status_code == 200
    taken = await api.patch(f"/customers/{forced.json()['id']}", json={"phone": "+15550100100"}, headers=AUTH)
    assert taken.status_code == 422 and "already belongs to" in taken.json()["error"]["message"]


async def test_upsert_by_external_ref_creates_then_updates(api: httpx.AsyncClient, store: Store) -> None:
    created = await api.put(
        "/customers/by-ref/SHOP-7", json={"name": "Blue Mug Shop", "tags": ["web"]}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    assert created.json()["external_ref"] == "SHOP-7"
    updated = await api.put(
        "/customers/by-ref/SHOP-7", json={"name": "Blue Mug Shop Ltd", "status": "lead"}, headers=AUTH
    )
    assert updated.status_code == 200
    assert updated.json()["id"] == created.json()["id"]
    assert (updated.json()["name"], updated.json()["status"], updated.json()["tags"]) == (
        "Blue Mug Shop Ltd",
        "lead",
        ["web"],
    )
    taken = await api.post("/customers", json={"name": "Someone", "external_ref": "SHOP-7"}, headers=AUTH)
    assert taken.status_code == 409 and taken.json()["error"]["fields"][0]["field"] == "external_ref"
    async with store.read() as tx:
        assert await tx.customers.count() == 1


async def test_ids_out_of_range_and_unknown_are_404(api: httpx.AsyncClient) -> None:
    for path in (
        "/customers/99",
        "/customers/0",
        "/customers/-3",
        f"/customers/{2**63}",
        f"/customers/{10**30}",
    ):
        response = await api.get(path, headers=AUTH)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "not_found"
    patch = await api.patch(f"/customers/{2**64}", json={"status": "lead"}, headers=AUTH)
    assert patch.status_code == 404
    assert (await api.get("/no-such-thing", headers=AUTH)).json()["error"]["code"] == "not_found"
    # A path the server's mount cannot take (a newline in it) still gets the API's answer.
    odd = await api.put("/customers/by-ref/%0A0", json={"name": "X"}, headers=AUTH)
    assert odd.status_code == 404 and odd.json()["error"]["code"] == "not_found"


async def test_the_list_filters_and_pages_without_missing_a_customer_added_meanwhile(
    api: httpx.AsyncClient, clock: FakeClock
) -> None:
    ids = []
    for n in range(5):
        clock.advance(minutes=1)
        tags = ["vip"] if n % 2 == 0 else ["small_shop"]
        ids.append(
            (
                await _create(
                    api, name=f"Customer {n} Widgets", tags=tags, status="lead" if n < 3 else "active"
                )
            )["id"]
        )
    first = await api.get("/customers", params={"limit": 2}, headers=AUTH)
    assert first.status_code == 200
    assert [c["id"] for c in first.json()["items"]] == ids[:2]
    clock.advance(minutes=1)
    late = (await _create(api, name="Late Arrival"))["id"]  # added between two pages
    seen = [c["id"] for c in first.json()["items"]]
    cursor = first.json()["next_cursor"]
    while cursor is not None:
        page = await api.get("/customers", params={"limit": 2, "cursor": cursor}, headers=AUTH)
        seen += [c["id"] for c in page.json()["items"]]
        cursor = page.json()["next_cursor"]
    assert seen == [*ids, late]

    async def listed(**params: object) -> list[object]:
        response = await api.get("/customers", params=params, headers=AUTH)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    assert await listed(tag="vip") == [ids[0], ids[2], ids[4]]
    assert await listed(tag="small_shop") == [ids[1], ids[3]]
    assert await listed(tag="small%") == []  # LIKE's wildcards mean themselves
    assert await listed(status="active") == [ids[3], ids[4], late]
    assert await listed(text="late arival") == [late]  # fuzzy, as `find`
    assert late not in await listed(text="widgets")
    assert await listed(owner="none", status="lead") == ids[:3]
    assert await listed(owner="7") == []
    since = (clock.now - timedelta(seconds=30)).isoformat()
    assert await listed(updated_since=since) == [late]
    bad = await api.get(
        "/customers", params={"cursor": "nonsense", "owner": "x", "segment": "nope"}, headers=AUTH
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"cursor"}
    bad = await api.get("/customers", params={"owner": "x", "segment": "nope", "limit": 0}, headers=AUTH)
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"limit"}
    bad = await api.get("/customers", params={"owner": "x", "segment": "nope"}, headers=AUTH)
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {"owner", "segment"}


async def test_times_without_a_zone_or_beyond_utc_are_422_not_500(api: httpx.AsyncClient) -> None:
    import base64
    import json

    for since in ("2026-01-01T00:00:00", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"):
        response = await api.get("/customers", params={"updated_since": since}, headers=AUTH)
        assert response.status_code == 422, since
        assert response.json()["error"]["fields"][0]["field"] == "updated_since"
    forged = base64.urlsafe_b64encode(json.dumps(["0001-01-01T00:00:00+05:00", 1]).encode()).decode()
    response = await api.get("/customers", params={"cursor": forged}, headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "cursor"
