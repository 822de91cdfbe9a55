"""The ptb Application on the bot's own loop: long polling (one replica, by lease) or a
secret-checked webhook; every update goes through the store's inbox before it is handled."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from telegram import BotCommand, BotCommandScopeAllGroupChats, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application

from bot.admission import Admission
from bot.delivery import SlidingWindowLimiter, platform_limits
from bot.health import Health
from bot.inbox import UpdateInbox
from bot.lease import LeaderLease
from bot.telegram import intake, translate
from bot.telegram.poller import LEASE_NAME, TelegramPoller
from bot.telegram.render import render, toast
from bot.telegram.sender import TelegramSender, send_reply
from bot.telegram.translate import PLATFORM, Incoming
from crm_store.outbox import CONVERSATION
from crm_store.store import Store
from handlers import groups
from handlers.messages import Reply, error_reply, reply_to_dict
from handlers.people import customer_actor
from handlers.router import Router

_LOGGER = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# my_chat_member: the bot added to or removed from a group.
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
COMMANDS = (
    BotCommand("start", "Say hello and see what I can do"),
    BotCommand("ticket", "Ask us for help, step by step"),
    BotCommand("cancel", "Stop writing a ticket"),
    BotCommand("status", "Your tickets and where they stand"),
    BotCommand("feedback", "Tell us how we are doing"),
    BotCommand("help", "What I can do"),
)
# The menu in group chats: what a company's linked group can ask (handlers.groups).
GROUP_COMMANDS = (
    BotCommand("ticket", "Open a ticket for your company, or add to the open one"),
    BotCommand("link", "Link this group with the code from your account manager"),
    BotCommand("help", "What I do in this group"),
)
STOP_GRACE_SECONDS = 5.0
STAFF_ACCOUNT = "This Telegram account belongs to a team member; please use Slack for CRM work."


@dataclass(slots=True)
class _ChatTurn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # updates holding or waiting for the lock


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: str
    api_url: str = "https://api.telegram.org/bot"
    webhook_url: str | None = None
    webhook_secret: str | None = None
    poll_timeout: float = 10.0  # seconds a getUpdates long poll may wait
    lease_seconds: float = 30.0  # a dead poller's lease passes to another replica after this
    recover_seconds: float = 30.0  # how often inbox rows left by a failure are retried


def quiet_libraries() -> None:
    """httpx logs each request URL at INFO and ptb the API URL at DEBUG: both contain the token."""
    for name in ("httpx", "httpcore", "telegram"):
        library = logging.getLogger(name)
        library.setLevel(max(library.getEffectiveLevel(), logging.WARNING))


class TelegramFrontEnd:
    """Owns the ptb Application. ``webhook`` serves POST /telegram/webhook in webhook mode."""

    def __init__(
        self,
        *,
        router: Router,
        store: Store,
        settings: TelegramSettings,
        on_username: Callable[[str], None] | None = None,
        after_update: Callable[[], None] | None = None,
        health: Health | None = None,
        admission: Admission | None = None,
        limiter: SlidingWindowLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.webhook_url and not settings.webhook_secret:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET: unsigned updates are refused"
            )
        self.router = router
        self.store = store
        self.settings = settings
        self.on_username = on_username
        self.after_update = after_update
        self.health = health or Health()
        self.admission = admission or Admission()
        # The dispatcher's (bot.app shares it): a group's direct answers count in its minute.
        self.limiter = limiter or SlidingWindowLimiter()
        self.clock = clock
        quiet_libraries()
        builder = Application.builder().token(settings.token).base_url(settings.api_url)
        # Our scheduler is the one scheduler. ptb's Updater is not used: it confirms an update
        # (by the next getUpdates) before it is handled, and polls on every replica.
        built = builder.job_queue(None).updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = built.build()
        self.sender = TelegramSender(self.application.bot)
        self.username: str | None = None
        self.inbox = UpdateInbox(store, platform=PLATFORM, handle=self._handle_stored)
        self.poller: TelegramPoller | None = None
        if not settings.webhook_url:
            self.poller = TelegramPoller(
                bot=self.application.bot,
                lease=LeaderLease(store, LEASE_NAME, ttl=settings.lease_seconds),
                health=self.health,
                store_batch=self._store_batch,
                timeout=settings.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
            )
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._stopping = False
        # Webhook updates being handled (or waiting for a worker), and one lock per chat so a
        # person's messages are answered in the order they were sent.
        self._handling: set[asyncio.Task[None]] = set()
        self._chats: dict[str, _ChatTurn] = {}

    async def start(self) -> None:
        """getMe, the command list, the updates a previous run left unfinished, then polling or
        the webhook; never ``run_polling`` (it would own the event loop)."""
        app = self.application
        await app.initialize()
        self.username = app.bot.username
        if self.on_username is not None and self.username:
            self.on_username(self.username)
        await app.bot.set_my_commands(list(COMMANDS))
        await app.bot.set_my_commands(list(GROUP_COMMANDS), scope=BotCommandScopeAllGroupChats())
        await app.start()
        # Before anything new: what was stored but not handled when the last run stopped.
        recovered = await self.inbox.drain(due_only=False)
        if recovered:
            _LOGGER.info("telegram: handled %s update(s) left from the last run", recovered)
        self._worker = asyncio.create_task(self._work(), name="telegram-inbox")
        if self.settings.webhook_url:
            await app.bot.set_webhook(
                url=self.settings.webhook_url,
                secret_token=self.settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        elif self.poller is not None:
            self.poller.start()
        _LOGGER.info("telegram: started (%s)", "webhook" if self.settings.webhook_url else "long polling")

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
        if self._handling:
            # Updates accepted but not yet answered: a little time to finish. One cut off stays
            # claimed in the inbox and is handled again once its claim has lapsed.
            _, late = await asyncio.wait(set(self._handling), timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.inbox.close()
        if self._worker is not None:
            # Let the update in hand finish (cut off, it would wait out its inbox claim).
            self._stopping = True
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._worker, timeout=STOP_GRACE_SECONDS)
            self._worker = None
        app = self.application
        if app.running:
            await app.stop()
        await app.shutdown()

    async def _store_batch(self, updates: Sequence[Update]) -> None:
        """Polled updates into the inbox (the poller confirms them only after this returns);
        the kinds support does not use are confirmed without being kept."""
        for update in updates:
            try:
                delivery = intake.delivery_of(update, bot_username=self.username)
            except intake.MalformedUpdate as exc:
                _LOGGER.warning("telegram update %s skipped: malformed (%s)", update.update_id, exc)
                continue
            if delivery is not None and await self._kept(delivery.incoming):
                await self.inbox.receive(delivery.event_id, update.to_dict(), dedupe_key=delivery.dedupe_key)
        self._wake.set()

    async def _kept(self, incoming: Incoming) -> bool:
        """Whether an update goes into the inbox. In a group only what a linked group says to
        the bot, and codes that link one, are kept; the rest is answered here (an unlinked
        group is told once how to link it) or only changes the group's link."""
        if not incoming.group:
            return True
        chat = str(incoming.chat_id)
        actor = f"{PLATFORM}:group:{chat}"
        if incoming.event == translate.LEFT:
            await groups.bot_removed(self.store, PLATFORM, chat, actor=actor)
            return False
        if incoming.event == translate.MOVED:
            if incoming.moved_to is not None:
                await groups.group_moved(self.store, PLATFORM, chat, str(incoming.moved_to), actor=actor)
            return False
        if incoming.event is None:
            if groups.link_code(incoming.text) is not None:
                return True
            if await groups.linked_group(self.store, PLATFORM, chat) is not None:
                return True
        hint = await groups.hint_once(self.store, PLATFORM, chat, actor=actor)
        if hint is not None:
            await self._answer(incoming, hint)
        return False

    async def _work(self) -> None:
        """Handle what the poller stored, and retry what failed, until stopped."""
        while not self._stopping:
            try:
                await self.inbox.drain()
            except Exception as exc:
                _LOGGER.error("telegram inbox: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.recover_seconds)
            self._wake.clear()

    async def webhook(self, request: Request) -> Response:
        """POST /telegram/webhook: only requests carrying the secret Telegram was given."""
        secret = self.settings.webhook_secret or ""
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            _LOGGER.warning("refused a Telegram webhook request: missing or wrong secret")
            return Response(status_code=403)
        try:
            data = intake.read_json(await request.body())
            update = intake.parse_update(data)
            delivery = intake.delivery_of(update, bot_username=self.username)
        except (ValueError, RecursionError) as exc:
            # Not JSON (bad UTF-8 too), nested past the parser's depth, or no update of Telegram's.
            _LOGGER.warning("refused a malformed Telegram webhook body (%s)", type(exc).__name__)
            return Response(status_code=400)
        if delivery is None:
            return Response(status_code=200)  # a kind support does not use: nothing to keep
        try:
            kept = await self._kept(delivery.incoming)
        except Exception as exc:
            # Not decided: no 200, so Telegram sends it again.
            _LOGGER.error("telegram group update %s not handled: %s", delivery.event_id, type(exc).__name__)
            return Response(status_code=503)
        if not kept:
            return Response(status_code=200)
        if not self.admission.admit():
            # More waiting than the bot answers in good time: not stored, so Telegram sends it
            # again later, rather than a queue that grows until nothing is answered in time.
            return Response(status_code=503, headers={"Retry-After": str(self.admission.retry_after)})
        event_id = delivery.event_id
        try:
            new = await self.inbox.receive(event_id, data, dedupe_key=delivery.dedupe_key, claim=True)
        except Exception as exc:
            # Not stored: no 200, so Telegram sends it again.
            _LOGGER.error("telegram update %s not stored: %s", event_id, type(exc).__name__)
            return Response(status_code=503)
        if new:
            # Stored and claimed: answered after the 200, by a worker; a failure stays in the
            # inbox for the worker's retry.
            chat = str(delivery.incoming.chat_id)
            task = asyncio.create_task(self._handle_claimed(event_id, data, chat, update))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
        else:
            _LOGGER.info("telegram update %s delivered again; already in the inbox", event_id)
        return Response(status_code=200)

    async def _handle_claimed(
        self, event_id: str, data: Mapping[str, Any], chat: str, update: Update
    ) -> None:
        """A chat's updates one after the other, in arrival order; other chats' beside them (the
        update as the webhook parsed it: not parsed again from what was stored)."""

        async def parsed(_: Mapping[str, Any]) -> None:
            await self.handle_update(update)

        turn = self._chats.get(chat)
        if turn is None:
            turn = self._chats[chat] = _ChatTurn()
        turn.users += 1
        try:
            async with self.admission.held(), turn.lock, self.admission.slot():
                await self.inbox.handle_claimed(event_id, data, handle=parsed)
        except Exception as exc:  # handle_claimed logs handler failures; this is the store's
            _LOGGER.error("telegram update %s not finished: %s", event_id, type(exc).__name__)
        finally:
            turn.users -= 1
            if not turn.users:
                del self._chats[chat]

    async def idle(self) -> None:
        """Until every webhook update accepted so far has been handled (tests, shutdown)."""
        while self._handling:
            await asyncio.gather(*self._handling, return_exceptions=True)

    async def _handle_stored(self, payload: Mapping[str, Any]) -> None:
        update = Update.de_json(dict(payload), self.application.bot)
        await self.handle_update(update)

    async def handle_update(self, update: Update) -> None:
        """Answer one update. It raises when handling failed, so the inbox keeps the update
        for a retry (a failure is logged without text by the inbox)."""
        incoming = translate.from_update(update, bot_username=self.username)
        if incoming is None:
            return
        reply = await (self._group_reply(incoming) if incoming.group else self._reply(incoming))
        if reply is None:
            return
        await self._answer(incoming, reply)
        if self.after_update is not None:
            self.after_update()

    async def _reply(self, incoming: Incoming) -> Reply:
        try:
            actor = await customer_actor(
                self.store, platform=PLATFORM, user_id=incoming.user_id, display_name=incoming.display_name
            )
        except PermissionError:
            return error_reply(STAFF_ACCOUNT)
        return await self.router.handle(incoming.message(actor))

    async def _group_reply(self, incoming: Incoming) -> Reply | None:
        """A linked group's message for the bot, or a code to link one, as its sender said it:
        a contact of the group's company (created on their first message there)."""
        if incoming.event is not None or incoming.said_message_id is None:
            return None
        try:
            said = await groups.group_message(
                self.store,
                platform=PLATFORM,
                chat_id=str(incoming.chat_id),
                message_id=str(incoming.said_message_id),
                user_id=incoming.user_id,
                display_name=incoming.display_name,
                text=incoming.text,
            )
        except PermissionError:
            return error_reply(STAFF_ACCOUNT)
        if said is None or isinstance(said, Reply):
            return said
        actor, group = said
        return await self.router.handle(incoming.message(actor, group=group))

    async def _answer(self, incoming: Incoming, reply: Reply) -> None:
        bot = self.application.bot
        if incoming.callback_id is not None:
            notice = toast(reply) if reply.toast else None
            try:
                # Stops the button's spinner; a refused press's notice shows over the chat.
                await bot.answer_callback_query(incoming.callback_id, text=notice)
            except TelegramError as exc:
                _LOGGER.warning("answerCallbackQuery failed: %s", type(exc).__name__)
            if reply.toast:
                return  # nothing posted, the pressed message left as it was
        try:
            if reply.replace_original and incoming.message_id is not None:
                first, *rest = render(reply)
                await bot.edit_message_text(
                    text=first.text,
                    chat_id=incoming.chat_id,
                    message_id=incoming.message_id,
                    parse_mode=ParseMode.HTML,
                    reply_markup=first.reply_markup,
                )
                for piece in rest:
                    await bot.send_message(
                        chat_id=incoming.chat_id,
                        text=piece.text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=piece.reply_markup,
                    )
                return
            if incoming.group and not self._group_room(incoming.chat_id):
                await self._defer(incoming, reply, "the group's 20 a minute")
                return
            await send_reply(bot, incoming.chat_id, reply, reply_to=incoming.said_message_id)
        except TelegramError as exc:
            await self._defer(incoming, reply, type(exc).__name__)

    def _group_room(self, chat_id: int) -> bool:
        """Whether an answer may go to this group now within its 20 a minute (the per-chat
        second is the outbox's pacing; a direct answer is one per message said)."""
        windows = [(key, w) for key, w in platform_limits(PLATFORM, str(chat_id)) if key.endswith(":minute")]
        now = self.clock()
        if self.limiter.wait(windows, now) > 0:
            return False
        self.limiter.record(windows, now)
        return True

    async def _defer(self, incoming: Incoming, reply: Reply, why: str) -> None:
        """A direct answer that cannot go now (a 429, a network error, a group's full minute)
        goes through the outbox, which sends it when it may; its key makes a second try of this
        update a no-op."""
        _LOGGER.warning("telegram answer to update %s deferred: %s", incoming.update_id, why)
        async with self.store.write(f"{PLATFORM}:answers") as tx:
            await tx.outbox.enqueue(
                platform=PLATFORM,
                target=str(incoming.chat_id),
                payload=reply_to_dict(reply),
                key=f"telegram:answer:{incoming.update_id}",
                thread=str(incoming.said_message_id) if incoming.said_message_id is not None else None,
                priority=CONVERSATION,  # the answer to their own message: never held back
            )
