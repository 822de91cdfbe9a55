"""Sends outbox rows to Telegram chats through ptb's Bot, mapping its errors to the dispatcher's."""

from __future__ import annotations

import asyncio
import functools
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.error import RetryAfter as TelegramRetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot.frontend import PART_WAIT, PermanentSendError, ReplyParts, RetryAfter
from bot.telegram.render import render
from handlers.messages import Reply

PLATFORM = "telegram"


def _retry_after(exc: Exception) -> float | None:
    return retry_seconds(exc) if isinstance(exc, TelegramRetryAfter) else None


def retry_seconds(exc: TelegramRetryAfter) -> float:
    with warnings.catch_warnings():
        # ptb 22 warns that retry_after becomes a timedelta; both forms are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        wait = exc.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


async def send_reply(
    bot: Bot,
    chat_id: int,
    reply: Reply,
    *,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    part_wait: float = PART_WAIT,
    reply_to: int | None = None,
) -> int:
    """Post ``reply`` (split if long, the photo first if any); the first message's id. With
    ``sleep``, a 429 after the first part is waited out (``part_wait`` seconds in all). With
    ``reply_to`` (a group chat's message) the first part answers that message; if it is gone,
    the answer is posted all the same."""
    first: int | None = None
    answering = (
        ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
        if reply_to is not None
        else None
    )
    parts = ReplyParts(retry_after=_retry_after, sleep=sleep, budget=part_wait)
    if reply.image is not None:
        photo = await parts.send(
            functools.partial(
                bot.send_photo,
                chat_id=chat_id,
                photo=reply.image,
                filename=reply.image_name or None,
                reply_parameters=answering,
            )
        )
        first = photo.message_id
    for piece in render(reply):
        sent = await parts.send(
            functools.partial(
                bot.send_message,
                chat_id=chat_id,
                text=piece.text,
                parse_mode=ParseMode.HTML,
                reply_markup=piece.reply_markup,
                reply_parameters=answering if first is None else None,
            )
        )
        first = first if first is not None else sent.message_id
    assert first is not None  # render always yields a message
    return first


class TelegramSender:
    platform = PLATFORM

    def __init__(self, bot: Bot, *, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.bot = bot
        self.sleep = sleep

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        """``thread`` is the message a group chat's answer replies to (its Telegram message id);
        private chats have none."""
        reply_to = int(thread) if thread is not None and thread.isdigit() else None
        try:
            return str(await send_reply(self.bot, int(target), reply, sleep=self.sleep, reply_to=reply_to))
        except TelegramRetryAfter as exc:
            raise RetryAfter(retry_seconds(exc)) from None
        except Forbidden:
            raise PermanentSendError("telegram Forbidden (the user blocked the bot)", blocked=True) from None
        except BadRequest:
            # Its text may quote our HTML; the type is enough to act on.
            raise PermanentSendError("telegram BadRequest") from None
