"""What the webhook and the poller accept from Telegram: well-formed updates of the kinds customer
support uses, each keyed by the message or button press it carries."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, ChatMemberUpdated, MessageEntity, Update, User
from telegram import Message as TgMessage

from bot.telegram.translate import Incoming, from_update

# Telegram's ids have at most 52 significant bits (its docs: "a double is safe"); more is no update.
MAX_ID = 2**53 - 1
MAX_CALLBACK_ID = 64  # Telegram's are a few dozen characters; the dedupe key holds 128


class MalformedUpdate(ValueError):
    """A body no Telegram server sends: not an object, fields of the wrong type, ids out of range."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """An update worth storing: what it says, and the key of the message or press it carries,
    which Telegram may hand out again under a new update_id (after a webhook reset)."""

    incoming: Incoming
    dedupe_key: str

    @property
    def event_id(self) -> str:
        return str(self.incoming.update_id)


def _is_id(value: object, *, low: int = -MAX_ID) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_ID


def _is_size(value: object) -> bool:
    return value is None or _is_id(value, low=0)


def _is_text(value: object) -> bool:
    return value is None or isinstance(value, str)


def _user_ok(user: User) -> bool:
    return (
        _is_id(user.id)
        and isinstance(user.is_bot, bool)
        and isinstance(user.first_name, str)
        and bool(user.first_name)
        and _is_text(user.last_name)
        and _is_text(user.username)
    )


def _files_ok(message: TgMessage) -> bool:
    photos = all(isinstance(p.file_id, str) and _is_size(p.file_size) for p in message.photo)
    doc = message.document
    return photos and (
        doc is None or (isinstance(doc.file_id, str) and _is_text(doc.file_name) and _is_size(doc.file_size))
    )


def _entities_ok(entities: tuple[MessageEntity, ...]) -> bool:
    return all(
        isinstance(e.type, str) and _is_id(e.offset, low=0) and _is_id(e.length, low=0) for e in entities
    )


def _group_parts_ok(message: TgMessage) -> bool:
    """What translate reads of a group message: mentions, the message replied to, members
    added or gone, and a supergroup's new id."""
    replied = message.reply_to_message
    return (
        _entities_ok(message.entities)
        and _entities_ok(message.caption_entities)
        and (
            replied is None
            or (
                _is_id(replied.message_id, low=0)
                and (replied.from_user is None or _user_ok(replied.from_user))
            )
        )
        and all(_user_ok(member) for member in message.new_chat_members)
        and (message.left_chat_member is None or _user_ok(message.left_chat_member))
        and (message.migrate_to_chat_id is None or _is_id(message.migrate_to_chat_id))
    )


def _message_ok(message: TgMessage) -> bool:
    """The fields translate reads, with the types Telegram gives them (ptb keeps what it is
    given, and ``text or caption`` would pass a falsy number as no text)."""
    return (
        _is_id(message.message_id, low=0)
        and _is_id(message.chat.id)
        and isinstance(message.chat.type, str)
        and (message.from_user is None or _user_ok(message.from_user))
        and _is_text(message.text)
        and _is_text(message.caption)
        and _files_ok(message)
        and _group_parts_ok(message)
    )


def _membership_ok(changed: ChatMemberUpdated) -> bool:
    return (
        _is_id(changed.chat.id)
        and isinstance(changed.chat.type, str)
        and _user_ok(changed.from_user)
        and _user_ok(changed.new_chat_member.user)
        and isinstance(changed.old_chat_member.status, str)
        and isinstance(changed.new_chat_member.status, str)
    )


def _press_ok(query: CallbackQuery) -> bool:
    held = query.message
    return (
        isinstance(query.id, str)
        and 0 < len(query.id) <= MAX_CALLBACK_ID
        and _user_ok(query.from_user)
        and _is_text(query.data)
        and (
            held is None
            or (_is_id(held.message_id, low=0) and _is_id(held.chat.id) and isinstance(held.chat.type, str))
        )
    )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number beyond a double")
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def read_json(body: bytes) -> Any:
    """A webhook body as JSON, strictly: NaN, Infinity and numbers beyond a double are no JSON
    (RFC 8259), and PostgreSQL's json column would refuse the update after the fact."""
    return json.loads(body, parse_float=_finite, parse_constant=_no_constant)


def parse_update(data: Any) -> Update:
    """The Update in a webhook body; MalformedUpdate for anything else."""
    if not isinstance(data, dict) or not _is_id(data.get("update_id"), low=0):
        raise MalformedUpdate("no update_id")
    try:
        return Update.de_json(data, None)
    except Exception as exc:  # ptb trusts Telegram's types: from outside, any failure means "not one"
        raise MalformedUpdate(type(exc).__name__) from None


def _dedupe_key(update: Update, incoming: Incoming) -> str:
    """The chat (or presser) first, so a contact's erasure finds their keys, then what Telegram
    numbers within it. An edit reuses its message's id, but edits are never a Delivery."""
    if incoming.callback_id is not None:
        return f"{incoming.user_id}:callback:{incoming.callback_id}"
    if update.my_chat_member is not None:
        return f"{incoming.chat_id}:member:{update.update_id}"
    message_id = update.message.message_id if update.message is not None else None
    return f"{incoming.chat_id}:message:{message_id}"


def delivery_of(update: Update, *, bot_username: str | None = None) -> Delivery | None:
    """What the inbox keeps of an update from outside: None for kinds customer support does not
    use (edits, channel posts, group chatter, other bots), which need no storing; MalformedUpdate
    when the fields it reads have types or ids Telegram never sends."""
    try:
        if update.my_chat_member is not None:
            well_formed = _membership_ok(update.my_chat_member)
        elif update.callback_query is not None:
            well_formed = _press_ok(update.callback_query)
        elif update.message is not None:
            well_formed = _message_ok(update.message)
        else:
            return None
        if not well_formed:
            raise MalformedUpdate("field types or ids")
        incoming = from_update(update, bot_username=bot_username)
    except MalformedUpdate:
        raise
    except Exception as exc:  # a missing part (no chat) surfaces where it is first read
        raise MalformedUpdate(type(exc).__name__) from None
    if incoming is None:
        return None
    return Delivery(incoming=incoming, dedupe_key=_dedupe_key(update, incoming))
