"""Telegram Update -> Incoming (pure): private messages, photos, documents, presses; groups ignored."""

from __future__ import annotations

from telegram import Update

from bot.telegram.translate import command_text, from_update
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
