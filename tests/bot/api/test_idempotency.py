"""Idempotency-Key: a retry with the same key and body gets the first answer and writes nothing;
the same key with another body is a 422; failures on our side are not kept."""

from __future__ import annotations

import hashlib

import httpx

from crm_store.store import Store
from handlers.jobs import IDEMPOTENCY_KEPT, JobSettings, purge_housekeeping
from tests.bot.api.conftest import AUTH
from tests.conftest import FakeClock


def keyed(key: str) -> dict[str, str]:
    return {**AUTH, "Idempotency-Key": key}


async def test_a_retry_gets_the_first_answer_without_writing(api: httpx.AsyncClient, store: Store) -> None:
    first = await api.post("/customers", json={"name": "Acme Corp"}, headers=keyed("k-1"))
    again = await api.post("/customers", json={"name": "Acme Corp"}, headers=keyed("k-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    async with store.read() as tx:
        assert await tx.customers.count() == 1
        assert len(await tx.audit.recent(entity="customer")) == 1
    # A refusal is an answer too: the same again, still without a write.
    bad = await api.post("/customers", json={"name": "X", "email": "nope"}, headers=keyed("k-2"))
    assert bad.status_code == 422
    assert (
        await api.post("/customers", json={"name": "X", "email": "nope"}, headers=keyed("k-2"))
    ).json() == bad.json()
    # Without a key, the same body is a new request (here a likely duplicate).
    assert (await api.post("/customers", json={"name": "Acme Corp"}, headers=AUTH)).status_code == 409


async def test_the_same_key_with_another_request_is_a_422(api: httpx.AsyncClient, store: Store) -> None:
    assert (await api.post("/customers", json={"name": "Acme"}, headers=keyed("k"))).status_code == 201
    other = await api.post("/customers", json={"name": "Globex"}, headers=keyed("k"))
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert other.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    elsewhere = await api.patch("/customers/1", json={"name": "Acme"}, headers=keyed("k"))
    assert elsewhere.status_code == 422
    async with store.read() as tx:
        assert await tx.customers.count() == 1
    too_long = await api.post("/customers", json={"name": "Acme"}, headers=keyed("x" * 256))
    assert too_long.status_code == 422 and too_long.json()["error"]["fields"][0]["field"] == "Idempotency-Key"


async def test_keys_are_per_token_and_a_401_is_not_kept(api: httpx.AsyncClient, store: Store) -> None:
    from handlers.api_tokens import create_token

    other = await create_token(store, name="shop", scopes="read,write", actor="test")
    unauthorised = await api.post("/customers", json={"name": "Acme"}, headers={"Idempotency-Key": "k"})
    assert unauthorised.status_code == 401
    assert (await api.post("/customers", json={"name": "Acme"}, headers=keyed("k"))).status_code == 201
    shop = {"Authorization": f"Bearer {other}", "Idempotency-Key": "k"}
    assert (
        await api.post("/customers", json={"name": "Acme", "force": True}, headers=shop)
    ).status_code == 201
    async with store.read() as tx:
        assert await tx.customers.count() == 2


async def test_a_key_still_running_is_a_409_and_keys_are_purged_after_a_day(
    api: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    body = b'{"name": "Acme"}'
    async with store.write("test") as tx:  # as the first request leaves it while it runs
        assert await tx.api_tokens.claim_key(
            "env", "k", request="POST /api/v1/customers", request_hash=hashlib.sha256(body).hexdigest()
        )
    headers = {**keyed("k"), "Content-Type": "application/json"}
    running = await api.post("/customers", content=body, headers=headers)
    assert running.status_code == 409 and running.headers["Retry-After"] == "1"
    assert running.json()["error"]["code"] == "idempotency_in_progress"
    async with store.read() as tx:
        assert await tx.customers.count() == 0
    clock.advance(hours=1)
    assert (await api.post("/customers", json={"name": "Acme"}, headers=keyed("k2"))).status_code == 201
    clock.advance(hours=23, seconds=1)
    assert await purge_housekeeping(store, JobSettings()) >= 1
    async with store.read() as tx:
        assert await tx.api_tokens.answer("env", "k") is None  # a day old: gone
        assert await tx.api_tokens.answer("env", "k2") is not None  # 23 h old: kept
    assert IDEMPOTENCY_KEPT.total_seconds() == 24 * 3600
