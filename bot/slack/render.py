"""Reply -> Block Kit messages (pure): header, text, fields, items, context, buttons, paged to limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from handlers.messages import Button, Field, ListItem, Reply

Block = dict[str, Any]
SlackMessage = dict[str, Any]  # {"text": fallback, "blocks": [...]}, ready for chat.postMessage

MAX_BLOCKS = 50  # per message (a modal or App Home takes 100)
MAX_TEXT = 3_000  # per section or context text
MAX_HEADER = 150
MAX_FIELD = 2_000
MAX_FIELDS = 10  # per section
MAX_BUTTON_LABEL = 75
MAX_ACTIONS = 25  # elements of one actions block
MAX_OVERFLOW = 5  # options of one overflow menu
INLINE_BUTTONS = 5  # more than this and the rest go into overflow menus
MAX_FALLBACK = 300
MENU_ACTION_PREFIX = "crm-menu-"  # action_id of an overflow menu; its options carry crm:<verb>:<id>


def escape(text: str) -> str:
    """Slack treats <, > and & as control characters: user text must never ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut ``text`` into pieces whose escaped form fits ``limit``; the pieces joined give ``text``
    back. Cuts prefer a line break, then a space, in the second half of a piece."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        size, end = 0, start
        while end < len(text):
            grown = size + len(escape(text[end]))
            if grown > limit:
                break
            size, end = grown, end + 1
        if end < len(text):
            window = text[start:end]
            for mark in ("\n", " "):
                cut = window.rfind(mark)
                if cut >= len(window) // 2:
                    end = start + cut + 1  # the mark ends this piece, so nothing is lost
                    break
        pieces.append(text[start:end])
        start = end
    return pieces


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mrkdwn(text: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit) or " ", "emoji": True}


def button_element(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "text": _plain(button.label, MAX_BUTTON_LABEL),
        "action_id": button.action,
        "value": button.action,
    }
    if button.style != "default":
        element["style"] = button.style
    if button.url:
        element["url"] = button.url
    return element


def overflow_element(buttons: Sequence[Button], index: int) -> Block:
    return {
        "type": "overflow",
        "action_id": f"{MENU_ACTION_PREFIX}{index}",
        "options": [{"text": _plain(b.label, MAX_BUTTON_LABEL), "value": b.action} for b in buttons],
    }


def _text_sections(text: str) -> list[Block]:
    return [
        {"type": "section", "text": _mrkdwn(escape(piece))} for piece in split_text(text) if piece.strip()
    ]


def _field_sections(fields: Sequence[Field]) -> list[Block]:
    blocks: list[Block] = []
    for start in range(0, len(fields), MAX_FIELDS):
        chunk = fields[start : start + MAX_FIELDS]
        blocks.append(
            {
                "type": "section",
                "fields": [
                    _mrkdwn(_clip(f"*{escape(f.label)}*\n{escape(f.value)}", MAX_FIELD)) for f in chunk
                ],
            }
        )
    return blocks


def _item_blocks(item: ListItem, index: int) -> list[Block]:
    body = item.text + (f"\n{item.detail}" if item.detail else "")
    pieces = _text_sections(body) or [{"type": "section", "text": _mrkdwn(" ")}]
    last = pieces[-1]
    if len(item.buttons) == 1:
        last["accessory"] = button_element(item.buttons[0])
    elif item.buttons:
        last["accessory"] = overflow_element(item.buttons[:MAX_OVERFLOW], index)
    return pieces


def _action_blocks(buttons: Sequence[Button], first_menu: int) -> list[Block]:
    if not buttons:
        return []
    inline = list(buttons) if len(buttons) <= INLINE_BUTTONS else list(buttons[: INLINE_BUTTONS - 1])
    rest = list(buttons[len(inline) :])
    elements = [button_element(b) for b in inline]
    for n, start in enumerate(range(0, len(rest), MAX_OVERFLOW)):
        elements.append(overflow_element(rest[start : start + MAX_OVERFLOW], first_menu + n))
    return [
        {"type": "actions", "elements": elements[start : start + MAX_ACTIONS]}
        for start in range(0, len(elements), MAX_ACTIONS)
    ]


def reply_blocks(reply: Reply) -> list[Block]:
    """Every block of a reply, unpaged (App Home and modals page differently from messages)."""
    blocks: list[Block] = []
    if reply.title:
        blocks.append({"type": "header", "text": _plain(reply.title, MAX_HEADER)})
    text = f":warning: {reply.text}" if reply.is_error and reply.text else reply.text
    blocks.extend(_text_sections(text))
    blocks.extend(_field_sections(reply.fields))
    for index, item in enumerate(reply.items):
        blocks.extend(_item_blocks(item, index))
    if reply.context:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(_clip(reply.context, MAX_TEXT // 2)))]})
    if reply.image is not None:
        # Charts are uploaded by the delivery path; the message says one belongs here.
        blocks.append(
            {"type": "context", "elements": [_mrkdwn(f"Chart: {escape(reply.image_name or 'chart')}")]}
        )
    blocks.extend(_action_blocks(reply.buttons, len(reply.items)))
    return blocks


def info_blocks(reply: Reply) -> list[Block]:
    """A reply's blocks without its buttons: to read in a form (a press there has no message to
    answer in, and the form is for one thing)."""
    return reply_blocks(
        replace(reply, buttons=(), items=tuple(replace(item, buttons=()) for item in reply.items))
    )


def fallback_text(reply: Reply) -> str:
    """The notification text (also what screen readers and old clients show)."""
    return escape(_clip(" — ".join(p for p in (reply.title, reply.text) if p) or "crm-bot", MAX_FALLBACK))


def render(reply: Reply, *, max_blocks: int = MAX_BLOCKS) -> list[SlackMessage]:
    """One message per page of at most ``max_blocks`` blocks; a short reply is one message."""
    blocks = reply_blocks(reply) or [{"type": "section", "text": _mrkdwn(" ")}]
    pages = [blocks[start : start + max_blocks] for start in range(0, len(blocks), max_blocks)]
    text = fallback_text(reply)
    if len(pages) == 1:
        return [{"text": text, "blocks": pages[0]}]
    return [
        {
            "text": text if n == 0 else _clip(f"{text} (part {n + 1} of {len(pages)})", MAX_FALLBACK),
            "blocks": page,
        }
        for n, page in enumerate(pages)
    ]
