"""Channel names in `subscribe digest ... in <channel>`: every way Slack sends or a person types
one resolves to the channel's id; an unknown channel, or one the bot is not in, is a clear
answer that stores nothing."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers.channels import Channel, ChannelDirectoryError, resolve_channel
from handlers.errors import UserError
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import Chat, services_for

SALES = Channel("C0SALES1", "sales")
QUIET = Channel("C0QUIET1", "quiet-room", is_member=False)


class FakeChannelDirectory:
    def __init__(self, *channels: Channel, broken: bool = False) -> None:
        self.channels = channels
        self.broken = broken
        self.asked: list[str] = []

    async def find(self, name: str) -> Channel | None:
        self.asked.append(name)
        if self.broken:
            raise ChannelDirectoryError("missing_scope")
        return next((c for c in self.channels if c.name == name), None)

    async def find_id(self, channel_id: str) -> Channel | None:
        self.asked.append(channel_id)
        if self.broken:
            raise ChannelDirectoryError("missing_scope")
        return next((c for c in self.channels if c.id == channel_id), None)


@pytest.mark.parametrize(
    "typed", ["#sales", "sales", "#Sales", "<#C0SALES1|sales>", "<#C0SALES1>", "C0SALES1"]
)
async def test_every_form_of_a_channel_resolves_to_its_id(typed: str) -> None:
    assert await resolve_channel(FakeChannelDirectory(SALES, QUIET), typed) == SALES


async def test_a_picked_private_channel_the_bot_cannot_list_is_taken_by_its_id() -> None:
    found = await resolve_channel(FakeChannelDirectory(SALES), "<#G0SECRET|board>")
    assert found == Channel("G0SECRET", "board")


@pytest.mark.parametrize(
    ("typed", "directory", "needle"),
    [
        ("#nope", FakeChannelDirectory(SALES), "can't see a channel called #nope"),
        ("#quiet-room", FakeChannelDirectory(SALES, QUIET), "I'm not in #quiet-room yet"),
        ("<#C0QUIET1|quiet-room>", FakeChannelDirectory(SALES, QUIET), "I'm not in #quiet-room yet"),
        ("#sales", None, "can't look channel names up here"),
        ("#sales", FakeChannelDirectory(SALES, broken=True), "couldn't ask Slack for its channels"),
        ("#<b>", FakeChannelDirectory(SALES), "is not a channel name"),
    ],
)
async def test_channels_that_cannot_take_a_digest_are_refused_clearly(
    typed: str, directory: FakeChannelDirectory | None, needle: str
) -> None:
    with pytest.raises(UserError) as refused:
        await resolve_channel(directory, typed)
    assert needle in str(refused.value)


async def test_subscribe_in_a_named_channel_stores_its_id_and_a_bad_one_changes_nothing(
    store: Store,
) -> None:
    services = services_for(store)
    services.channels = FakeChannelDirectory(SALES, QUIET)
    boss = await staff_actor(store, platform="slack", user_id="U0MGR", display_name="Dana", role="manager")
    chat = Chat(Router(services), boss)
    for typed, needle in [
        ("subscribe digest daily in #nope", "can't see a channel called #nope"),
        ("subscribe digest daily in #quiet-room", "I'm not in #quiet-room yet"),
        ("subscribe digest daily in #sales extra", "I don't understand"),
    ]:
        reply = await chat.say(typed)
        assert reply.is_error and needle in reply.text, (typed, reply.text)
    async with store.read() as tx:
        assert await tx.digests.subscriptions() == []
    reply = await chat.say("subscribe digest weekly 07:30 in #sales")
    assert reply.text == (
        "Subscribed: the digest comes weekly at 07:30 UTC on Mondays, in #sales. "
        "`unsubscribe digest` stops it."
    )
    async with store.read() as tx:
        (sub,) = await tx.digests.subscriptions()
    assert (sub.platform, sub.target, sub.cadence) == ("slack", "C0SALES1", "weekly")
