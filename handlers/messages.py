"""Actor, Message and Reply: the values that cross between front ends and handlers."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from handlers.cleaning import clean_input

Role = Literal["rep", "manager", "admin", "customer"]
STAFF_ROLES: frozenset[str] = frozenset({"rep", "manager", "admin"})
MAX_TEXT = 4_000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is speaking: a rep (or manager/admin) or a customer, on one platform."""

    platform: str
    user_id: str
    role: Role
    display_name: str = ""
    rep_id: int | None = None
    customer_id: int | None = None
    timezone: str = "UTC"

    @property
    def key(self) -> str:
        """Stable id for audit lines and pending actions: ``platform:user``."""
        return f"{self.platform}:{self.user_id}"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_manager(self) -> bool:
        return self.role in ("manager", "admin")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A reference to a file kept by the platform (we store ids, not bytes)."""

    file_id: str
    name: str = ""
    size: int = 0
    kind: str = "document"

    def __post_init__(self) -> None:
        # A file name is shown to the team and stored: no control or bidi-override characters.
        object.__setattr__(self, "name", clean_input(self.name))

    def as_dict(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "name": self.name, "size": self.size, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class GroupChat:
    """Where a customer's message was said when it came from a group chat: the chat, the
    message (answers thread on it) and, once the group is linked, its row and company."""

    chat_id: str
    message_id: str
    group_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One thing a person said or pressed. A button press sets ``action``/``value``."""

    actor: Actor
    text: str = ""
    action: str | None = None
    value: str | None = None
    attachments: tuple[Attachment, ...] = ()
    # The platform's id for this message when it may arrive again after a crash (a Telegram
    # update re-delivered from the inbox): the router then lets it change the store once.
    ref: str | None = None
    group: GroupChat | None = None

    def __post_init__(self) -> None:
        # Every front end (Slack, Telegram, the console, a form's command) builds a Message:
        # cleaning here is the one place all that text passes, whoever built it.
        object.__setattr__(self, "text", clean_input(self.text))
        if self.action is not None:
            object.__setattr__(self, "action", clean_input(self.action))
        if self.value is not None:
            object.__setattr__(self, "value", clean_input(self.value))


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: str  # ``crm:<verb>:<id>``, see handlers.actions
    style: Literal["default", "primary", "danger"] = "default"
    # A link button: front ends open ``url`` (Telegram sends no press for it; Slack still does).
    url: str = ""


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class ListItem:
    text: str
    detail: str = ""
    buttons: tuple[Button, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers; each front end draws it natively."""

    text: str
    title: str = ""
    fields: tuple[Field, ...] = ()
    items: tuple[ListItem, ...] = ()
    buttons: tuple[Button, ...] = ()
    context: str = ""
    # The text as Telegram HTML, already checked (a campaign's message): Telegram shows this
    # instead of ``text``; other front ends show ``text``, its plain reading.
    markup: str = ""
    image: bytes | None = field(default=None, repr=False)
    image_name: str = ""
    ephemeral: bool = True
    is_error: bool = False
    # Answering a button press: redraw the message that carried the button instead of adding one.
    replace_original: bool = False
    # Answering a button press with a short notice for the presser alone (a refused press): shown
    # the platform's way (a Telegram toast, a Slack ephemeral line); nothing is posted or redrawn.
    toast: bool = False


def error_reply(text: str) -> Reply:
    return Reply(text=text, is_error=True)


def _button_dict(button: Button) -> dict[str, str]:
    found = {"label": button.label, "action": button.action, "style": button.style}
    if button.url:
        found["url"] = button.url
    return found


def _button(data: Mapping[str, Any]) -> Button:
    style = str(data.get("style", "default"))
    return Button(
        label=str(data["label"]),
        action=str(data["action"]),
        style=style if style in ("primary", "danger") else "default",  # type: ignore[arg-type]
        url=str(data.get("url", "")),
    )


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A JSON-ready form of ``reply`` (the outbox stores it); an image travels as base64."""
    return {
        "text": reply.text,
        "title": reply.title,
        "fields": [[f.label, f.value] for f in reply.fields],
        "items": [
            {"text": i.text, "detail": i.detail, "buttons": [_button_dict(b) for b in i.buttons]}
            for i in reply.items
        ],
        "buttons": [_button_dict(b) for b in reply.buttons],
        "context": reply.context,
        "markup": reply.markup,
        "image": base64.b64encode(reply.image).decode("ascii") if reply.image is not None else None,
        "image_name": reply.image_name,
        "ephemeral": reply.ephemeral,
        "is_error": reply.is_error,
        "replace_original": reply.replace_original,
        "toast": reply.toast,
    }


def reply_from_dict(data: Mapping[str, Any]) -> Reply:
    """The inverse of ``reply_to_dict``; keys it does not know are ignored, missing ones default."""
    image = data.get("image")
    return Reply(
        text=str(data.get("text", "")),
        title=str(data.get("title", "")),
        fields=tuple(Field(str(label), str(value)) for label, value in data.get("fields", ())),
        items=tuple(
            ListItem(
                text=str(i.get("text", "")),
                detail=str(i.get("detail", "")),
                buttons=tuple(_button(b) for b in i.get("buttons", ())),
            )
            for i in data.get("items", ())
        ),
        buttons=tuple(_button(b) for b in data.get("buttons", ())),
        context=str(data.get("context", "")),
        markup=str(data.get("markup", "")),
        image=base64.b64decode(image) if image else None,
        image_name=str(data.get("image_name", "")),
        ephemeral=bool(data.get("ephemeral", True)),
        is_error=bool(data.get("is_error", False)),
        replace_original=bool(data.get("replace_original", False)),
        toast=bool(data.get("toast", False)),
    )
