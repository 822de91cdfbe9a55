"""CRM_CUSTOMER_ACCESS=owner through real Slack payloads: a crafted block_actions press and a modal
submission naming another rep's customer reach the same checked handlers as typed commands."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.slack import modals
from crm_store.store import Store
from crm_store.tables import interactions
from handlers.context import Services
from handlers.people import staff_actor
from tests.bot.slack.conftest import MANAGER, REP, SlackRequests
from tests.conftest import services_for
from tests.fakes.slack_api import FakeSlackApi

SECRETS = ("Umbrella", "it@umbrella.example", "7946")


@pytest.fixture
def services(store: Store) -> Services:
    """Overrides the shared fixture: the router behind the Slack front end runs in owner mode."""
    return services_for(store, customer_access="owner")


@pytest.fixture
async def book(store: Store) -> None:
    manager = await staff_actor(store, platform="slack", user_id=MANAGER, display_name="Dana", role="manager")
    rep = await staff_actor(store, platform="slack", user_id=REP, display_name="Sam")
    async with store.write("test") as tx:
        await tx.customers.add(name="Acme Corp", owner_rep_id=manager.rep_id)
        await tx.customers.add(
            name="Umbrella", email="it@umbrella.example", phone="+442079460991", owner_rep_id=rep.rep_id
        )


async def test_crafted_press_and_modal_for_anothers_customer_are_refused(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store, book: None
) -> None:
    await slack.press("crm:show:2", user=MANAGER)
    refused = (await fake_slack.wait_for("response_url", 1))[-1]
    payload = json.dumps(refused.params)
    assert "Customer #2 belongs to someone else's book" in payload
    assert not any(secret in payload for secret in SECRETS)
    # The Log button of #2 opens a form prefilled with the id alone; submitting it is refused too.
    await slack.press("crm:log:2", user=MANAGER)
    view = (await fake_slack.wait_for("views.open"))[0].params["view"]
    assert not any(secret in json.dumps(view) for secret in SECRETS)
    await slack.submit(view, {"customer": "#2", "kind": "call", "text": "sneaky"}, user=MANAGER)
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert "someone else's book" in json.dumps(posted.params)
    assert not any(secret in json.dumps(posted.params) for secret in SECRETS)
    async with store.read() as tx:
        assert (await tx.conn.execute(select(func.count()).select_from(interactions))).scalar_one() == 0
        denied = [r for r in await tx.audit.recent(entity="customer") if r.action == "denied"]
    assert [(d.actor, d.entity_id) for d in denied] == [(f"slack:{MANAGER}", "2")] * 2
    # The owner's press works.
    await slack.press("crm:show:2", user=REP)
    shown = (await fake_slack.wait_for("response_url", 2))[-1]
    assert "Umbrella" in json.dumps(shown.params)
    assert modals.CALLBACK_PREFIX in view["callback_id"]
