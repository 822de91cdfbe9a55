"""The Slack front end end to end: real bolt and slack_sdk, signed requests, a fake Slack Web API."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from sqlalchemy import func, select

from bot.slack import modals
from bot.slack.adapter import SlackFrontEnd
from crm_store.store import Store
from crm_store.tables import customers, interactions, reps
from handlers.context import Services
from handlers.messages import Actor, Message
from handlers.router import BUTTONS, Router
from tests.bot.slack.conftest import MANAGER, REP, SlackRequests
from tests.fakes.slack_api import BOT_USER_ID, Call, FakeSlackApi


def shown(call: Call) -> str:
    """All the text a person would read in a posted message."""
    parts = [str(call.params.get("text", ""))]
    for block in call.params.get("blocks") or []:
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts += [f["text"] for f in block.get("fields", [])]
        parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
    return "\n".join(parts)


def action_ids(call: Call) -> list[str]:
    ids: list[str] = []
    for block in call.params.get("blocks") or []:
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                ids.append(element["value"])
            ids += [o["value"] for o in element.get("options", [])]
    return ids


async def _count(store: Store, table: Any) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def acme(router: Router, rep: Actor) -> None:
    for text in ("add Acme Corp email=ops@acme.example", "add Globex Industries email=info@globex.example"):
        reply = await router.handle(Message(actor=rep, text=text))
        assert "Added" in reply.text, reply


async def _ask(slack: SlackRequests, fake: FakeSlackApi, text: str, *, user: str = REP) -> Call:
    before = len(fake.of("response_url"))
    response = await slack.command(text, user=user)
    assert response.status_code == 200 and response.text == ""
    return (await fake.wait_for("response_url", before + 1))[-1]


async def test_find_with_a_typo_answers_with_the_customer_and_creates_the_rep(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store, acme: None
) -> None:
    response = await slack.command("find acmee corp")
    assert response.status_code == 200 and response.text == ""
    call = (await fake_slack.wait_for("response_url"))[0]
    assert call.params["response_type"] == "ephemeral"
    assert "Acme Corp (#1)" in shown(call)  # the card of the one clear match
    assert "crm:log:1" in action_ids(call) and "crm:timeline:1" in action_ids(call)
    async with store.read() as tx:
        identity = await tx.people.identity("slack", REP)
        assert identity is not None and identity.rep_id is not None
        rep = await tx.people.rep(identity.rep_id)
    assert rep is not None and rep.display_name == "Sam Rep" and rep.timezone == "Europe/Berlin"
    assert [c.params["user"] for c in fake_slack.of("users.info")] == [REP]


@pytest.mark.parametrize(
    ("commands", "expected"),
    [
        (
            ["show acme", "update acme phone=+1 555 0100 industry=logistics"],
            ["Acme Corp (#1)", "Updated phone"],
        ),
        (["add Initech email=ops@initech.example"], ["Added Initech"]),
        (["log acme call: talked about renewal", "timeline acme"], ["Logged a call", "renewal"]),
        (["order acme 1200 first order"], ["Recorded order #1"]),
        (
            ["remind acme tomorrow 10:00: send quote", "reminders", "done 1"],
            ["reminder #1", "send quote", "Done"],
        ),
        (
            ["open-ticket acme: printer broken", "tickets", "ticket 1", "resolve 1", "reopen 1"],
            [
                "Opened ticket #1",
                "printer broken",
                "printer broken",
                "Resolved ticket #1",
                "Reopened ticket #1",
            ],
        ),
        (["help", "frobnicate"], ["find", "I don't know the command"]),
    ],
)
async def test_command_families_end_to_end(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, commands: list[str], expected: list[str]
) -> None:
    for text, want in zip(commands, expected, strict=True):
        call = await _ask(slack, fake_slack, text)
        assert want in shown(call), (text, shown(call))


async def test_manager_from_settings_may_change_roles(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store
) -> None:
    await _ask(slack, fake_slack, "help")  # the rep talks to the bot first
    denied = await _ask(slack, fake_slack, f"role <@{MANAGER}|dana> manager", user=REP)
    assert "for managers" in shown(denied)
    granted = await _ask(slack, fake_slack, f"role <@{REP}|sam> manager", user=MANAGER)
    assert "Sam Rep is now manager" in shown(granted)


async def test_button_press_runs_the_same_handler(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None
) -> None:
    await _ask(slack, fake_slack, "log acme note: kickoff done")
    response = await slack.press("crm:timeline:1")
    assert response.status_code == 200
    call = (await fake_slack.wait_for("response_url", 2))[-1]
    assert "Timeline of Acme Corp" in shown(call) and "kickoff done" in shown(call)
    await slack.press("crm:show:2", overflow=True)
    assert "Globex Industries" in shown((await fake_slack.wait_for("response_url", 3))[-1])


async def test_ambiguous_customer_gets_a_pick_list_and_the_choice_runs(
    slack: SlackRequests, fake_slack: FakeSlackApi, router: Router, rep: Actor, store: Store
) -> None:
    for text in ("add Acme Corp", "add Acme Labs --force"):
        await router.handle(Message(actor=rep, text=text))
    await _ask(slack, fake_slack, "help")
    pick = await _ask(slack, fake_slack, "log acme call: pricing")
    assert "Which customer?" in shown(pick)
    choices = [a for a in action_ids(pick) if a.startswith("crm:run:")]
    assert len(choices) == 2
    assert await _count(store, interactions) == 0
    await slack.press(choices[1])
    done = (await fake_slack.wait_for("response_url", 3))[-1]
    assert "Logged a call with Acme Labs" in shown(done)
    assert await _count(store, interactions) == 1


async def test_log_button_opens_a_modal_and_a_bad_submission_shows_field_errors(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, store: Store
) -> None:
    await slack.press("crm:log:1")
    opened = (await fake_slack.wait_for("views.open"))[0]
    view = opened.params["view"]
    customer = next(b for b in view["blocks"] if b["block_id"] == "customer")
    assert customer["element"]["initial_value"] == "#1"
    bad = await slack.submit(view, {"customer": "#1", "kind": "call", "text": ""})
    assert bad.status_code == 200
    assert bad.json() == {"response_action": "errors", "errors": {"text": "What happened?"}}
    assert await _count(store, interactions) == 0
    good = await slack.submit(view, {"customer": "#1", "kind": "meeting", "text": "demo went well"})
    assert good.status_code == 200 and good.text == ""
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == f"D{REP}"  # the answer goes to the person's DM
    assert "Logged a meeting with Acme Corp" in shown(posted)
    assert await _count(store, interactions) == 1


async def test_every_button_that_asks_for_a_form_opens_one(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None
) -> None:
    asking = [verb for verb in BUTTONS.verbs if verb.prompt is not None]
    assert {v.verb for v in asking} == {"log", "remind", "open-ticket", "reply"}
    for verb in asking:
        assert verb.prompt is not None and verb.prompt.form in (*modals.KINDS, modals.REPLY)
    for n, (verb, form) in enumerate((("remind", "remind"), ("open-ticket", "ticket")), start=1):
        await slack.press(f"crm:{verb}:1")
        view = (await fake_slack.wait_for("views.open", n))[-1].params["view"]
        assert view["callback_id"] == modals.CALLBACK_PREFIX + form
        customer = next(b for b in view["blocks"] if b["block_id"] == "customer")
        assert customer["element"]["initial_value"] == "#1"


async def test_a_press_not_for_the_team_is_a_notice_only_the_presser_sees(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, store: Store
) -> None:
    await slack.press("crm:csat:1-5")
    notice = (await fake_slack.wait_for("response_url"))[0]
    assert notice.params["response_type"] == "ephemeral" and notice.params["replace_original"] is False
    assert "This button is not for you." in shown(notice)
    await slack.press("crm:ticket-open:draft1", response_url=False)  # e.g. from App Home
    notice = (await fake_slack.wait_for("chat.postEphemeral"))[0]
    assert notice.params["user"] == REP and notice.params["channel"] == "C0SALES"
    assert "This button is not for you." in shown(notice)
    assert fake_slack.of("chat.postMessage") == [] and fake_slack.of("chat.update") == []
    assert await _count(store, interactions) == 0


async def test_add_without_arguments_opens_the_add_modal_and_validates_email(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store
) -> None:
    await slack.command("add")
    view = (await fake_slack.wait_for("views.open"))[0].params["view"]
    assert view["callback_id"] == modals.CALLBACK_PREFIX + "add"
    bad = await slack.submit(view, {"name": "Umbrella", "email": "not-an-email", "status": "lead"})
    assert set(bad.json()["errors"]) == {"email"}
    await slack.submit(view, {"name": "Umbrella", "email": "it@umbrella.example", "status": "lead"})
    assert "Added Umbrella" in shown((await fake_slack.wait_for("chat.postMessage"))[0])


@pytest.mark.parametrize("case", ["forged", "unsigned", "replayed", "altered"])
async def test_bad_signatures_get_401_and_change_nothing(
    slack: SlackRequests, fake_slack: FakeSlackApi, store: Store, case: str
) -> None:
    body = slack.command_body("add Mallory Inc")
    if case == "forged":
        headers = slack.headers(body, secret="not-the-secret")
    elif case == "unsigned":
        headers = {}
    elif case == "replayed":
        headers = slack.headers(body, timestamp=int(time.time()) - 301)
    else:
        headers = slack.headers(body)
        body = body.replace("Mallory", "Mallory2")
    response = await slack.post(body, "application/x-www-form-urlencoded", headers=headers, signed=False)
    assert response.status_code == 401
    assert fake_slack.calls == []
    assert await _count(store, reps) == 0
    ok = await slack.post(body, "application/x-www-form-urlencoded")
    assert ok.status_code == 200  # the same body, properly signed, goes through
    # Its answer comes after anything the refused request could have started: still only one.
    answer = (await fake_slack.wait_for("response_url"))[0]
    assert "Added Mallory" in shown(answer)
    assert len(fake_slack.of("response_url")) == 1 and len(fake_slack.of("users.info")) == 1
    assert await _count(store, reps) == 1 and await _count(store, customers) == 1


async def test_retried_event_is_handled_once(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, store: Store, frontend: SlackFrontEnd
) -> None:
    event = {
        "type": "message",
        "channel": "D0DM",
        "channel_type": "im",
        "user": REP,
        "text": "log acme note: called back",
        "ts": "1700000000.000100",
    }
    first = await slack.event(event, event_id="Ev42")
    await fake_slack.wait_for("chat.postMessage")
    for n in (1, 2):
        retry = await slack.event(
            event,
            event_id="Ev42",
            headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"},
        )
        assert retry.status_code == 200
    # A delivery without retry headers (as Socket Mode redelivers) is caught by the same store claim.
    await frontend._on_message({"event_id": "Ev42"}, event, _Context())  # type: ignore[arg-type]
    # A later, different event: once its answer is in, a duplicate answer would be in too.
    await slack.event({**event, "text": "show globex", "ts": "1700000000.000200"}, event_id="Ev43")
    posted = await fake_slack.wait_for("chat.postMessage", 2)
    assert first.status_code == 200
    assert [("Logged a note" in shown(c), "Globex Industries" in shown(c)) for c in posted] == [
        (True, False),
        (False, True),
    ]
    assert await _count(store, interactions) == 1


class _Context:
    bot_user_id = BOT_USER_ID


async def test_mention_is_answered_in_its_thread(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None
) -> None:
    event = {
        "type": "app_mention",
        "channel": "C0SALES",
        "user": REP,
        "text": f"<@{BOT_USER_ID}> show <mailto:ops@acme.example|ops@acme.example>",
        "ts": "1700000001.000200",
    }
    await slack.event(event, event_id="Ev7")
    posted = (await fake_slack.wait_for("chat.postMessage"))[0]
    assert posted.params["channel"] == "C0SALES" and posted.params["thread_ts"] == "1700000001.000200"
    assert "Acme Corp (#1)" in shown(posted)


async def test_rate_limited_post_is_retried_after_retry_after(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, frontend: SlackFrontEnd
) -> None:
    assert any(isinstance(h, AsyncRateLimitErrorRetryHandler) for h in frontend.client.retry_handlers or [])
    fake_slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    await slack.dm("show globex", event_id="Ev9")
    ok = (await fake_slack.wait_for("chat.postMessage"))[0]
    limited = fake_slack.of("chat.postMessage", status=429)
    assert len(limited) == 1 and len(fake_slack.of("chat.postMessage")) == 1
    assert ok.at - limited[0].at >= 1.0
    assert "Globex Industries" in shown(ok)


async def test_ack_does_not_wait_for_the_work(
    slack: SlackRequests,
    fake_slack: FakeSlackApi,
    acme: None,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lookup is held until the ack is in: an ack that waited for the work would never come
    (the generous bound below), however fast or slow the machine."""
    search, release, searching = services.lookup.search, asyncio.Event(), asyncio.Event()

    async def held_search(*args: Any, **kwargs: Any) -> Any:
        searching.set()
        await release.wait()
        return await search(*args, **kwargs)

    monkeypatch.setattr(services.lookup, "search", held_search)
    response = await asyncio.wait_for(slack.command("find acme"), timeout=60)
    assert response.status_code == 200 and response.text == ""
    await asyncio.wait_for(searching.wait(), timeout=60)  # the work has started, and waits
    assert fake_slack.of("response_url") == []
    release.set()
    call = (await fake_slack.wait_for("response_url", within=60))[0]
    assert "Acme Corp" in shown(call)


async def test_app_home_shows_reminders_and_tickets(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None
) -> None:
    await _ask(slack, fake_slack, "remind acme tomorrow 10:00: send quote")
    await slack.event(
        {"type": "app_home_opened", "user": REP, "channel": "D0DM", "tab": "home"}, event_id="Ev11"
    )
    published = (await fake_slack.wait_for("views.publish"))[0]
    assert published.params["user_id"] == REP
    view = published.params["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "send quote" in shown(Call("x", {"blocks": view["blocks"]}, 0.0))


async def test_message_shortcut_opens_the_log_modal_with_the_message(
    slack: SlackRequests, fake_slack: FakeSlackApi
) -> None:
    payload = {
        "type": "message_action",
        "callback_id": "log_to_crm",
        "trigger_id": "trigger-x",
        "team": {"id": "T0001"},
        "user": {"id": REP},
        "channel": {"id": "C0SALES"},
        "message": {
            "type": "message",
            "user": "U0OTHER",
            "text": "Customer asked for &lt;50 seats",
            "ts": "1.2",
        },
        "response_url": fake_slack.response_url("s"),
    }
    assert (await slack.interaction(payload)).status_code == 200
    view = (await fake_slack.wait_for("views.open"))[0].params["view"]
    text = next(b for b in view["blocks"] if b["block_id"] == "text")
    assert text["element"]["initial_value"] == "Customer asked for <50 seats"


async def test_logs_hold_no_bodies_contacts_or_tokens(
    slack: SlackRequests, fake_slack: FakeSlackApi, acme: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_text = "call +1 555 0199 or mail jane@private.example\r\nFAKE LOG LINE"
    await slack.dm(f"log acme note: {secret_text}", event_id="EvPII")
    await fake_slack.wait_for("chat.postMessage")
    body = slack.command_body(f"add Jane email=jane@private.example {secret_text}")
    assert (await slack.post(body, "application/x-www-form-urlencoded", signed=False)).status_code == 401
    # aiosqlite's DEBUG lines quote SQL parameters: a store concern, reported, not this front end's.
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("aiosqlite"))
    for needle in ("jane@private.example", "555 0199", "FAKE LOG LINE", "xoxb-", "ops@acme.example"):
        assert needle not in logged
    assert "refused a Slack request" in logged


def test_a_slack_error_whose_body_is_not_json_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    """A 405 or a proxy's 502 page leaves the response's data a string: the failure is still
    logged (type and place only), and logging it raises nothing."""
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.async_slack_response import AsyncSlackResponse

    from bot.slack.adapter import _log_failure

    response = AsyncSlackResponse(
        client=None,
        http_verb="GET",
        api_url="http://127.0.0.1/api/users.info",
        req_args={},
        data="405: Method Not Allowed",
        headers={},
        status_code=405,
    )
    with caplog.at_level("ERROR", logger="bot.slack.adapter"):
        _log_failure("users.info", SlackApiError("failed", response))
    assert "slack users.info failed: SlackApiError" in caplog.text
