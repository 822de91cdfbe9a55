"""Per-token rate limits: a token bucket per token (CRM_API_RATE), 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from bot.api.limits import Buckets
from config.settings import Rate, parse_rate, settings_from_mapping
from crm_store.store import Store
from handlers.api_tokens import create_token
from tests.bot.api.conftest import AUTH


def test_rates_are_read_and_refused_clearly() -> None:
    assert parse_rate("20/s,40") == Rate(20.0, 40)
    assert parse_rate("600/min") == Rate(10.0, 20)
    assert parse_rate(" 1 / s ") == Rate(1.0, 2)
    assert parse_rate("off") is None
    for bad in ("fast", "20", "0/s", "20/s,0", "-1/s"):
        with pytest.raises(ValueError):
            parse_rate(bad)
    assert settings_from_mapping({}).api_rate == "20/s,40"
    with pytest.raises(ValueError, match="CRM_API_RATE"):
        settings_from_mapping({"CRM_API_RATE": "lots"})


def test_a_bucket_lets_a_burst_through_then_refills_at_the_rate() -> None:
    now = [0.0]
    buckets = Buckets(Rate(2.0, 3), clock=lambda: now[0])
    assert [buckets.take("erp") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("erp") == pytest.approx(0.5)
    assert buckets.take("shop") == 0.0  # a bucket per token
    now[0] += 0.5
    assert buckets.take("erp") == 0.0
    assert buckets.take("erp") > 0
    now[0] += 100
    assert [buckets.take("erp") for _ in range(4)][:3] == [0.0, 0.0, 0.0]  # never more than the burst
    assert Buckets(None).take("erp") == 0.0


async def test_over_the_rate_is_429_with_retry_after_per_token(
    api_with: Callable[..., httpx.AsyncClient], store: Store
) -> None:
    other = await create_token(store, name="shop", scopes="read", actor="test")
    async with api_with(rate=Rate(0.5, 2)) as api:
        assert [(await api.get("/customers", headers=AUTH)).status_code for _ in range(2)] == [200, 200]
        limited = await api.get("/customers", headers=AUTH)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2"
        assert limited.json()["error"]["code"] == "rate_limited"
        assert (await api.get("/customers", headers={"Authorization": f"Bearer {other}"})).status_code == 200
