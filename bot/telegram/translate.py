"""Telegram Updates -> what a customer said or pressed, and the Message handlers take (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message as TgMessage
from telegram import Update

from handlers.messages import Actor, Attachment, Message

PLATFORM = "telegram"


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
