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

    def message(self, actor: Actor) -> Message:
        return Message(actor=actor, text=self.text, action=self.action)


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
        user_id=str(body.get("user_id", "")),
        text=clean_text(str(body.get("text", ""))),
        channel_id=str(body.get("channel_id", "")),
        response_url=body.get("response_url"),
        trigger_id=body.get("trigger_id"),
    )


def from_message_event(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> Incoming | None:
    """A DM or an @mention; None for edits, joins, bot posts and other subtypes we don't answer."""
    if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
        return None
    user = event.get("user")
    if not user:
        return None
    is_dm = event.get("channel_type") == "im"
    return Incoming(
        user_id=str(user),
        text=clean_text(str(event.get("text", "")), bot_user_id=bot_user_id),
        channel_id=str(event.get("channel", "")),
        # A DM is answered in place; a mention in a channel, in its thread.
        thread_ts=None if is_dm else (event.get("thread_ts") or event.get("ts")),
    )


def pressed_value(action: Mapping[str, Any]) -> str | None:
    """The ``crm:<verb>:<id>`` of a button or of the chosen overflow option."""
    if action.get("type") == "overflow":
        option = action.get("selected_option") or {}
        return option.get("value")
    return action.get("value") or action.get("action_id")


def from_block_action(body: Mapping[str, Any]) -> Incoming | None:
    actions = body.get("actions") or []
    if not actions:
        return None
    value = pressed_value(actions[0])
    if not value:
        return None
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
    return Incoming(
        user_id=str((body.get("user") or {}).get("id", "")),
        action=value,
        channel_id=str(channel or ""),
        response_url=body.get("response_url"),
        trigger_id=body.get("trigger_id"),
    )


def from_message_shortcut(body: Mapping[str, Any]) -> tuple[Incoming, str]:
    """The shortcut's user and the text of the message it was used on."""
    message = body.get("message") or {}
    incoming = Incoming(
        user_id=str((body.get("user") or {}).get("id", "")),
        channel_id=str((body.get("channel") or {}).get("id", "")),
        response_url=body.get("response_url"),
        trigger_id=body.get("trigger_id"),
    )
    return incoming, clean_text(str(message.get("text", "")))


def profile(user_info: Mapping[str, Any]) -> tuple[str, str | None]:
    """(display name, IANA time zone) from a users.info ``user`` object."""
    prof = user_info.get("profile") or {}
    name = (
        prof.get("display_name")
        or prof.get("real_name")
        or user_info.get("real_name")
        or user_info.get("name")
        or str(user_info.get("id", ""))
    )
    tz = user_info.get("tz") or None
    return str(name)[:200], (str(tz) if tz else None)
