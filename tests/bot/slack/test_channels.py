"""Channel names through the real Slack front end: `/crm subscribe digest daily in #sales` is
resolved with conversations.list (every page, then kept a while) to the channel's id; an
unknown channel is answered and stores nothing."""

from __future__ import annotations

import pytest

from bot.slack.adapter import SlackFrontEnd
from bot.slack.channels import MISS_REFRESH, SlackChannelDirectory
from bot.slack.sender import sender_client
from crm_store.store import Store
from handlers.channels import Channel
from handlers.context import Services
from tests.bot.slack.conftest import MANAGER, TOKEN, SlackRequests
from tests.fakes.slack_api import FakeSlackApi


@pytest.fixture
def many_channels(fake_slack: FakeSlackApi) -> FakeSlackApi:
    for n in range(5):
        fake_slack.add_channel(f"C0GEN{n:04d}", f"general-{n}")
    fake_slack.add_channel("C0SALES01", "sales")  # on the third page of two
    fake_slack.add_channel("C0QUIET01", "quiet", is_member=False)
    return fake_slack


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_directory_reads_every_page_then_answers_from_its_listing(
    many_channels: FakeSlackApi,
) -> None:
    clock = Ticker()
    directory = SlackChannelDirectory(
        sender_client(token=TOKEN, api_url=many_channels.url), page_size=2, clock=clock
    )
    assert await directory.find("sales") == Channel("C0SALES01", "sales")
    assert len(many_channels.of("conversations.list")) == 4  # 7 channels, 2 a page
    assert [c.params.get("cursor") for c in many_channels.of("conversations.list")] == [None, "2", "4", "6"]
    assert await directory.find("#Sales") == Channel("C0SALES01", "sales")
    assert await directory.find_id("C0QUIET01") == Channel("C0QUIET01", "quiet", is_member=False)
    assert len(many_channels.of("conversations.list")) == 4  # from the listing

    assert await directory.find("brand-new") is None  # just listed: a miss does not re-list
    assert len(many_channels.of("conversations.list")) == 4
    many_channels.add_channel("C0NEW0001", "brand-new")
    clock.now += MISS_REFRESH + 1
    assert await directory.find("brand-new") == Channel("C0NEW0001", "brand-new")  # a miss re-lists
    assert len(many_channels.of("conversations.list")) == 8


async def test_subscribe_in_a_channel_by_name_from_slack(
    slack: SlackRequests,
    many_channels: FakeSlackApi,
    frontend: SlackFrontEnd,
    services: Services,
    store: Store,
) -> None:
    services.channels = frontend.channels  # as bot/app.py wires it

    async def say(text: str) -> str:
        before = len(many_channels.of("response_url"))
        await slack.command(text, user=MANAGER)
        answer = (await many_channels.wait_for("response_url", before + 1))[before]
        return "\n".join(b["text"]["text"] for b in answer.params["blocks"] if "text" in b)

    assert "I can't see a channel called #nope" in await say("subscribe digest daily in #nope")
    assert "I'm not in #quiet yet" in await say("subscribe digest daily in #quiet")
    assert "I'm not in #quiet yet" in await say("subscribe digest daily in <#C0QUIET01|quiet>")
    async with store.read() as tx:
        assert await tx.digests.subscriptions() == []
    answered = await say("subscribe digest daily 08:30 in sales")
    assert answered.startswith("Subscribed: the digest comes daily at 08:30 America/New_York, in #sales.")
    answered = await say("subscribe digest daily 08:30 in #sales")  # again: the same one, changed
    assert "daily at 08:30 America/New_York, in #sales." in answered
    answered = await say("subscribe digest weekly in <#C0GEN0003|general-3>")
    assert "weekly at 08:00 America/New_York on Mondays, in #general-3." in answered
    async with store.read() as tx:
        subs = await tx.digests.subscriptions()
    assert [(s.target, s.cadence) for s in subs] == [("C0SALES01", "daily"), ("C0GEN0003", "weekly")]


async def test_the_app_hands_the_slack_directory_to_the_handlers(db_url: str) -> None:
    from bot.app import build_app
    from config.settings import settings_from_mapping

    app = build_app(
        settings_from_mapping(
            {"CRM_DATABASE_URL": db_url, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": "s"}
        )
    )
    try:
        assert app.slack is not None and app.services.channels is app.slack.channels
    finally:
        await app.store.close()
    console_only = build_app(settings_from_mapping({"CRM_DATABASE_URL": db_url}))
    try:
        assert console_only.services.channels is None
    finally:
        await console_only.store.close()
