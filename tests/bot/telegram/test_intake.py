"""Updates from outside: well-formed ones of the kinds support uses, keyed by the message or
press they carry; wrong types and ids beyond Telegram's are malformed, other kinds not kept."""

from __future__ import annotations

from typing import Any

import pytest

from bot.telegram.intake import MAX_ID, MalformedUpdate, delivery_of, parse_update
from tests.fakes.telegram_api import FakeTelegramApi


def test_a_delivery_is_keyed_by_the_message_or_press_it_carries_not_by_update_id() -> None:
    fake = FakeTelegramApi()
    message = fake.message_update(42, "hello", update_id=7)
    delivery = delivery_of(parse_update(message))
    assert delivery is not None and delivery.event_id == "7"
    assert delivery.dedupe_key == f"42:message:{message['message']['message_id']}"
    again = delivery_of(parse_update({**message, "update_id": 8}))
    assert again is not None and again.event_id == "8" and again.dedupe_key == delivery.dedupe_key
    press = fake.callback_update(42, "crm:csat:1-5", message_id=77)
    pressed = delivery_of(parse_update(press))
    assert pressed is not None and pressed.dedupe_key == f"42:callback:{press['callback_query']['id']}"


def test_kinds_support_does_not_use_are_no_delivery() -> None:
    fake = FakeTelegramApi()
    message = fake.message_update(42, "order 1182")
    edited = {"update_id": 9, "edited_message": {**message["message"], "edit_date": 1}}
    # A group's chatter (no command, mention or reply to the bot) and a command for another bot.
    group = fake.message_update(42, "order 1182 @someone_else")
    group["message"]["chat"] = {"id": -100, "type": "group", "title": "g"}
    other_bot = fake.message_update(42, "/status@other_bot")
    other_bot["message"]["chat"] = {"id": -100, "type": "group", "title": "g"}
    odd = ({"update_id": 10}, {"update_id": 11, "kind_from_the_future": {"x": 1}})
    for update in (edited, group, other_bot, *odd):
        assert delivery_of(parse_update(update)) is None, update


def _with(update: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data: Any = update
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value
    return update


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("update_id",), "12"),
        (("update_id",), -1),
        (("update_id",), MAX_ID + 1),
        (("update_id",), True),
        (("message",), 5),
        (("message", "chat"), "555"),
        (("message", "chat", "id"), 10**30),
        (("message", "chat", "id"), "555"),
        (("message", "from", "id"), 2**64),
        (("message", "from", "id"), "x"),
        (("message", "from", "first_name"), 7),
        (("message", "message_id"), "m1"),
        (("message", "message_id"), 10**20),
        (("message", "date"), 10**30),
        (("message", "text"), ["a"]),
        (("message", "text"), 0),  # falsy: ``text or caption`` alone would read it as no text
        (("message", "caption"), False),
        (("message", "chat", "type"), 5),
        (("message", "from", "is_bot"), "no"),
        (("message", "from", "first_name"), ""),
        (("message", "photo"), "big"),
        (("message", "photo", 1, "file_size"), False),
        (("message", "chat"), None),
    ],
)
def test_wrong_types_and_ids_beyond_telegrams_are_malformed(path: tuple[str | int, ...], value: Any) -> None:
    photo = "photo" in path or "caption" in path
    update = _with(FakeTelegramApi().message_update(555, "hello", photo=photo), path, value)
    with pytest.raises(MalformedUpdate):
        delivery_of(parse_update(update))


@pytest.mark.parametrize("body", [None, [], "text", 12, {"message": {}}, {"update_id": None}])
def test_bodies_that_are_no_update_are_malformed(body: Any) -> None:
    with pytest.raises(MalformedUpdate):
        parse_update(body)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("callback_query", "id"), 5),
        (("callback_query", "id"), "x" * 65),
        (("callback_query", "data"), 5),
        (("callback_query", "from", "id"), 10**30),
        (("callback_query", "message", "chat", "id"), 10**30),
        (("callback_query", "message", "message_id"), -5),
        (("callback_query", "from", "is_bot"), 0),
    ],
)
def test_a_malformed_press_is_malformed(path: tuple[str | int, ...], value: Any) -> None:
    update = _with(FakeTelegramApi().callback_update(555, "crm:csat:1-5", message_id=9), path, value)
    with pytest.raises(MalformedUpdate):
        delivery_of(parse_update(update))
