"""Telegram Update -> Incoming (pure): private messages, photos, documents, presses; groups ignored."""

from __future__ import annotations

from telegram import Update

from bot.telegram.translate import JOINED, LEFT, MOVED, Incoming, command_text, from_update
from handlers.messages import Actor
from tests.fakes.telegram_api import FakeTelegramApi


def test_a_photo_with_a_caption_keeps_the_largest_file_reference() -> None:
    data = FakeTelegramApi().message_update(42, "the broken part", photo=True, name="Carla")
    incoming = from_update(Update.de_json(data, None))
    assert incoming is not None and incoming.text == "the broken part" and incoming.user_id == "42"
    assert [(a.file_id, a.kind, a.size) for a in incoming.attachments] == [("large-id", "photo", 90000)]


def test_a_document_and_a_button_press() -> None:
    fake = FakeTelegramApi()
    data = fake.message_update(42, "")
    data["message"]["document"] = {
        "file_id": "doc-1",
        "file_unique_id": "d",
        "file_name": "invoice.pdf",
        "file_size": 5,
    }
    incoming = from_update(Update.de_json(data, None))
    assert incoming is not None and incoming.attachments[0].name == "invoice.pdf"
    press = from_update(Update.de_json(fake.callback_update(42, "crm:csat:3-5", message_id=77), None))
    assert (
        press is not None and press.action == "crm:csat:3-5" and press.message_id == 77 and press.callback_id
    )


def test_group_chatter_edits_and_bots_are_ignored_and_bot_names_dropped_from_commands() -> None:
    fake = FakeTelegramApi()
    group = fake.message_update(42, "see you at 3, @crm_test_bot fans")  # the letters, no entity
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "g"}
    assert from_update(Update.de_json(group, None)) is None
    edited = fake.message_update(42, "x")
    edited["edited_message"] = edited.pop("message")
    assert from_update(Update.de_json(edited, None)) is None
    assert command_text("/status@crm_test_bot 12", bot_username="crm_test_bot") == "/status 12"
    assert command_text("/status@other_bot 12", bot_username="crm_test_bot") == "/status@other_bot 12"


def test_what_a_customer_sends_reaches_the_handlers_cleaned() -> None:
    text = "/ticket Printer\x00 broken\x1b[2J\nIt \u202eprints"
    data = FakeTelegramApi().message_update(42, text, name="Eve")
    data["message"]["document"] = {
        "file_id": "doc-1",
        "file_unique_id": "d",
        "file_name": "invoice\u202egpj.exe",
        "file_size": 5,
    }
    incoming = from_update(Update.de_json(data, None))
    assert incoming is not None
    message = incoming.message(Actor(platform="telegram", user_id="42", role="customer"))
    assert message.text == "/ticket Printer broken\nIt prints"
    assert message.attachments[0].name == "invoicegpj.exe"


def test_a_group_message_is_for_the_bot_only_when_it_names_answers_or_commands_it() -> None:
    fake = FakeTelegramApi()
    bot = "crm_test_bot"

    def read(update: dict[str, object]) -> Incoming | None:
        return from_update(Update.de_json(update, None), bot_username=bot)

    mention = read(fake.group_update(-100, 42, "@crm_test_bot, the printer jams", mention=True))
    assert mention is not None and mention.group and mention.text == "the printer jams"
    assert mention.said_message_id is not None and mention.chat_id == -100 and mention.user_id == "42"
    command = read(fake.group_update(-100, 42, "/ticket@crm_test_bot it jams"))
    assert command is not None and command.text == "/ticket it jams"
    replied = read(fake.group_update(-100, 42, "still jammed", reply_to=9))
    assert replied is not None and replied.text == "still jammed"
    for chatter in (
        fake.group_update(-100, 42, "lunch?"),
        fake.group_update(-100, 42, "@other_bot hi", mention=True),
        fake.group_update(-100, 42, "/ticket@other_bot hi"),
    ):
        assert read(chatter) is None
    assert read(fake.group_update(-100, 42, "@crm_test_bot hi", mention=True)) is not None
    # Without its own name known, only commands can be told apart.
    assert (
        from_update(Update.de_json(fake.group_update(-100, 42, "@crm_test_bot hi", mention=True), None))
        is None
    )


def test_what_a_group_tells_of_the_bot_added_removed_or_moved() -> None:
    fake = FakeTelegramApi()

    def read(update: dict[str, object]) -> Incoming | None:
        return from_update(Update.de_json(update, None), bot_username="crm_test_bot")

    added = read(fake.member_update(-100, old="left", new="member"))
    assert added is not None and added.event == JOINED and added.chat_id == -100
    removed = read(fake.member_update(-100, old="member", new="kicked"))
    assert removed is not None and removed.event == LEFT
    assert read(fake.member_update(-100, old="member", new="member")) is None  # still in
    bot = {"id": 123456, "is_bot": True, "first_name": "CRM", "username": "crm_test_bot"}
    joined = read(fake.group_update(-100, 42, "", new_chat_members=[bot]))
    assert joined is not None and joined.event == JOINED
    moved = read(fake.group_update(-100, 42, "", migrate_to_chat_id=-1001234567890))
    assert moved is not None and moved.event == MOVED and moved.moved_to == -1001234567890
    someone = {"id": 77, "is_bot": False, "first_name": "Zed"}
    assert read(fake.group_update(-100, 42, "", new_chat_members=[someone])) is None
    assert read(fake.group_update(-100, 42, "", left_chat_member=someone)) is None
