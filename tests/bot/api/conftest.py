"""The API app over a temporary store, mounted at /api/v1 as bot/http.py serves it, and an httpx
client on its ASGI transport; ADMIN is the CRM_API_TOKEN the app is built with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from bot.api.app import build_api
from bot.http import build_asgi
from config.settings import Rate
from handlers.context import Services

ADMIN = "admin-secret-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def client_for(services: Services, **options: Any) -> httpx.AsyncClient:
    options.setdefault("env_token", ADMIN)
    app = build_asgi(api=build_api(services, **options))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://crm.test/api/v1")


@pytest.fixture
async def api(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(services) as client:
        yield client


@pytest.fixture
def api_with(services: Services) -> Callable[..., httpx.AsyncClient]:
    """A client for an app built with other options (``rate=Rate(...)``, ``env_token=None``)."""
    return lambda **options: client_for(services, **options)


__all__ = ["ADMIN", "AUTH", "Rate", "client_for"]
