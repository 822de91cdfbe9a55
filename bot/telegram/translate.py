"""Telegram Updates -> what a customer said or pressed, and the Message handlers take (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import Message as TgMessage
from telegram import Update

from handlers.messages import Actor, Attachment, Message

PLATFORM = "telegram"
# Telegram's ids have at most 52 significant bits (its docs: "a double is safe"); more is no update.
MAX_ID = 2**53 - 1
MAX_CALLBACK_ID = 64  # Telegram's are a few dozen characters; the dedupe key holds 128


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a private chat; the adapter answers in the same chat."""

    update_id: int
    user_id: str
    chat_id: int
    display_name: str
    text: str = ""
    action: str | None = None
    attachments: tuple[Attachment, ...] = ()
    callback_id: str | None = None
    message_id: int | None = None  # the message that carried the pressed button

    def message(self, actor: Actor) -> Message:
        return Message(
            actor=actor,
            text=self.text,
            action=self.action,
            attachments=self.attachments,
            ref=f"{PLATFORM}:{self.update_id}",
        )


def attachments(message: TgMessage) -> tuple[Attachment, ...]:
    """File references (ids, names, sizes); the bytes stay with Telegram."""
    found: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]  # Telegram lists the sizes smallest first
        found.append(
            Attachment(file_id=largest.file_id, name="photo.jpg", size=largest.file_size or 0, kind="photo")
        )
    if message.document is not None:
        doc = message.document
        found.append(
            Attachment(
                file_id=doc.file_id, name=doc.file_name or "", size=doc.file_size or 0, kind="document"
            )
        )
    return tuple(found)


def command_text(text: str, *, bot_username: str | None) -> str:
    """``/status@crm_bot 12`` -> ``/status 12``: clients add the bot's name in some chats."""
    if not text.startswith("/"):
        return text
    word, sep, rest = text.partition(" ")
    name, at, whom = word.partition("@")
    if at and (bot_username is None or whom.lower() == bot_username.lower()):
        return f"{name}{sep}{rest}"
    return text


def from_update(update: Update, *, bot_username: str | None = None) -> Incoming | None:
    """A private chat's message or button press; None for everything else (groups, edits,
    channel posts, other bots), which customers' support does not use."""
    if update.callback_query is not None:
        query = update.callback_query
        user = query.from_user
        held = query.message
        if user.is_bot or not query.data:
            return None
        chat_id = held.chat.id if held is not None else user.id
        if held is not None and held.chat.type != "private":
            return None
        return Incoming(
            update_id=update.update_id,
            user_id=str(user.id),
            chat_id=chat_id,
            display_name=user.full_name,
            action=query.data,
            callback_id=query.id,
            message_id=held.message_id if held is not None else None,
        )
    message = update.message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    if message.chat.type != "private":
        return None
    text = message.text or message.caption or ""
    return Incoming(
        update_id=update.update_id,
        user_id=str(message.from_user.id),
        chat_id=message.chat.id,
        display_name=message.from_user.full_name,
        text=command_text(text, bot_username=bot_username),
        attachments=attachments(message),
    )


class MalformedUpdate(ValueError):
    """A body no Telegram server sends: not an object, fields of the wrong type, ids out of range."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """An update worth storing: what it says, and the message or press it carries, which
    Telegram may hand out again under a new update_id (after a webhook reset)."""

    incoming: Incoming
    dedupe_key: str

    @property
    def event_id(self) -> str:
        return str(self.incoming.update_id)


def _is_id(value: object, *, low: int = -MAX_ID) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= MAX_ID


def _is_id_text(value: str) -> bool:
    return re.fullmatch(r"-?[0-9]{1,16}", value) is not None and _is_id(int(value))


def parse_update(data: Any) -> Update:
    """The Update in a webhook body; MalformedUpdate for anything else."""
    if not isinstance(data, dict) or not _is_id(data.get("update_id"), low=0):
        raise MalformedUpdate("no update_id")
    try:
        return Update.de_json(data, None)
    except Exception as exc:  # ptb trusts Telegram's types: from outside, any failure means "not one"
        raise MalformedUpdate(type(exc).__name__) from None


def _well_formed(incoming: Incoming) -> bool:
    texts = (incoming.user_id, incoming.display_name, incoming.text, incoming.action or "")
    files_ok = all(
        isinstance(a.file_id, str) and isinstance(a.name, str) and _is_id(a.size, low=0)
        for a in incoming.attachments
    )
    return (
        all(isinstance(t, str) for t in texts)
        and _is_id_text(incoming.user_id)
        and _is_id(incoming.chat_id)
        and (incoming.message_id is None or _is_id(incoming.message_id, low=0))
        and (
            incoming.callback_id is None
            or (isinstance(incoming.callback_id, str) and 0 < len(incoming.callback_id) <= MAX_CALLBACK_ID)
        )
        and files_ok
    )


def _dedupe_key(update: Update, incoming: Incoming) -> str:
    """The chat (or presser) first, so a contact's erasure finds their keys; then what Telegram
    numbers within it. An edit would reuse its message's id but is never a Delivery."""
    if incoming.callback_id is not None:
        return f"{incoming.user_id}:callback:{incoming.callback_id}"
    message = update.message
    if message is None or not _is_id(message.message_id, low=0):
        raise MalformedUpdate("message_id")
    return f"{incoming.chat_id}:message:{message.message_id}"


def delivery_of(update: Update, *, bot_username: str | None = None) -> Delivery | None:
    """What the inbox keeps of an update from outside: None for kinds customer support does not
    use (groups, edits, channel posts, other bots), which need no storing; MalformedUpdate when
    its fields have types or ids Telegram never sends."""
    try:
        incoming = from_update(update, bot_username=bot_username)
    except Exception as exc:  # a wrong type surfaces wherever it is first used
        raise MalformedUpdate(type(exc).__name__) from None
    if incoming is None:
        return None
    if not _well_formed(incoming):
        raise MalformedUpdate("field types")
    return Delivery(incoming=incoming, dedupe_key=_dedupe_key(update, incoming))
