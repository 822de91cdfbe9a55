"""bot.slack.payload: what Slack really sends is accepted as it is; the refusals name the problem
and never quote the body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.payload import FORM, JSON, Malformed, parse

RICH_TEXT = {
    "type": "rich_text",
    "block_id": "x1",
    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "show acme"}]}],
}
AUTHORIZATIONS = [
    {
        "enterprise_id": None,
        "team_id": "T0001",
        "user_id": "UBOT",
        "is_bot": True,
        "is_enterprise_install": False,
    }
]
# Shaped like the examples in Slack's documentation, with the fields Slack adds that we never read.
EVENTS: dict[str, dict[str, Any]] = {
    "dm": {
        "token": "legacy",
        "team_id": "T0001",
        "context_team_id": "T0001",
        "context_enterprise_id": None,
        "api_app_id": "A0001",
        "event": {
            "type": "message",
            "user": "U0REP",
            "text": "show acme",
            "ts": "1700000000.000100",
            "team": "T0001",
            "blocks": [RICH_TEXT],
            "channel": "D0DM",
            "event_ts": "1700000000.000100",
            "channel_type": "im",
            "client_msg_id": "5f3c4e0e-0000-4000-8000-000000000000",
        },
        "type": "event_callback",
        "event_id": "Ev06ABCDEF12",
        "event_time": 1700000000,
        "authorizations": AUTHORIZATIONS,
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
    },
    "edited": {
        "type": "event_callback",
        "team_id": "T0001",
        "event_id": "Ev06EDITED01",
        "event": {
            "type": "message",
            "subtype": "message_changed",
            "channel": "C0SUPPORT",
            "hidden": True,
            "message": {
                "type": "message",
                "user": "U0REP",
                "text": "new",
                "ts": "1.0",
                "edited": {"ts": "2.0"},
            },
            "previous_message": {"type": "message", "user": "U0REP", "text": "old", "ts": "1.0"},
            "event_ts": "2.0",
            "ts": "2.0",
            "channel_type": "channel",
        },
        "authorizations": AUTHORIZATIONS,
    },
    "home": {
        "type": "event_callback",
        "team_id": "T0001",
        "event_id": "Ev06HOME0001",
        "event": {
            "type": "app_home_opened",
            "user": "U0REP",
            "channel": "D0DM",
            "tab": "home",
            "event_ts": "1.0",
        },
    },
    "url check": {
        "token": "legacy",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    },
}
INTERACTIONS: dict[str, dict[str, Any]] = {
    "button in a channel": {
        "type": "block_actions",
        "user": {"id": "U0REP", "username": "sam", "name": "sam", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy",
        "container": {"type": "message", "message_ts": "1.0", "channel_id": "C0SALES", "is_ephemeral": False},
        "trigger_id": "123.456.abc",
        "team": {"id": "T0001", "domain": "example"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "C0SALES", "name": "sales"},
        "message": {
            "type": "message",
            "user": "UBOT",
            "ts": "1.0",
            "bot_id": "B1",
            "text": "card",
            "blocks": [RICH_TEXT],
        },
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0001/1/abc",
        "actions": [
            {
                "action_id": "crm:show:1",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Show", "emoji": True},
                "value": "crm:show:1",
                "type": "button",
                "action_ts": "1.1",
            }
        ],
    },
    "form sent": {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": "U0REP", "username": "sam", "name": "sam", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": "123.456.def",
        "view": {
            "id": "V1",
            "team_id": "T0001",
            "type": "modal",
            "blocks": [],
            "private_metadata": '{"channel": "C0SALES"}',
            "callback_id": "crm_modal_log",
            "state": {"values": {"text": {"value": {"type": "plain_text_input", "value": "demo"}}}},
            "hash": "1700000000.abc",
            "title": {"type": "plain_text", "text": "Log to CRM", "emoji": True},
            "root_view_id": "V1",
            "app_id": "A0001",
            "app_installed_team_id": "T0001",
            "bot_id": "B1",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    },
    "shortcut on a message": {
        "type": "message_action",
        "token": "legacy",
        "action_ts": "1.2",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": "U0REP", "username": "sam", "team_id": "T0001", "name": "sam"},
        "channel": {"id": "C0SALES", "name": "sales"},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": "log_to_crm",
        "trigger_id": "123.456.ghi",
        "response_url": "https://hooks.slack.com/app/T0001/2/def",
        "message_ts": "1.0",
        "message": {"type": "message", "user": "U0OTHER", "text": "they want 50 seats", "ts": "1.0"},
    },
}


def interaction(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


COMMAND = {
    "token": "legacy",
    "team_id": "T0001",
    "team_domain": "example",
    "channel_id": "C0SALES",
    "channel_name": "sales",
    "user_id": "U0REP",
    "user_name": "sam",
    "command": "/crm",
    "text": "log acme note: payload = 3 pallets & a crate",
    "api_app_id": "A0001",
    "is_enterprise_install": "false",
    "response_url": "https://hooks.slack.com/commands/T0001/3/ghi",
    "trigger_id": "123.456.jkl",
}


@pytest.mark.parametrize("name", list(EVENTS))
def test_events_as_slack_sends_them_are_accepted_unchanged(name: str) -> None:
    body = EVENTS[name]
    assert parse(json.dumps(body).encode(), f"{JSON}; charset=utf-8") == body


@pytest.mark.parametrize("name", list(INTERACTIONS))
def test_interactions_as_slack_sends_them_are_accepted_unchanged(name: str) -> None:
    body = INTERACTIONS[name]
    assert parse(interaction(body), FORM) == body


def test_a_slash_command_is_its_form_fields_whatever_its_text_says() -> None:
    assert parse(urlencode(COMMAND).encode(), FORM) == COMMAND
    check = {"ssl_check": "1", "token": "legacy"}
    assert parse(urlencode(check).encode(), FORM) == check


def test_refusals_say_what_is_wrong_without_quoting_the_body() -> None:
    secret = "jane@private.example"
    bad_channel = {"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "channel": 5}}
    cases = [
        (urlencode({"payload": "{" + secret}).encode(), FORM, "JSON does not parse"),
        (json.dumps(bad_channel).encode(), JSON, "channel is not text"),
        (interaction({"type": secret, "user": "U1"}), FORM, "not an interaction this app handles"),
        (urlencode({"note": secret}).encode(), FORM, "form is neither a command nor an interaction"),
        (b'{"type": "url_verification", "challenge": NaN}', JSON, "JSON holds NaN or Infinity"),
    ]
    for raw, content_type, reason in cases:
        with pytest.raises(Malformed) as refused:
            parse(raw, content_type)
        assert str(refused.value) == reason and secret not in str(refused.value)
