"""Telegram fixtures: the fake Bot API, the real ptb front end over the test store (polling or
webhook), the fake Slack API for the support channel, and a dispatcher on the fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from bot.delivery import Dispatcher
from bot.http import build_asgi
from bot.slack.sender import SlackSender, sender_client
from bot.telegram.adapter import TelegramFrontEnd, TelegramSettings
from crm_store.store import Store
from handlers.context import Services
from handlers.router import Router
from tests.conftest import FakeClock
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

SUPPORT = "C0SUPPORT"
SECRET = "webhook-secret-1"


@pytest.fixture
async def fake_tg(clock: FakeClock) -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi(clock=lambda: clock.now.timestamp()).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlackApi]:
    fake = await FakeSlackApi().start()
    yield fake
    await fake.stop()


@pytest.fixture
def support(services: Services) -> Services:
    """Tickets appear in the Slack support channel (as `crm-bot run` sets up with Slack on)."""
    services.settings = replace(services.settings, support_platform="slack", support_channel=SUPPORT)
    return services


def _frontend(
    router: Router, store: Store, services: Services, settings: TelegramSettings
) -> TelegramFrontEnd:
    def _username(name: str) -> None:
        services.settings = replace(services.settings, telegram_username=name)

    return TelegramFrontEnd(router=router, store=store, settings=settings, on_username=_username)


@pytest.fixture
async def telegram(
    router: Router, store: Store, services: Services, fake_tg: FakeTelegramApi
) -> AsyncIterator[TelegramFrontEnd]:
    """The front end in long-polling mode, started against the fake."""
    frontend = _frontend(
        router, store, services, TelegramSettings(token=TOKEN, api_url=fake_tg.url, poll_timeout=0.2)
    )
    await frontend.start()
    yield frontend
    await frontend.stop()


@pytest.fixture
async def webhook_frontend(
    router: Router, store: Store, services: Services, fake_tg: FakeTelegramApi
) -> AsyncIterator[TelegramFrontEnd]:
    settings = TelegramSettings(
        token=TOKEN,
        api_url=fake_tg.url,
        webhook_url="https://bot.example/telegram/webhook",
        webhook_secret=SECRET,
    )
    frontend = _frontend(router, store, services, settings)
    await frontend.start()
    yield frontend
    await frontend.stop()


@pytest.fixture
async def webhook(webhook_frontend: TelegramFrontEnd) -> AsyncIterator[httpx.AsyncClient]:
    """The webhook over ASGI; each response returns once the updates accepted so far are
    answered (the bot answers after its 200), so tests read the outcome right after a post."""

    async def answered(_: httpx.Response) -> None:
        await webhook_frontend.idle()

    transport = httpx.ASGITransport(app=build_asgi(telegram=webhook_frontend.webhook))
    hooks = {"response": [answered]}
    base = "http://testserver"
    async with httpx.AsyncClient(transport=transport, base_url=base, event_hooks=hooks) as http:
        yield http


@pytest.fixture
def dispatcher(
    store: Store, clock: FakeClock, telegram: TelegramFrontEnd, fake_slack: FakeSlackApi
) -> Dispatcher:
    """Telegram and Slack senders on the fake clock: waits advance it instead of sleeping."""

    async def _sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    slack = SlackSender(sender_client(token="xoxb-test", api_url=fake_slack.url))
    return Dispatcher.of(store, [telegram.sender, slack], clock=lambda: clock.now.timestamp(), sleep=_sleep)
