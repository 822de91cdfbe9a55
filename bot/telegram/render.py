"""Reply -> Telegram messages (pure): HTML with every user-written text escaped, an inline
keyboard of ``crm:<verb>:<id>`` buttons, split to Telegram's 4,096-character limit."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.actions import MAX_BYTES
from handlers.messages import Button, Reply

MAX_TEXT = 4_096  # after entity parsing, i.e. the visible text
MAX_TOAST = 200  # answerCallbackQuery's text
ROW_BUTTONS = 5
ROW_LABEL_CHARS = 30
EMPTY = "—"  # Telegram refuses empty messages


@dataclass(frozen=True, slots=True)
class TelegramMessage:
    text: str  # HTML
    reply_markup: InlineKeyboardMarkup | None = None


def visible_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` visible units that join back to ``text``; cuts prefer a line
    break, then a space, in the second half of a piece."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        size, end = 0, start
        while end < len(text) and size + visible_length(text[end]) <= limit:
            size += visible_length(text[end])
            end += 1
        if end < len(text):
            window = text[start:end]
            for mark in ("\n", " "):
                cut = window.rfind(mark)
                if cut >= len(window) // 2:
                    end = start + cut + 1
                    break
        pieces.append(text[start:end])
        start = end
    return pieces


@dataclass(frozen=True, slots=True)
class _Block:
    plain: str  # what the reader sees, for measuring
    markup: str


def _block(plain: str, *, tag: str = "") -> _Block:
    escaped = html.escape(plain, quote=False)
    return _Block(plain, f"<{tag}>{escaped}</{tag}>" if tag else escaped)


def _blocks(reply: Reply, numbered: bool) -> list[_Block]:
    blocks: list[_Block] = []
    if reply.title:
        blocks.append(_block(reply.title[:256], tag="b"))
    text = f"⚠️ {reply.text}" if reply.is_error and reply.text else reply.text
    if reply.markup:  # checked Telegram HTML within the limit (handlers.campaign_text): as it is
        blocks.append(_Block(text, reply.markup))
    else:
        blocks.extend(_block(piece) for piece in split_text(text) if piece.strip())
    for f in reply.fields:
        plain = f"{f.label}: {f.value}"
        for piece in split_text(plain):
            blocks.append(_block(piece))
    for n, item in enumerate(reply.items, start=1):
        head = f"{n}. {item.text}" if numbered else f"• {item.text}"
        plain = head + (f"\n{item.detail}" if item.detail else "")
        for piece in split_text(plain):
            blocks.append(_block(piece))
    if reply.context:
        blocks.extend(_block(piece, tag="i") for piece in split_text(reply.context))
    return blocks


def _pack(blocks: Sequence[_Block]) -> list[str]:
    """Blocks joined by blank lines into as few messages as fit; a block is never cut."""
    messages: list[str] = []
    plain, markup = "", ""
    for block in blocks:
        joined = f"{plain}\n\n{block.plain}" if plain else block.plain
        if plain and visible_length(joined) > MAX_TEXT:
            messages.append(markup)
            plain, markup = block.plain, block.markup
            continue
        plain, markup = joined, f"{markup}\n\n{block.markup}" if markup else block.markup
    if markup:
        messages.append(markup)
    return messages or [EMPTY]


def _fits(button: Button) -> bool:
    return 1 <= len(button.action.encode()) <= MAX_BYTES


def _inline(button: Button, label: str = "") -> InlineKeyboardButton:
    if button.url:  # a link opens in the browser; Telegram sends the bot nothing for it
        return InlineKeyboardButton(label or button.label, url=button.url)
    return InlineKeyboardButton(label or button.label, callback_data=button.action)


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    """Item buttons one row each (labelled with the item's number), then the reply's buttons in
    rows of up to five short labels."""
    rows: list[list[InlineKeyboardButton]] = []
    numbered = any(item.buttons for item in reply.items)
    for n, item in enumerate(reply.items, start=1):
        row = [_inline(b, f"{n}. {b.label}" if numbered else b.label) for b in item.buttons if _fits(b)]
        if row:
            rows.append(row)
    current: list[InlineKeyboardButton] = []
    width = 0
    for button in (b for b in reply.buttons if _fits(b)):
        if current and (len(current) >= ROW_BUTTONS or width + len(button.label) > ROW_LABEL_CHARS):
            rows.append(current)
            current, width = [], 0
        current.append(_inline(button))
        width += len(button.label)
    if current:
        rows.append(current)
    return InlineKeyboardMarkup(rows) if rows else None


def render(reply: Reply) -> list[TelegramMessage]:
    """One message, or several when the text is longer than Telegram allows; the keyboard goes
    on the last one."""
    numbered = any(item.buttons for item in reply.items)
    texts = _pack(_blocks(reply, numbered))
    markup = keyboard(reply)
    return [TelegramMessage(text, markup if n == len(texts) - 1 else None) for n, text in enumerate(texts)]


def toast(reply: Reply) -> str:
    """The text of a press's notice (answerCallbackQuery shows it over the chat; plain text)."""
    text = " ".join(reply.text.split()) or EMPTY
    return text if len(text) <= MAX_TOAST else text[: MAX_TOAST - 1] + "…"
