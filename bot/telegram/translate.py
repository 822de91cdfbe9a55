"""Telegram Updates -> what a customer said or pressed, and the Message handlers take (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import ChatMemberUpdated, MessageEntity, Update
from telegram import Message as TgMessage

from handlers.messages import Actor, Attachment, GroupChat, Message

PLATFORM = "telegram"
GROUP_TYPES = ("group", "supergroup")
# What a group chat tells about the bot itself: added, removed, or moved to a supergroup's new id.
JOINED, LEFT, MOVED = "joined", "left", "moved"
_GONE = ("left", "kicked")


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from a private chat, or one addressed to the bot in a group chat (``group``;
    ``event`` for what the group tells about the bot); the adapter answers in the same chat."""

    update_id: int
    user_id: str
    chat_id: int
    display_name: str
    text: str = ""
    action: str | None = None
    attachments: tuple[Attachment, ...] = ()
    callback_id: str | None = None
    message_id: int | None = None  # the message that carried the pressed button
    group: bool = False
    said_message_id: int | None = None  # in a group: the message answers thread on
    event: str | None = None  # in a group: JOINED, LEFT or MOVED (to ``moved_to``)
    moved_to: int | None = None

    def message(self, actor: Actor, *, group: GroupChat | None = None) -> Message:
        return Message(
            actor=actor,
            text=self.text,
            action=self.action,
            attachments=self.attachments,
            ref=f"{PLATFORM}:{self.update_id}",
            group=group,
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


def _is_bot_name(name: str | None, bot_username: str | None) -> bool:
    return bool(name) and bot_username is not None and str(name).lower() == bot_username.lower()


def _addressed(message: TgMessage, text: str, *, bot_username: str | None) -> bool:
    """Whether a group message is for the bot: a command (bare, or /cmd@this_bot), a mention of
    it (an entity, not just the letters), or a reply to one of its messages."""
    if text.startswith("/"):
        name, at, whom = text.split(maxsplit=1)[0].partition("@") if text.strip() else ("", "", "")
        return bool(name[1:]) and (not at or _is_bot_name(whom, bot_username))
    replied = message.reply_to_message
    if (
        replied is not None
        and replied.from_user is not None
        and replied.from_user.is_bot
        and _is_bot_name(replied.from_user.username, bot_username)
    ):
        return True
    kinds: list[str | None] = [MessageEntity.MENTION]
    mentions = message.parse_entities(kinds) if message.text else message.parse_caption_entities(kinds)
    return any(_is_bot_name(said.lstrip("@"), bot_username) for said in mentions.values())


def _without_mention(text: str, bot_username: str | None) -> str:
    """The words for the bot, without the @name that addressed it."""
    if not bot_username:
        return text
    kept = [w for w in text.split(" ") if w.lower().strip(",.:;!?") != f"@{bot_username.lower()}"]
    return " ".join(kept).strip()


def _membership(update: Update, changed: ChatMemberUpdated) -> Incoming | None:
    """The bot added to or removed from a group (my_chat_member)."""
    if changed.chat.type not in GROUP_TYPES:
        return None
    was, now = changed.old_chat_member.status, changed.new_chat_member.status
    event = LEFT if now in _GONE else JOINED if was in _GONE else None
    if event is None:
        return None
    return Incoming(
        update_id=update.update_id,
        user_id=str(changed.from_user.id),
        chat_id=changed.chat.id,
        display_name=changed.from_user.full_name,
        group=True,
        event=event,
    )


def _from_group(update: Update, message: TgMessage, *, bot_username: str | None) -> Incoming | None:
    """A group message for the bot, or what the group tells of the bot; None for the rest of
    the chatter, which is neither kept nor answered."""
    user = message.from_user
    event, moved_to = None, None
    if message.migrate_to_chat_id:
        event, moved_to = MOVED, message.migrate_to_chat_id
    elif any(_is_bot_name(member.username, bot_username) for member in message.new_chat_members):
        event = JOINED
    elif message.left_chat_member is not None and _is_bot_name(
        message.left_chat_member.username, bot_username
    ):
        event = LEFT
    if event is not None:
        return Incoming(
            update_id=update.update_id,
            user_id=str(user.id) if user is not None else "",
            chat_id=message.chat.id,
            display_name=user.full_name if user is not None else "",
            group=True,
            event=event,
            moved_to=moved_to,
        )
    if user is None or user.is_bot:
        return None
    text = message.text or message.caption or ""
    if not _addressed(message, text, bot_username=bot_username):
        return None
    words = command_text(text, bot_username=bot_username) if text.startswith("/") else text
    return Incoming(
        update_id=update.update_id,
        user_id=str(user.id),
        chat_id=message.chat.id,
        display_name=user.full_name,
        text=_without_mention(words, bot_username),
        attachments=attachments(message),
        group=True,
        said_message_id=message.message_id,
    )


def from_update(update: Update, *, bot_username: str | None = None) -> Incoming | None:
    """A private chat's message or button press, or a group's message for the bot and what a
    group tells of the bot; None for everything else (group chatter, edits, channel posts, other
    bots, presses in groups), which customers' support does not use."""
    if update.my_chat_member is not None:
        return _membership(update, update.my_chat_member)
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
    if message is None:
        return None
    if message.chat.type in GROUP_TYPES:
        return _from_group(update, message, bot_username=bot_username)
    if message.from_user is None or message.from_user.is_bot:
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
