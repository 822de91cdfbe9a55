"""Pure functions: Slack payload -> Message (translate) and modal submission -> command or errors;
and the ticket Reply button's form end to end (real bolt against the fake Slack Web API)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.http import build_asgi
from bot.slack import modals, translate
from bot.slack.adapter import SlackFrontEnd, SlackSettings
from crm_store.store import Store
from handlers.messages import MAX_TEXT, Actor, Button, Field, ListItem, Message, Reply, error_reply
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.bot.slack.conftest import MANAGER, REP, SECRET, TOKEN, SlackRequests
from tests.conftest import Chat, services_for
from tests.fakes.slack_api import TEAM_ID, Call, FakeSlackApi


def test_clean_text_drops_the_bot_mention_and_unwraps_links() -> None:
    text = (
        "<@UBOT> add Acme email=<mailto:a@b.example|a@b.example> site=<https://acme.example> x &lt;1 &amp; y"
    )
    assert translate.clean_text(text, bot_user_id="UBOT") == (
        "add Acme email=a@b.example site=https://acme.example x <1 & y"
    )
    assert translate.clean_text("role <@U2|dana> manager") == "role <@U2|dana> manager"


def test_a_slash_command_and_a_form_reach_the_handlers_cleaned() -> None:
    command = translate.from_command({"user_id": "U1", "text": "log acme note: \x1b[31mred\x1b[0m\x00 alert"})
    said = command.message(Actor(platform="slack", user_id="U1", role="rep"))
    assert said.text == "log acme note: red alert"
    view = modals.view("add")
    typed = {"name": "A\x00B\u202e", "company": "\x1b[1mInitech", "status": "lead"}
    form = {**view, "state": _state(view, typed)}
    assert modals.submission(form, now=NOW).command == "add AB company=Initech status=lead"
    blank = {**view, "state": _state(view, {"name": "\x00\x07", "status": "lead"})}
    assert "name" in modals.submission(blank, now=NOW).errors  # nothing left: the name is missing


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


def _state(view: dict[str, Any], values: dict[str, str | None]) -> dict[str, Any]:
    """The view's state as Slack submits it: the values of its input blocks."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        if block["element"]["type"] == "static_select":
            value = values.get(block["block_id"])
            option = {"value": value} if value else None
            state[block["block_id"]] = {"value": {"type": "static_select", "selected_option": option}}
        else:
            state[block["block_id"]] = {
                "value": {"type": "plain_text_input", "value": values.get(block["block_id"])}
            }
    return {"values": state}


def _submit(kind: str, values: dict[str, str], **prefill: str) -> modals.Submission:
    view = modals.view(kind, **prefill)
    return modals.submission({**view, "state": _state(view, dict(values))}, now=NOW)


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


def test_add_modal_quotes_a_name_that_reads_like_a_sentence() -> None:
    # The Name field holds a name, so `add` must not ask what was meant.
    result = _submit("add", {"name": "Notes to Self: Journals", "status": "lead"})
    assert result.command == 'add "Notes to Self: Journals" status=lead'


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


# -- the ticket Reply button's form ----------------------------------------------------------

TICKET = Reply(
    title="Ticket #12: Printer on fire",
    text="From Carla Customer (#3) via telegram.",
    fields=(Field("Status", "open"), Field("Assignee", "unassigned")),
    items=(ListItem("Carla Customer: It smokes", "Mon 09:00", (Button("Open", "crm:ticket:12"),)),),
    buttons=(Button("Resolve", "crm:resolve:12", "primary"),),
)


def _reply(view: dict[str, Any], text: str | None, **metadata: object) -> modals.Submission:
    if metadata:
        view = {**view, "private_metadata": json.dumps(metadata)}
    return modals.submission({**view, "state": _state(view, {"text": text})}, now=NOW)


def _elements(view: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in view["blocks"]:
        found += [*block.get("elements", []), block.get("accessory") or {}, block.get("element") or {}]
    return [e for e in found if e]


def test_reply_form_shows_the_ticket_and_takes_a_long_multiline_answer() -> None:
    loading = modals.reply_view(12, channel_id="C9")
    assert loading["callback_id"] == modals.CALLBACK_PREFIX + modals.REPLY
    assert json.loads(loading["private_metadata"]) == {"channel": "C9", "ticket": 12}
    assert loading["title"]["text"] == "Reply on ticket #12" and len(loading["title"]["text"]) <= 24
    assert "Ticket #12" in json.dumps(loading["blocks"][0])
    field = loading["blocks"][-1]
    assert field["block_id"] == "text" and field["element"]["action_id"] == "value"
    assert field["element"]["multiline"] is True
    # As much as the reply handler takes, within what Slack's input holds.
    assert field["element"]["max_length"] == modals.MAX_REPLY == 3_000 <= MAX_TEXT
    shown = modals.reply_view(12, channel_id="C9", ticket=TICKET)
    assert shown["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Ticket #12: Printer on fire", "emoji": True},
    }
    assert "Carla Customer: It smokes" in json.dumps(shown["blocks"])
    assert [e["type"] for e in _elements(shown)] == ["plain_text_input"]  # no buttons in a form
    assert shown["blocks"][-1] == field  # same ids: views.update keeps what was typed
    assert shown["private_metadata"] == loading["private_metadata"]
    assert modals.reply_view(10**30)["title"]["text"] == "Reply"


def test_a_refused_ticket_replaces_the_form() -> None:
    refused = modals.reply_view(12, ticket=error_reply("Customer #3 belongs to someone else's book."))
    assert "submit" not in refused and refused["close"]["text"] == "Close"
    assert not [b for b in refused["blocks"] if b["type"] == "input"]
    assert "someone else's book" in json.dumps(refused["blocks"])


def test_reply_submission_is_the_typed_reply_command() -> None:
    view = modals.reply_view(12, channel_id="C9", ticket=TICKET)
    done = _reply(view, "  A technician comes today.\nSorry for the smoke.  ")
    assert done.errors == {} and done.channel_id == "C9"
    assert done.command == "reply 12 A technician comes today.\nSorry for the smoke."
    assert _reply(view, "hi", ticket="7", channel="C9").command == "reply 7 hi"
    assert _reply(view, "").errors == {"text": "What should the reply say?"}
    assert _reply(view, None).command is None
    assert "too long" in _reply(view, "y" * (modals.MAX_REPLY + 1)).errors["text"]
    # private_metadata is the client's to forge: only a plain number becomes a ticket id.
    for forged in ("12 resolve 12", "", "-1", "１２", "#12", None, True, [12], 1.5):
        result = _reply(view, "hi", ticket=forged)
        assert result.command is None and "lost its ticket" in result.errors["text"], forged
    broken = {**view, "private_metadata": "not json"}
    assert modals.submission({**broken, "state": _state(view, {"text": "hi"})}, now=NOW).command is None


def test_a_reply_form_for_an_id_beyond_64_bits_names_no_ticket() -> None:
    view = modals.reply_view(12, channel_id="C9")
    for forged in (99999999999999999999, "9223372036854775808", 0, "0"):
        result = _reply(view, "hi", ticket=forged)
        assert result.command is None and result.errors == {"text": f"There is no ticket #{forged}."}, forged


async def _submit_reply(
    slack: SlackRequests, view: dict[str, Any], text: str, *, user: str = REP
) -> httpx.Response:
    """A view_submission of the reply form (the conftest helper expects input blocks only)."""
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID},
        "user": {"id": user, "team_id": TEAM_ID},
        "api_app_id": "A0001",
        "view": {**view, "id": "V1", "team_id": TEAM_ID, "state": _state(view, {"text": text})},
    }
    return await slack.interaction(payload)


def _shown(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


async def _ticket_of(router: Router, customer: Actor, subject: str) -> None:
    reply = await Chat(router, customer).say(f"/ticket {subject}\nPlease help")
    assert "is open" in reply.text, reply.text


async def _rep_messages(store: Store, ticket_id: int) -> list[tuple[str | None, int | None, str]]:
    async with store.read() as tx:
        messages = await tx.tickets.messages(ticket_id)
    return [(m.author_name, m.author_rep_id, m.text) for m in messages if m.author_kind == "rep"]


async def _relayed(store: Store) -> list[tuple[str, str, str]]:
    async with store.read() as tx:
        rows = await tx.outbox.listing()
    return [(r.platform, r.target, r.payload["text"]) for r in rows]


async def test_reply_button_opens_a_form_whose_submission_replies_like_the_typed_command(
    slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, customer: Actor, store: Store
) -> None:
    await _ticket_of(router, customer, "Printer on fire")
    await slack.press("crm:reply:1")
    opened = (await fake_slack.wait_for("views.open"))[0]
    assert opened.params["trigger_id"] == "trigger-1"
    assert json.loads(opened.params["view"]["private_metadata"]) == {"channel": "C0SALES", "ticket": 1}
    # Then filled with the ticket as `ticket 1` shows it to this rep: number, subject, customer.
    updated = (await fake_slack.wait_for("views.update"))[0]
    assert updated.params["view_id"] == "V1"
    view = updated.params["view"]
    assert "Ticket #1: Printer on fire" in _shown(updated) and "Carla Customer" in _shown(updated)
    assert view["private_metadata"] == opened.params["view"]["private_metadata"]
    assert not fake_slack.of("response_url")  # no "type reply 1 ..." prompt on Slack
    # Empty: the field says so; nothing stored, nothing relayed.
    empty = await _submit_reply(slack, view, "   ")
    assert empty.json() == {"response_action": "errors", "errors": {"text": "What should the reply say?"}}
    assert await _rep_messages(store, 1) == [] and await _relayed(store) == []
    answer = "A technician comes today.\nSorry <b>for</b> the smoke & noise."
    done = await _submit_reply(slack, view, answer)
    assert done.status_code == 200 and done.text == ""
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == f"D{REP}"  # like the other forms: the answer goes to the DM
    assert "Replied on ticket #1 to Carla Customer." in _shown(posted)
    async with store.read() as tx:
        rep = await tx.people.identity("slack", REP)
        ticket = await tx.tickets.get(1)
        audit = [a.action for a in await tx.audit.recent(entity="ticket", entity_id=1)]
    assert rep is not None and ticket is not None
    assert await _rep_messages(store, 1) == [("Sam Rep", rep.rep_id, answer)]
    assert ticket.status == "pending" and ticket.assignee_rep_id == rep.rep_id
    assert ticket.first_response_at is not None and "reply" in audit
    # The customer gets it in their Telegram chat, through the outbox.
    assert await _relayed(store) == [("telegram", "1001", answer)]
    # A resolved ticket: the handler's refusal reaches the rep; nothing stored, nothing relayed.
    sam = await staff_actor(store, platform="slack", user_id=REP, display_name="Sam Rep")
    assert "Resolved ticket #1" in (await router.handle(Message(actor=sam, text="resolve 1"))).text
    before = await _relayed(store)
    await _submit_reply(slack, view, "one more thing")
    refused = (await fake_slack.wait_for("chat.postMessage", 2))[-1]
    assert "Ticket #1 is resolved" in _shown(refused)
    assert await _rep_messages(store, 1) == [("Sam Rep", rep.rep_id, answer)]
    assert await _relayed(store) == before


async def test_text_front_ends_keep_the_typed_prompt(router: Router, rep: Actor) -> None:
    prompt = await Chat(router, rep).press("crm:reply:1")
    assert prompt.text == "To answer the customer, type: reply 1 …"


@pytest.fixture
async def owner_slack(store: Store, fake_slack: FakeSlackApi) -> AsyncIterator[SlackRequests]:
    """The Slack front end over a router in CRM_CUSTOMER_ACCESS=owner mode."""
    frontend = SlackFrontEnd(
        router=Router(services_for(store, customer_access="owner")),
        store=store,
        settings=SlackSettings(
            bot_token=TOKEN, signing_secret=SECRET, api_url=fake_slack.url, managers=(MANAGER,)
        ),
    )
    assert frontend.http_handler is not None
    transport = httpx.ASGITransport(app=build_asgi(slack=frontend.http_handler.handle))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield SlackRequests(http, fake_slack)


async def test_reply_form_for_another_owners_customer_is_refused_and_audited(
    owner_slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, store: Store
) -> None:
    dana = await staff_actor(store, platform="slack", user_id=MANAGER, display_name="Dana", role="manager")
    await staff_actor(store, platform="slack", user_id=REP, display_name="Sam Rep")
    carla = await customer_actor(store, platform="telegram", user_id="1001", display_name="Carla Customer")
    dan = await customer_actor(store, platform="telegram", user_id="1002", display_name="Dan Lead")
    async with store.write("test") as tx:
        await tx.customers.update(1, fields={"owner_rep_id": dana.rep_id})  # Carla is Dana's
    await _ticket_of(router, carla, "Invoice 4711 is wrong")  # ticket #1: Dana's customer
    await _ticket_of(router, dan, "Where is my parcel")  # ticket #2: Dan is in the shared pool
    # Reply on #1: the form opens (before any lookup), then shows the refusal instead of the field.
    await owner_slack.press("crm:reply:1")
    refused = (await fake_slack.wait_for("views.update"))[0]
    assert "Customer #1 belongs to someone else's book" in _shown(refused)
    assert "Invoice 4711" not in _shown(refused) and "Carla" not in _shown(refused)
    assert "submit" not in refused.params["view"]
    # Reply on #2 gives a real form; its private_metadata forged to name #1 is refused by the handler.
    await owner_slack.press("crm:reply:2")
    form = (await fake_slack.wait_for("views.update", 2))[-1].params["view"]
    assert "Where is my parcel" in json.dumps(form)
    forged = {**form, "private_metadata": json.dumps({"channel": "C0SALES", "ticket": 1})}
    response = await _submit_reply(owner_slack, forged, "Please pay anyway.")
    assert response.status_code == 200
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == f"D{REP}"
    assert "Customer #1 belongs to someone else's book" in _shown(posted)
    assert "Invoice 4711" not in _shown(posted) and "Carla" not in _shown(posted)
    assert await _rep_messages(store, 1) == [] and await _relayed(store) == []
    async with store.read() as tx:
        denied = [a for a in await tx.audit.recent(entity="customer") if a.action == "denied"]
    # One for the form's lookup, one for the forged submission; never the reply's text.
    assert [(d.actor, d.entity_id) for d in denied] == [(f"slack:{REP}", "1")] * 2
    assert not any("Please pay" in json.dumps(d.detail) for d in denied)
    # The form of #2, as it was, works.
    await _submit_reply(owner_slack, form, "It left the depot today.")
    assert "Replied on ticket #2" in _shown((await fake_slack.wait_for("chat.postMessage", 2))[-1])
    assert await _relayed(store) == [("telegram", "1002", "It left the depot today.")]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)
# Objects whose fields, where the translators look, hold anything at all (Socket Mode hands
# payloads to the listeners without the HTTP gate's shape check).
_PAYLOADS = st.dictionaries(
    st.sampled_from(["user", "user_id", "text", "channel", "channel_id", "container", "actions",
                     "response_url", "trigger_id", "message", "profile", "tz", "real_name", "name",
                     "callback_id", "state", "private_metadata", "bot_id", "subtype", "thread_ts", "ts"]),
    _JSON,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(payload=_PAYLOADS, action=_PAYLOADS, values=_JSON)
def test_translators_and_form_checks_read_any_payload_without_raising(
    payload: dict[str, Any], action: dict[str, Any], values: Any
) -> None:
    translate.from_command(payload)
    translate.from_message_event(payload)
    translate.from_block_action({**payload, "actions": [action]})
    translate.from_block_action(payload)
    translate.from_message_shortcut(payload)
    translate.profile(payload)
    translate.user_of(payload)
    for kind in (*modals.KINDS, modals.REPLY, modals.CAMPAIGN):
        form = {**payload, "callback_id": modals.CALLBACK_PREFIX + kind, "state": {"values": values}}
        result = modals.submission(form, now=NOW)
        assert (result.command is None) == bool(result.errors)
