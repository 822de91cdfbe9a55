"""A rep's message in a ticket's thread in the support channel reaches the customer (via the outbox)."""

from __future__ import annotations

import time

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.bot.slack.conftest import REP, SlackRequests
from tests.conftest import Chat
from tests.fakes.slack_api import FakeSlackApi


def _in_channel(text: str, *, thread_ts: str | None, ts: str) -> dict[str, object]:
    event: dict[str, object] = {
        "type": "message",
        "channel": "C0SUPPORT",
        "channel_type": "channel",
        "user": REP,
        "text": text,
        "ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


async def test_a_thread_reply_is_a_reply_to_the_customer_and_other_chatter_is_ignored(
    slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, customer: Actor, store: Store
) -> None:
    await Chat(router, customer).say("/ticket Cannot log in\nThe password is refused")
    async with store.write("test") as tx:
        await tx.outbox.set_thread("ticket:1", "slack", target="C0SUPPORT", thread_id="111.222")
    now = f"{time.time():.6f}"
    await slack.event(_in_channel("lunch anyone?", thread_ts=None, ts=now), event_id="Ev1")
    await slack.event(_in_channel("unrelated thread", thread_ts="999.000", ts=now), event_id="Ev2")
    for _ in range(2):  # Slack's retry of the same event changes nothing
        response = await slack.event(
            _in_channel("Try resetting <your> password", thread_ts="111.222", ts=now), event_id="Ev3"
        )
        assert response.status_code == 200
    confirmation = (await fake_slack.wait_for("chat.postEphemeral"))[0]
    assert confirmation.params["user"] == REP and "Replied on ticket #1" in confirmation.params["text"]
    async with store.read() as tx:
        rows = await tx.outbox.listing()
    assert [(r.platform, r.target, r.payload["text"]) for r in rows] == [
        ("telegram", "1001", "Try resetting <your> password")
    ]
    assert len(fake_slack.of("chat.postEphemeral")) == 1
