"""invite and /start <token>: one-time, expiring links; a lead hands over to the invited customer."""

from __future__ import annotations

import re
from dataclasses import replace

from crm_store.store import Store
from handlers.context import Services
from handlers.messages import Actor
from handlers.people import customer_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock


async def _invite(chat: Chat, who: str = "acme") -> str:
    reply = await chat.say(f"invite {who}")
    found = re.search(r"start[= ]([\w-]+)", reply.text)
    assert found is not None, reply
    return found.group(1)


async def test_invite_gives_a_deep_link_when_the_bot_name_is_known(
    chat: Chat, services: Services, store: Store
) -> None:
    await chat.say("add Acme Corp email=ops@acme.example")
    without = await chat.say("invite acme")
    assert "`/start " in without.text and "not connected" in without.text
    services.settings = replace(services.settings, telegram_username="acme_help_bot")
    reply = await chat.say("invite acme")
    assert re.search(r"https://t\.me/acme_help_bot\?start=[\w-]{16,}", reply.text)
    assert "expires" in reply.text
    async with store.read() as tx:
        assert await tx.link_tokens.count_unused(1) == 2


async def test_a_token_links_once_and_the_lead_is_merged(
    chat: Chat, router: Router, store: Store, clock: FakeClock
) -> None:
    await chat.say("add Acme Corp email=ops@acme.example")
    token = await _invite(chat)
    carla = await customer_actor(store, platform="telegram", user_id="9", display_name="Carla")
    await Chat(router, carla).say("/feedback great service")
    greeting = await Chat(router, carla).say(f"/start {token}")
    assert greeting.title == "Hello, Acme Corp!"
    async with store.read() as tx:
        identity = await tx.people.identity("telegram", "9")
        assert identity is not None and identity.customer_id == 1
        assert await tx.customers.get(carla.customer_id or 0) is None
    relinked = await customer_actor(store, platform="telegram", user_id="9", display_name="Carla")
    assert relinked.customer_id == 1

    bob = await customer_actor(store, platform="telegram", user_id="10", display_name="Bob")
    assert (await Chat(router, bob).say(f"/start {token}")).is_error  # used already
    expiring = await _invite(chat)
    clock.advance(days=7, seconds=1)
    assert (await Chat(router, bob).say(f"/start {expiring}")).is_error
    assert (await Chat(router, bob).say("/start ops@acme.example")).is_error
    async with store.read() as tx:
        identity = await tx.people.identity("telegram", "10")
    assert identity is not None and identity.customer_id == bob.customer_id


async def test_invite_is_for_staff_and_start_tokens_for_customers(
    router: Router, customer: Actor, rep: Actor
) -> None:
    assert (await Chat(router, customer).say("/invite acme")).is_error
    assert (await Chat(router, rep).say("invite")).is_error
