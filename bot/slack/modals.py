"""Modals for add, update, log, remind, open-ticket, a ticket reply and a campaign draft (pure):
views; submissions -> the command a person could have typed, or field errors."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.slack import render
from handlers.campaign_text import PLACEHOLDER_HELP, check_body
from handlers.cleaning import clean_input
from handlers.errors import NotFound, UserError
from handlers.fields import STATUSES, check_name, normalise_email, normalise_phone
from handlers.messages import MAX_TEXT, Reply
from handlers.names import sentence_sign
from handlers.parsing import id_in
from nlp.when import WhenError, parse_when

CALLBACK_PREFIX = "crm_modal_"
KINDS = ("add", "update", "log", "remind", "ticket")
LOG_KINDS = ("call", "email", "meeting", "note")
MAX_NOTE = 3_000  # a plain_text_input holds at most 3,000 characters
MAX_SUBJECT = 200
# The Reply button's form (``crm:reply:<ticket id>``): its submission is the typed `reply <id> <text>`.
REPLY = "reply"
# The reply handler takes MAX_TEXT (4,000) characters; Slack's input stops at 3,000.
MAX_REPLY = min(MAX_TEXT, MAX_NOTE)
MAX_TITLE = 24  # a modal's title
# `/crm campaign new` with no name: the draft's form; its submission is `campaign new` with lines.
CAMPAIGN = "campaign"
BUTTON_KINDS = ("none", "talk", "link")
_HTTPS = re.compile(r"^https://\S{1,490}$", re.IGNORECASE)
MODAL_BLOCKS = 100
_TITLES = {
    "add": "Add customer",
    "update": "Update customer",
    "log": "Log to CRM",
    "remind": "Remind me",
    "ticket": "Open ticket",
}
_SUBMIT = {"add": "Add", "update": "Save", "log": "Log", "remind": "Remind", "ticket": "Open"}


@dataclass(frozen=True, slots=True)
class Submission:
    """The command a valid form stands for, or the errors to show on its fields."""

    command: str | None = None
    errors: dict[str, str] = field(default_factory=dict)
    channel_id: str = ""


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _input(
    block_id: str,
    label: str,
    *,
    initial: str = "",
    optional: bool = False,
    multiline: bool = False,
    placeholder: str = "",
    max_length: int | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if initial:
        element["initial_value"] = initial[: max_length or MAX_NOTE]
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    if max_length:
        element["max_length"] = max_length
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "optional": optional,
        "element": element,
    }


def _select(
    block_id: str, label: str, options: tuple[str, ...], *, initial: str = "", optional: bool = False
) -> dict[str, Any]:
    choices = [{"text": _plain(o.capitalize()), "value": o} for o in options]
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": choices}
    if initial in options:
        element["initial_option"] = choices[options.index(initial)]
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "optional": optional,
        "element": element,
    }


def _customer_fields(optional_all: bool) -> list[dict[str, Any]]:
    return [
        _input("company", "Company", optional=True, max_length=200),
        _input("email", "Email", optional=True, placeholder="name@example.com", max_length=254),
        _input("phone", "Phone", optional=True, placeholder="+1 555 0100", max_length=32),
        _select("status", "Status", STATUSES, optional=True, initial="" if optional_all else "active"),
        _input("tags", "Tags", optional=True, placeholder="vip, renewal", max_length=300),
    ]


def view(kind: str, *, customer: str = "", text: str = "", channel_id: str = "") -> dict[str, Any]:
    """The modal for ``kind``; ``customer`` (e.g. ``#12``) and ``text`` prefill it."""
    if kind not in KINDS:
        raise ValueError(f"no modal {kind!r}")
    who = _input(
        "customer", "Customer", initial=customer, placeholder="name, company, email or #id", max_length=200
    )
    blocks: list[dict[str, Any]]
    if kind == "add":
        blocks = [_input("name", "Name", initial=text, max_length=200), *_customer_fields(False)]
    elif kind == "update":
        blocks = [who, *_customer_fields(True)]
    elif kind == "log":
        blocks = [
            who,
            _select("kind", "Kind", LOG_KINDS, initial="note" if text else "call"),
            _input("text", "What happened", initial=text, multiline=True, max_length=MAX_NOTE),
        ]
    elif kind == "remind":
        blocks = [
            who,
            _input("when", "When", placeholder="tomorrow 10:00, in 2 hours, friday", max_length=100),
            _input("text", "What", initial=text, multiline=True, max_length=MAX_NOTE),
        ]
    else:
        blocks = [who, _input("subject", "Subject", initial=text, max_length=MAX_SUBJECT)]
    return {
        "type": "modal",
        "callback_id": CALLBACK_PREFIX + kind,
        "title": _plain(_TITLES[kind]),
        "submit": _plain(_SUBMIT[kind]),
        "close": _plain("Cancel"),
        # Only where to answer: ids, never customer data.
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": blocks,
    }


def _reply_title(ticket_id: int) -> str:
    for title in (f"Reply on ticket #{ticket_id}", f"Reply to #{ticket_id}"):
        if len(title) <= MAX_TITLE:
            return title
    return "Reply"


def reply_view(ticket_id: int, *, channel_id: str = "", ticket: Reply | None = None) -> dict[str, Any]:
    """The Reply button's form for ticket ``ticket_id``. ``ticket`` is what the `ticket` command
    answered this rep (the subject, customer, status and latest messages, shown above the field;
    None while it is looked up); an error answer (a refusal, no such ticket) replaces the form."""
    callback = CALLBACK_PREFIX + REPLY
    # Only ids travel, and the ticket id is never trusted: the reply handler checks it again.
    metadata = json.dumps({"channel": channel_id, "ticket": ticket_id})
    if ticket is not None and ticket.is_error:
        return {
            "type": "modal",
            "callback_id": callback,
            "title": _plain(_reply_title(ticket_id)),
            "close": _plain("Close"),
            "private_metadata": metadata,
            "blocks": render.info_blocks(ticket)[:MODAL_BLOCKS],
        }
    about: list[dict[str, Any]]
    if ticket is None:
        about = [
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"Ticket #{ticket_id} · looking it up…"}],
            }
        ]
    else:
        about = render.info_blocks(ticket)[: MODAL_BLOCKS - 2]
        about.append({"type": "divider"})
    # Same block and action ids in every version: views.update keeps what the rep already typed.
    reply_input = _input(
        "text",
        "Your reply",
        multiline=True,
        placeholder="Goes to the customer's chat",
        max_length=MAX_REPLY,
    )
    return {
        "type": "modal",
        "callback_id": callback,
        "title": _plain(_reply_title(ticket_id)),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "private_metadata": metadata,
        "blocks": [*about, reply_input],
    }


def campaign_view(*, channel_id: str = "") -> dict[str, Any]:
    """The campaign draft form: name, audience (`find`'s filter words), text, button, control."""
    return {
        "type": "modal",
        "callback_id": CALLBACK_PREFIX + CAMPAIGN,
        "title": _plain("New campaign"),
        "submit": _plain("Save draft"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"channel": channel_id}),
        "blocks": [
            _input("name", "Name", max_length=100, placeholder="Spring promo"),
            _input(
                "audience",
                "Audience",
                optional=True,
                max_length=500,
                placeholder="segment:champions country:DE tag:vip … or all",
            ),
            _input(
                "text",
                "Message (Telegram HTML)",
                optional=True,
                multiline=True,
                max_length=MAX_NOTE,
                placeholder="Hi {first_name|there}, <b>20% off</b> this week.",
            ),
            _select("button", "Button", BUTTON_KINDS, optional=True, initial="none"),
            _input("button_label", "Button label", optional=True, max_length=64, placeholder="Shop now"),
            _input("button_url", "Link (https://…)", optional=True, max_length=500),
            _input("control", "Control group (% held out)", optional=True, max_length=4, placeholder="10%"),
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": render.escape(PLACEHOLDER_HELP)[:3000]}],
            },
        ],
    }


def _campaign_submission(values: dict[str, str], channel_id: str) -> Submission:
    """`campaign new <name>` with a line per part given: the handler checks them all again (the
    audience needs the store) and stores nothing unless every one reads."""
    errors: dict[str, str] = {}
    name = " ".join(values.get("name", "").split())
    if not name:
        errors["name"] = "Name the campaign."
    lines = [f"campaign new {name}"]
    audience = " ".join(values.get("audience", "").split())
    if audience:
        lines.append(f"audience: {audience}")
    control = values.get("control", "").strip()
    if control:
        number = control.removesuffix("%").strip()
        if not number.isdecimal() or int(number) > 50:
            errors["control"] = "A share from 0% to 50%."
        lines.append(f"control: {number}%")
    kind = values.get("button", "") or "none"
    label, url = " ".join(values.get("button_label", "").split()), values.get("button_url", "").strip()
    if kind == "link":
        if not label:
            errors["button_label"] = "The link button needs a label."
        if not _HTTPS.match(url):
            errors["button_url"] = "An https:// address."
        lines.append(f"button: link {shlex.quote(label)} {url}")
    elif kind == "talk":
        lines.append(f"button: talk {shlex.quote(label)}" if label else "button: talk")
    text = values.get("text", "").strip()
    if text:
        try:
            check_body(text)
        except UserError as exc:
            errors["text"] = exc.message[:150]
        lines.append(f"text: {text}")
    if errors:
        return Submission(errors=errors, channel_id=channel_id)
    return Submission(command="\n".join(lines), channel_id=channel_id)


def _field(container: Any, key: str) -> Any:
    """``container[key]`` when the container is an object: a forged state reads as empty fields."""
    return container.get(key) if isinstance(container, Mapping) else None


def _values(state: Any) -> dict[str, str]:
    """Each field's text, cleaned as typed text is, so the checks below see what would be stored."""
    out: dict[str, str] = {}
    values = _field(state, "values")
    for block_id, actions in values.items() if isinstance(values, Mapping) else ():
        entry = _field(actions, "value")
        if _field(entry, "type") == "static_select":
            value = _field(_field(entry, "selected_option"), "value")
        else:
            value = _field(entry, "value")
        out[str(block_id)] = clean_input(value).strip() if isinstance(value, str) else ""
    return out


def _check(errors: dict[str, str], block_id: str, check: Any, value: str) -> str:
    try:
        return str(check(value))
    except UserError as exc:
        errors[block_id] = exc.message[:150]
        return value


def _no_syntax(errors: dict[str, str], block_id: str, value: str, marks: str) -> None:
    """Field values become command words: a stray '=' or ':' would change what the command means."""
    bad = [m for m in marks if m in value]
    if bad or "\n" in value:
        errors.setdefault(
            block_id, f"Please leave out {' and '.join(repr(m) for m in bad) or 'line breaks'}."
        )


def _pairs(values: dict[str, str], errors: dict[str, str]) -> list[str]:
    pairs: list[str] = []
    if values.get("company"):
        _no_syntax(errors, "company", values["company"], "=")
        pairs.append(f"company={values['company']}")
    if values.get("email"):
        pairs.append("email=" + _check(errors, "email", normalise_email, values["email"]))
    if values.get("phone"):
        pairs.append("phone=" + _check(errors, "phone", normalise_phone, values["phone"]))
    if values.get("status"):
        pairs.append(f"status={values['status']}")
    if values.get("tags"):
        tags = [t.strip() for t in values["tags"].split(",") if t.strip()]
        if any(" " in t or "=" in t for t in tags):
            errors["tags"] = "Tags are single words separated by commas."
        pairs.append("tags=" + ",".join(tags))
    return pairs


def submission(view_payload: Mapping[str, Any], *, now: datetime, tz: ZoneInfo | None = None) -> Submission:
    """Validate a submitted modal; the command it stands for, or errors keyed by block id."""
    callback = view_payload.get("callback_id")
    kind = callback.removeprefix(CALLBACK_PREFIX) if isinstance(callback, str) else ""
    values = _values(view_payload.get("state") or {})
    private = view_payload.get("private_metadata")
    try:
        metadata = json.loads(private) if isinstance(private, str) and private else {}
    except (ValueError, RecursionError):
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    channel_id = str(metadata.get("channel", ""))
    if kind == REPLY:
        return _reply_submission(values, metadata, channel_id)
    if kind == CAMPAIGN:
        return _campaign_submission(values, channel_id)
    errors: dict[str, str] = {}
    customer = values.get("customer", "")
    if kind != "add":
        if not customer:
            errors["customer"] = "Which customer?"
        _no_syntax(errors, "customer", customer, "=:")
    command: str
    if kind == "add":
        name = _check(errors, "name", check_name, values.get("name", ""))
        _no_syntax(errors, "name", name, "=")
        # The Name field holds a name: one that reads like a sentence is quoted, so `add` takes it
        # as written instead of asking what was meant.
        written = f'"{name}"' if sentence_sign(name) else name
        command = " ".join(["add", written, *_pairs(values, errors)])
    elif kind == "update":
        pairs = _pairs(values, errors)
        if not pairs and not errors:
            errors["email"] = "Fill in at least one field to change."
        command = " ".join(["update", customer, *pairs])
    elif kind == "log":
        note = values.get("text", "")
        if values.get("kind") not in LOG_KINDS:
            errors["kind"] = "Pick call, email, meeting or note."
        if not note:
            errors["text"] = "What happened?"
        command = f"log {customer} {values.get('kind', '')}: {note}"
    elif kind == "remind":
        when, note = values.get("when", ""), values.get("text", "")
        if ": " in when or "\n" in when:
            errors["when"] = "Just the time, like tomorrow 10:00."
        try:
            parse_when(when, now=now, tz=tz or ZoneInfo("UTC"))
        except WhenError as exc:
            errors["when"] = str(exc)[:150]
        if not note:
            errors["text"] = "What should I remind you of?"
        command = f"remind {customer} {when}: {note}"
    elif kind == "ticket":
        subject = " ".join(values.get("subject", "").split())
        if not subject:
            errors["subject"] = "Give the ticket a subject."
        command = f"open-ticket {customer}: {subject}"
    else:
        return Submission(errors={"customer": "This form is not one of mine."}, channel_id=channel_id)
    if errors:
        return Submission(errors=errors, channel_id=channel_id)
    return Submission(command=command, channel_id=channel_id)


def _reply_submission(values: dict[str, str], metadata: Mapping[str, Any], channel_id: str) -> Submission:
    """`reply <ticket id> <text>`: the same words, so the same handler, checks and audit as typing it.
    The id comes from private_metadata and is taken as a claim only (the handler checks access)."""
    ticket = metadata.get("ticket")
    ticket_text = str(ticket) if isinstance(ticket, int | str) and not isinstance(ticket, bool) else ""
    text = values.get("text", "")
    errors: dict[str, str] = {}
    # We write a plain number there; anything else ("#12", "１２", "-1") is a forged form.
    plain = ticket_text.isascii() and ticket_text.isdigit()
    try:
        ticket_id = id_in(ticket_text, kind="ticket") if plain else None
    except NotFound as exc:
        ticket_id, errors["text"] = None, exc.message
    if ticket_id is None:
        errors.setdefault("text", "This form has lost its ticket; press Reply on the ticket again.")
    elif not text:
        errors["text"] = "What should the reply say?"
    elif len(text) > MAX_REPLY:
        errors["text"] = f"That reply is too long ({len(text)} characters; at most {MAX_REPLY})."
    if errors:
        return Submission(errors=errors, channel_id=channel_id)
    return Submission(command=f"reply {ticket_id} {text}", channel_id=channel_id)
