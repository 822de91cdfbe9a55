"""Who may call the API: no token, a wrong or revoked one (401), a missing scope (403); tokens
made by handlers.api_tokens (what `crm-bot api-token` calls) are stored as hashes; the last use
is written at most once a minute; with no token at all only the OpenAPI document and docs answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from crm_store.store import Store
from crm_store.tables import api_tokens
from handlers.api_tokens import create_token, list_tokens, revoke_token
from handlers.errors import NotFound, UserError
from tests.bot.api.conftest import AUTH
from tests.conftest import FakeClock


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_no_wrong_or_revoked_token_is_401_and_a_missing_scope_403(
    api: httpx.AsyncClient, store: Store
) -> None:
    reader = await create_token(store, name="bi", scopes="read", actor="test")
    writer = await create_token(store, name="erp", scopes="read,write", actor="test")
    for headers in ({}, bearer("wrong"), {"Authorization": "Basic abc"}, {"Authorization": "Bearer"}):
        response = await api.get("/customers", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await api.get("/customers", headers=bearer(reader))).status_code == 200
    refused = await api.post("/customers", json={"name": "Acme"}, headers=bearer(reader))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    made = await api.post("/customers", json={"name": "Acme"}, headers=bearer(writer))
    assert made.status_code == 201
    async with store.read() as tx:
        assert [e.actor for e in await tx.audit.recent(entity="customer")] == ["api:erp"]
        assert await tx.customers.count() == 1
    await revoke_token(store, name="erp", actor="test")
    assert (await api.get("/customers", headers=bearer(writer))).status_code == 401
    assert (await api.get("/customers", headers=bearer(reader))).status_code == 200


async def test_only_the_hash_is_stored_and_names_scopes_are_checked(store: Store) -> None:
    token = await create_token(store, name="shop", scopes="write, read", actor="cli:api-token")
    assert token.startswith("crm_") and len(token) > 40
    async with store.read() as tx:
        row = (await tx.conn.execute(select(api_tokens))).mappings().one()
        audit = await tx.audit.recent(entity="api_token")
    assert token not in str(dict(row)) and row["scopes"] == "write,read"
    assert [(a.actor, a.action, a.entity_id) for a in audit] == [("cli:api-token", "create", "shop")]
    for name, scopes in (
        ("shop", "read"),
        ("Bad Name", "read"),
        ("env", "read"),
        ("ok", "admin"),
        ("ok", ""),
    ):
        with pytest.raises(UserError):
            await create_token(store, name=name, scopes=scopes, actor="test")
    with pytest.raises(NotFound):
        await revoke_token(store, name="nobody", actor="test")
    await revoke_token(store, name="shop", actor="test")
    with pytest.raises(UserError, match="already revoked"):
        await revoke_token(store, name="shop", actor="test")
    assert [(t.name, t.revoked_at is not None) for t in await list_tokens(store)] == [("shop", True)]


async def test_last_use_is_written_at_most_once_a_minute(
    api: httpx.AsyncClient, store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await create_token(store, name="erp", scopes="read", actor="test")
    writes: list[str] = []
    real_write = store.write

    def counting_write(actor: str, **kwargs: bool) -> object:
        writes.append(actor)
        return real_write(actor, **kwargs)

    monkeypatch.setattr(store, "write", counting_write)
    for _ in range(12):  # two minutes of requests
        assert (await api.get("/customers", headers=bearer(token))).status_code == 200
        clock.advance(seconds=10)
    assert writes == ["api:erp", "api:erp"]
    [listed] = await list_tokens(store)
    assert listed.last_used_at == clock.now - timedelta(minutes=1)


async def test_with_no_token_anywhere_all_is_401_but_the_openapi_document_and_docs(
    api_with: Callable[..., httpx.AsyncClient],
) -> None:
    async with api_with(env_token=None) as api:
        assert (await api.get("/customers", headers=AUTH)).status_code == 401
        assert (await api.get("/customers/1", headers=AUTH)).status_code == 401
        assert (await api.post("/customers", json={"name": "x"}, headers=AUTH)).status_code == 401
        document = await api.get("/openapi.json")
        assert document.status_code == 200
        assert "/customers" in document.json()["paths"]
        docs = await api.get("/docs")
        assert docs.status_code == 200 and "/api/v1/openapi.json" in docs.text


async def test_crm_api_token_is_an_admin_token_named_env(api: httpx.AsyncClient, store: Store) -> None:
    made = await api.post("/customers", json={"name": "Acme"}, headers=AUTH)
    assert made.status_code == 201
    async with store.read() as tx:
        assert [e.actor for e in await tx.audit.recent(entity="customer")] == ["api:env"]
