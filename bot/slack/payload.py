"""Slack request bodies -> the payload they carry, in the shape bolt and our listeners read (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import parse_qsl

from bot.slack import translate

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_DEPTH = 48  # far deeper than Slack nests anything (rich text in a view's state is its deepest)
MAX_FORM_FIELDS = 64
# Interaction types the app answers (bolt routes them to the listeners in bot.slack.adapter).
INTERACTIONS = frozenset({"block_actions", "view_submission", "view_closed", "shortcut", "message_action"})
# Objects bolt reads ids from (a plain id or an object with "id"), and plain-text fields it reads.
_REFERENCES = ("user", "team", "channel", "enterprise")
_TEXTS = ("user_id", "team_id", "channel_id", "enterprise_id", "thread_ts", "response_url", "trigger_id")
# Where bolt looks for those again, one level down each time.
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread")
_MESSAGE_EVENTS = ("message", "app_mention")
_MESSAGE_TEXTS = ("text", "ts", "thread_ts", "subtype", "channel_type", "bot_id", "user")


class Malformed(ValueError):
    """A correctly signed body that is not a request Slack sends. The reason names what is wrong,
    never what the body says, so it may be logged."""


def parse(raw: bytes, content_type: str) -> dict[str, Any]:
    """The payload of a signed request: an Events API envelope (JSON), a slash command or an SSL
    check (form fields), or an interaction (form field ``payload``, JSON). Raises Malformed."""
    media = content_type.partition(";")[0].strip().lower()
    if media not in (FORM, JSON):
        _refuse("unsupported content type")
    if not raw:
        _refuse("empty body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _refuse("body is not UTF-8")
    if media == JSON:
        payload = _json(text)
        _check_envelope(payload)
    else:
        fields = _form(text)
        if "payload" in fields:
            payload = _json(fields["payload"])
            _check_interaction(payload)
        elif "command" in fields:
            payload = dict(fields)
            _check_command(payload)
        elif fields.get("ssl_check") == "1":
            payload = dict(fields)
        else:
            _refuse("form is neither a command nor an interaction")
    _check_bolt_fields(payload, depth=0)
    return payload


def _refuse(reason: str) -> NoReturn:
    raise Malformed(reason)


def _json(text: str) -> dict[str, Any]:
    def no_constant(_: str) -> NoReturn:
        _refuse("JSON holds NaN or Infinity")

    try:
        value = json.loads(text, parse_constant=no_constant)
    except Malformed:
        raise
    except (ValueError, RecursionError):
        _refuse("JSON does not parse")
    if not isinstance(value, dict):
        _refuse("JSON is not an object")
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            _refuse("JSON nests too deep")
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        pending.extend((child, depth + 1) for child in children)


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=MAX_FORM_FIELDS
        )
    except (ValueError, UnicodeDecodeError):  # UnicodeDecodeError is a ValueError; said for the reader
        _refuse("form does not parse")
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            _refuse("form repeats a field")
        fields[name] = value
    return fields


def _text(obj: Mapping[str, Any], key: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or (required and not value):
        _refuse(f"{key} is not text")


def _object(obj: Mapping[str, Any], key: str, *, required: bool = False) -> dict[str, Any]:
    value = obj.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        _refuse(f"{key} is not an object")
    return value


def _objects(obj: Mapping[str, Any], key: str, *, required: bool = False) -> list[dict[str, Any]]:
    value = obj.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        _refuse(f"{key} is not a list of objects")
    if required and not value:
        _refuse(f"{key} is empty")
    return value


def _reference(obj: Mapping[str, Any], key: str, *, required: bool = False) -> None:
    value = obj.get(key)
    if isinstance(value, str) and (value or not required):
        return
    if isinstance(value, dict):
        _text(value, "id", required=required)
        return
    if value is not None or required:
        _refuse(f"{key} is neither an id nor an object")


def _check_bolt_fields(obj: Mapping[str, Any], *, depth: int) -> None:
    """What bolt reads from every request before any listener runs (ids for its context, the
    lists it indexes), where it reads it: a wrong type there raises inside bolt."""
    for key in _REFERENCES:
        _reference(obj, key)
    for key in _TEXTS:
        _text(obj, key)
    _text(obj, "type")
    for authorization in _objects(obj, "authorizations"):
        _check_bolt_fields(authorization, depth=depth + 1)
    _objects(obj, "response_urls")
    view = _object(obj, "view")
    for field in ("app_installed_team_id", "team_id", "id", "hash", "callback_id", "private_metadata"):
        _text(view, field)
    for key in ("container", "function_data"):
        _object(obj, key)
    for key in _NESTED:
        nested = _object(obj, key)
        if nested and depth < MAX_DEPTH:
            _check_bolt_fields(nested, depth=depth + 1)


def _check_envelope(body: Mapping[str, Any]) -> None:
    kind = body.get("type")
    if kind == "url_verification":
        _text(body, "challenge", required=True)
    elif kind == "event_callback":
        if translate.event_id(body) is None:
            _refuse("event_id is missing or not an id")
        event = _object(body, "event", required=True)
        _text(event, "type", required=True)
        if event["type"] in _MESSAGE_EVENTS:
            _text(event, "channel", required=True)
            for key in _MESSAGE_TEXTS:
                _text(event, key)
        elif event["type"] == "app_home_opened":
            _text(event, "user", required=True)
            _text(event, "tab")
    elif kind != "app_rate_limited":
        _refuse("not an Events API envelope")


def _check_command(fields: Mapping[str, str]) -> None:
    for key in ("command", "user_id"):
        _text(fields, key, required=True)


def _check_interaction(body: Mapping[str, Any]) -> None:
    kind = body.get("type")
    if kind not in INTERACTIONS:
        _refuse("not an interaction this app handles")
    _reference(body, "user", required=True)
    if kind == "block_actions":
        for action in _objects(body, "actions", required=True):
            _text(action, "action_id", required=True)
            for key in ("block_id", "type", "value"):
                _text(action, key)
            _text(_object(action, "selected_option"), "value")
        _text(_object(body, "container"), "channel_id")
    elif kind in ("view_submission", "view_closed"):
        view = _object(body, "view", required=True)
        for key in ("type", "callback_id"):
            _text(view, key, required=True)
        _object(view, "state")
    else:
        _text(body, "callback_id", required=True)
        _text(_object(body, "message"), "text")
