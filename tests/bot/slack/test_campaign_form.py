"""The campaign draft form in Slack: `/crm campaign new` opens it; its submission is the `campaign
new` a manager could type (checked again by the handler), with field errors shown on the form;
real bolt against the fake Slack Web API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.slack import modals
from crm_store.store import Store
from tests.bot.slack.conftest import MANAGER, REP, SlackRequests
from tests.fakes.slack_api import TEAM_ID, FakeSlackApi

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _state(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        value = values.get(block["block_id"])
        if block["element"]["type"] == "static_select":
            option = {"value": value} if value else None
            state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
        else:
            state[block["block_id"]] = {"value": {"type": "plain_text_input", "value": value}}
    return {"values": state}


def _submitted(view: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    return {**view, "id": "V1", "team_id": TEAM_ID, "state": _state(view, values)}


def test_the_submission_is_the_typed_draft_or_errors_on_the_fields() -> None:
    view = modals.campaign_view(channel_id="C1")
    result = modals.submission(
        _submitted(
            view,
            {
                "name": "Spring  promo",
                "audience": "segment:champions\ncountry:DE",
                "text": "Hi {first_name|there},\n<b>20% off</b>",
                "button": "link",
                "button_label": "Shop 'now'",
                "button_url": "https://shop.example/spring",
                "control": "10 %",
            },
        ),
        now=NOW,
    )
    assert result.errors == {} and result.channel_id == "C1"
    assert result.command == (
        "campaign new Spring promo\n"
        "audience: segment:champions country:DE\n"
        "control: 10%\n"
        "button: link 'Shop '\"'\"'now'\"'\"'' https://shop.example/spring\n"
        "text: Hi {first_name|there},\n<b>20% off</b>"
    )
    bad = modals.submission(
        _submitted(
            view,
            {
                "name": " ",
                "text": "Hi {first_name}",
                "button": "link",
                "button_url": "http://x",
                "control": "70",
            },
        ),
        now=NOW,
    )
    assert bad.command is None
    assert set(bad.errors) == {"name", "text", "button_label", "button_url", "control"}
    assert "needs a fallback" in bad.errors["text"]


async def test_campaign_new_opens_the_form_and_its_submission_drafts_the_campaign(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store
) -> None:
    await slack.command("campaign new", user=MANAGER)
    opened = (await fake_slack.wait_for("views.open"))[0]
    view = opened.params["view"]
    assert view["callback_id"] == modals.CALLBACK_PREFIX + modals.CAMPAIGN
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": MANAGER, "team_id": TEAM_ID},
        "api_app_id": "A0001",
    }
    wrong = await slack.interaction(
        {**payload, "view": _submitted(view, {"name": "Spring", "text": "<script>x</script>"})}
    )
    assert wrong.json()["response_action"] == "errors" and "text" in wrong.json()["errors"]
    async with store.read() as tx:
        assert await tx.campaigns.listing() == []
    done = await slack.interaction(
        {
            **payload,
            "view": _submitted(
                view,
                {
                    "name": "Spring",
                    "audience": "all",
                    "text": "Hi {first_name|there}",
                    "button": "talk",
                    "control": "5",
                },
            ),
        }
    )
    assert done.status_code == 200 and done.text == ""
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == f"D{MANAGER}"
    assert "Draft campaign #1 created" in json.dumps(posted.params)
    async with store.read() as tx:
        got = await tx.campaigns.get(1)
    assert got is not None
    assert (got.name, got.audience, got.body, got.button_kind, got.control_pct) == (
        "Spring",
        "all",
        "Hi {first_name|there}",
        "talk",
        5,
    )
    # a rep's submission is refused by the handler like the typed command; nothing stored
    await slack.interaction(
        {**payload, "user": {"id": REP, "team_id": TEAM_ID}, "view": _submitted(view, {"name": "Mine"})}
    )
    refused = (await fake_slack.wait_for("chat.postMessage", 2))[-1]
    assert refused.params["channel"] == f"D{REP}" and "manager" in json.dumps(refused.params).lower()
    async with store.read() as tx:
        assert [c.id for c in await tx.campaigns.listing()] == [1]
