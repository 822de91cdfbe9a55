"""Pure functions: Slack payload -> Message (translate) and modal submission -> command or errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.slack import modals, translate


def test_clean_text_drops_the_bot_mention_and_unwraps_links() -> None:
    text = (
        "<@UBOT> add Acme email=<mailto:a@b.example|a@b.example> site=<https://acme.example> x &lt;1 &amp; y"
    )
    assert translate.clean_text(text, bot_user_id="UBOT") == (
        "add Acme email=a@b.example site=https://acme.example x <1 & y"
    )
    assert translate.clean_text("role <@U2|dana> manager") == "role <@U2|dana> manager"


def test_message_events_from_bots_and_edits_are_ignored() -> None:
    base = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "text": "hi", "ts": "1.0"}
    assert translate.from_message_event(base) is not None
    assert translate.from_message_event({**base, "bot_id": "B1"}) is None
    assert translate.from_message_event({**base, "subtype": "message_changed"}) is None
    mention = translate.from_message_event({**base, "channel_type": "channel", "thread_ts": "0.5"})
    assert mention is not None and mention.thread_ts == "0.5"


def test_block_action_reads_buttons_and_overflow_options() -> None:
    body: dict[str, Any] = {
        "user": {"id": "U1"},
        "actions": [
            {"type": "overflow", "action_id": "crm-menu-0", "selected_option": {"value": "crm:done:4"}}
        ],
        "container": {"channel_id": "C1"},
    }
    incoming = translate.from_block_action(body)
    assert incoming is not None and incoming.action == "crm:done:4" and incoming.channel_id == "C1"


def test_profile_prefers_display_name_and_keeps_the_zone() -> None:
    user = {
        "id": "U1",
        "name": "sam",
        "tz": "Asia/Tokyo",
        "profile": {"display_name": "", "real_name": "Sam R"},
    }
    assert translate.profile(user) == ("Sam R", "Asia/Tokyo")


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _submit(kind: str, values: dict[str, str], **prefill: str) -> modals.Submission:
    view = modals.view(kind, **prefill)
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["element"]["type"] == "static_select":
            value = values.get(block["block_id"])
            option = {"value": value} if value else None
            state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
        else:
            state[block["block_id"]] = {
                "value": {"type": "plain_text_input", "value": values.get(block["block_id"])}
            }
    return modals.submission({**view, "state": {"values": state}}, now=NOW)


def test_add_modal_builds_the_add_command() -> None:
    result = _submit(
        "add",
        {
            "name": "Umbrella",
            "email": "IT@Umbrella.example",
            "phone": "+1 (555) 010-0100",
            "status": "lead",
            "tags": "vip, renewal",
        },
    )
    assert result.errors == {}
    assert (
        result.command
        == "add Umbrella email=it@umbrella.example phone=+15550100100 status=lead tags=vip,renewal"
    )


def test_add_modal_errors_sit_on_their_fields() -> None:
    result = _submit("add", {"name": "", "email": "nope", "phone": "12", "tags": "two words"})
    assert set(result.errors) == {"name", "email", "phone", "tags"}
    assert result.command is None


def test_fields_cannot_smuggle_command_syntax() -> None:
    assert "customer" in _submit("log", {"customer": "acme: x", "kind": "call", "text": "hi"}).errors
    assert "name" in _submit("add", {"name": "Acme owner=me"}).errors


def test_log_remind_ticket_and_update_modals() -> None:
    assert _submit("log", {"customer": "#3", "kind": "email", "text": "sent: the quote"}).command == (
        "log #3 email: sent: the quote"
    )
    assert _submit("remind", {"customer": "#3", "when": "tomorrow 10:00", "text": "call"}).command == (
        "remind #3 tomorrow 10:00: call"
    )
    assert "when" in _submit("remind", {"customer": "#3", "when": "someday maybe", "text": "call"}).errors
    assert _submit("ticket", {"customer": "#3", "subject": "Broken  printer"}).command == (
        "open-ticket #3: Broken printer"
    )
    assert (
        _submit("update", {"customer": "#3", "phone": "+1 555 0100 99"}).command
        == "update #3 phone=+1555010099"
    )
    assert _submit("update", {"customer": "#3"}).errors


def test_prefill_and_metadata_carry_ids_only() -> None:
    view = modals.view("log", customer="#12", text="from the thread", channel_id="C9")
    assert view["private_metadata"] == '{"channel": "C9"}'
    assert view["blocks"][0]["element"]["initial_value"] == "#12"
