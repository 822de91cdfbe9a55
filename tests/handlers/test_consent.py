"""Consent: /stop and the "Stop these messages" button are recorded with source and campaign and
honoured until /subscribe; "Talk to us" opens a ticket; writing again unblocks a chat."""

from __future__ import annotations

from crm_store.store import Store
from handlers.consent import STOP_VERB, TALK_VERB
from handlers.messages import Actor
from handlers.people import customer_actor
from handlers.router import Router
from tests.conftest import Chat


async def _events(store: Store, customer_id: int) -> list[tuple[str, str, int | None]]:
    async with store.read() as tx:
        return [(e.state, e.source, e.campaign_id) for e in await tx.consents.history(customer_id)]


async def test_stop_and_subscribe_are_recorded_and_answered_kindly(
    router: Router, customer: Actor, store: Store
) -> None:
    me, cid = Chat(router, customer), customer.customer_id or 0
    stopped = await me.say("/stop")
    assert "won't send you" in stopped.text and "/subscribe" in stopped.text
    assert "already" in (await me.say("/stop")).text  # honoured, not recorded twice
    async with store.read() as tx:
        assert await tx.consents.stopped([cid]) == {cid}
    back = await me.say("/subscribe")
    assert "again" in back.text and "/stop" in back.text
    assert "already" not in back.text and "on our news" in (await me.say("/subscribe")).text
    assert await _events(store, cid) == [("stopped", "command", None), ("subscribed", "command", None)]
    async with store.read() as tx:
        assert await tx.consents.stopped([cid]) == set()
    assert "/stop" in (await me.say("/help")).text


async def test_the_stop_button_names_its_campaign_and_staff_cannot_press_it(
    router: Router, customer: Actor, rep: Actor, store: Store
) -> None:
    async with store.write("t") as tx:
        campaign = await tx.campaigns.create("Spring sale", created_by_rep_id=None)
    me, cid = Chat(router, customer), customer.customer_id or 0
    assert (await Chat(router, rep).press(f"crm:{STOP_VERB}:{campaign.id}")).is_error
    assert (await me.press(f"crm:{STOP_VERB}:abc")).is_error
    reply = await me.press(f"crm:{STOP_VERB}:{campaign.id}")
    assert "won't send you" in reply.text and "/subscribe" in reply.text
    await me.press(f"crm:{STOP_VERB}:999")  # already stopped: nothing more recorded
    assert await _events(store, cid) == [("stopped", "button", campaign.id)]


async def test_talk_to_us_opens_one_ticket_for_the_presser(
    router: Router, customer: Actor, store: Store
) -> None:
    async with store.write("t") as tx:
        campaign = await tx.campaigns.create("Spring sale", created_by_rep_id=None)
    me = Chat(router, customer)
    opened = await me.press(f"crm:{TALK_VERB}:{campaign.id}")
    assert "ticket #1 is open" in opened.text
    again = await me.press(f"crm:{TALK_VERB}:{campaign.id}")
    assert "ticket #1 is open" in again.text
    async with store.read() as tx:
        tickets = await tx.tickets.find(status="all", customer_id=customer.customer_id, limit=5)
    assert [t.subject for t in tickets] == ["Reply to “Spring sale”"]


async def test_writing_to_the_bot_again_unblocks_the_chat(customer: Actor, store: Store) -> None:
    cid = customer.customer_id or 0
    async with store.write("t") as tx:
        assert await tx.consents.mark_blocked("telegram", "1001")
        assert await tx.consents.unreachable([cid]) == {cid: "blocked the bot"}
        assert await tx.consents.chats([cid]) == {}
    await customer_actor(store, platform="telegram", user_id="1001", display_name="Carla Customer")
    async with store.read() as tx:
        assert await tx.consents.unreachable([cid]) == {}
        assert await tx.consents.chats([cid]) == {cid: "1001"}
