"""Slack payloads -> what a person said or pressed, and the Message handlers take (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from handlers.messages import Actor, Message

PLATFORM = "slack"
# <mailto:a@b.c|a@b.c>, <tel:+1555|+1 555>, <https://x|label>, <https://x>: Slack wraps what it links.
_LINK = re.compile(r"<((?:mailto:|tel:|https?://)[^|>]*)(?:\|([^>]*))?>")
_LEADING_MENTION = re.compile(r"^\s*<@([A-Z0-9]+)(?:\|[^>]*)?>[\s:,]*")
# Slack's event ids are short and alphanumeric; anything else is not used as a key or logged.
_EVENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Incoming:
    """Where something came from and what it was; the adapter answers to the same place."""

    user_id: str
    text: str = ""
    action: str | None = None
    channel_id: str = ""
    thread_ts: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    # Set for an event Slack may deliver again: the router then changes the store once for it.
    ref: str | None = None

    def message(self, actor: Actor) -> Message:
        return Message(actor=actor, text=self.text, action=self.action, ref=self.ref)


def _text(value: Any) -> str:
    """A payload field that should be text; anything else (a forged or odd payload) reads as ""."""
    return value if isinstance(value, str) else ""


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _id(value: Any) -> str:
    """Slack names a user, channel or team by its id, or by an object carrying ``id``."""
    return value if isinstance(value, str) else _text(_object(value).get("id"))


def event_id(body: Mapping[str, Any]) -> str | None:
    """The envelope's event_id when it has a usable one (what dedupe and log lines key on)."""
    value = body.get("event_id")
    return value if isinstance(value, str) and _EVENT_ID.match(value) else None


def clean_text(text: str, *, bot_user_id: str | None = None) -> str:
    """What the person typed: the bot's own leading @mention dropped, links unwrapped to what
    was written, and Slack's &amp;/&lt;/&gt; undone (user and channel mentions stay)."""
    mention = _LEADING_MENTION.match(text)
    if mention and (bot_user_id is None or mention.group(1) == bot_user_id):
        text = text[mention.end() :]

    def _unwrap(match: re.Match[str]) -> str:
        target, label = match.group(1), match.group(2)
        if label:
            return label
        return target.removeprefix("mailto:").removeprefix("tel:")

    text = _LINK.sub(_unwrap, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def from_command(body: Mapping[str, Any]) -> Incoming:
    """A ``/crm ...`` slash command (form fields: user_id, text, channel_id, response_url)."""
    return Incoming(
        user_id=_text(body.get("user_id")),
        text=clean_text(_text(body.get("text"))),
        channel_id=_text(body.get("channel_id")),
        response_url=_optional(body.get("response_url")),
        trigger_id=_optional(body.get("trigger_id")),
    )


def from_message_event(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> Incoming | None:
    """A DM or an @mention; None for edits, joins, bot posts and other subtypes we don't answer."""
    if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
        return None
    user = _text(event.get("user"))
    if not user:
        return None
    is_dm = event.get("channel_type") == "im"
    return Incoming(
        user_id=user,
        text=clean_text(_text(event.get("text")), bot_user_id=bot_user_id),
        channel_id=_text(event.get("channel")),
        # A DM is answered in place; a mention in a channel, in its thread.
        thread_ts=None if is_dm else (_optional(event.get("thread_ts")) or _optional(event.get("ts"))),
    )


def pressed_value(action: Mapping[str, Any]) -> str | None:
    """The ``crm:<verb>:<id>`` of a button or of the chosen overflow option."""
    if action.get("type") == "overflow":
        return _optional(_object(action.get("selected_option")).get("value"))
    return _optional(action.get("value")) or _optional(action.get("action_id"))


def from_block_action(body: Mapping[str, Any]) -> Incoming | None:
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return None
    value = pressed_value(actions[0])
    if not value:
        return None
    channel = _id(body.get("channel")) or _text(_object(body.get("container")).get("channel_id"))
    return Incoming(
        user_id=_id(body.get("user")),
        action=value,
        channel_id=channel,
        response_url=_optional(body.get("response_url")),
        trigger_id=_optional(body.get("trigger_id")),
    )


def from_message_shortcut(body: Mapping[str, Any]) -> tuple[Incoming, str]:
    """The shortcut's user and the text of the message it was used on."""
    incoming = Incoming(
        user_id=_id(body.get("user")),
        channel_id=_id(body.get("channel")),
        response_url=_optional(body.get("response_url")),
        trigger_id=_optional(body.get("trigger_id")),
    )
    return incoming, clean_text(_text(_object(body.get("message")).get("text")))


def user_of(body: Mapping[str, Any]) -> str:
    """The person behind an interaction payload (a modal's submitter, answered in their DM)."""
    return _id(body.get("user"))


def profile(user_info: Mapping[str, Any]) -> tuple[str, str | None]:
    """(display name, IANA time zone) from a users.info ``user`` object."""
    prof = _object(user_info.get("profile"))
    name = (
        _text(prof.get("display_name"))
        or _text(prof.get("real_name"))
        or _text(user_info.get("real_name"))
        or _text(user_info.get("name"))
        or _text(user_info.get("id"))
    )
    return name[:200], _optional(user_info.get("tz"))
