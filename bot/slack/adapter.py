"""The bolt AsyncApp: listeners ack at once, then turn Slack payloads into Messages for the router."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.admission import Admission
from bot.slack import modals, render, translate
from bot.slack.channels import SlackChannelDirectory
from bot.slack.deliveries import EventDeliveries
from bot.slack.gate import SlackGate
from bot.slack.sender import NOT_POSTABLE, SlackSender, sender_client, upload_image
from bot.slack.translate import PLATFORM, Incoming
from crm_store.store import Store
from handlers.messages import Actor, Message, Reply, Role
from handlers.notify import ticket_of_thread
from handlers.people import staff_actor
from handlers.router import BUTTONS, Router

_LOGGER = logging.getLogger(__name__)
COMMAND = "/crm"
SHORTCUT = "log_to_crm"
HOME_BLOCKS = 100
# `/crm add` (no arguments) opens a modal instead; so do buttons whose press asks for a form
# (the registry says which: handlers.registry.Prompt).
_MODAL_COMMANDS = {"add": "add", "update": "update", "edit": "update", "log": "log", "remind": "remind"}
_HOME_COMMANDS = ("reminders", "tickets mine", "at-risk")


def retry_handlers() -> list[AsyncRetryHandler]:
    """slack_sdk installs neither by default: 429s wait Retry-After, dropped connections retry."""
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
    ]


@dataclass(frozen=True, slots=True)
class SlackSettings:
    bot_token: str
    signing_secret: str | None
    app_token: str | None = None
    api_url: str = "https://slack.com/api/"
    managers: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    default_timezone: str = "UTC"


class SlackFrontEnd:
    """Owns the bolt app and its Web API client; ``http_handler`` serves POST /slack/events."""

    def __init__(
        self, *, router: Router, store: Store, settings: SlackSettings, admission: Admission | None = None
    ) -> None:
        self.router = router
        self.store = store
        self.settings = settings
        # Acks go out at once; the work after them waits for one of the admission's places.
        self.admission = admission or Admission()
        self.client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.api_url, retry_handlers=retry_handlers()
        )
        # bolt logs whole request bodies (people's messages) even at INFO, e.g. on a bad signature,
        # and slack_sdk does at DEBUG: keep both to what carries no body; our own lines say the rest.
        for name, floor in (("slack_bolt", logging.ERROR), ("slack_sdk", logging.WARNING)):
            library = logging.getLogger(name)
            library.setLevel(max(library.getEffectiveLevel(), floor))
        # Everything explicit: bolt would otherwise read SLACK_SIGNING_SECRET / SLACK_BOT_TOKEN itself.
        # The gate (bot.slack.gate) checks each HTTP request's signature before anything is parsed
        # and hands bolt the body it parsed, which bolt's own check could not verify again.
        self.bolt = AsyncApp(
            client=self.client,
            signing_secret=settings.signing_secret or "",
            request_verification_enabled=False,
            raise_error_for_unhandled_request=False,
            name="crm-bot",
        )
        # bolt gives its app logger the root's level of the moment, past the floor above (DEBUG with
        # LOG_LEVEL=DEBUG); the Socket Mode client logs every envelope, bodies and all, through it.
        self.bolt.logger.setLevel(max(self.bolt.logger.getEffectiveLevel(), logging.ERROR))
        self.http_handler = (
            SlackGate(
                self.bolt, store=store, signing_secret=settings.signing_secret, admission=self.admission
            )
            if settings.signing_secret
            else None
        )
        self.deliveries = EventDeliveries(store)
        # Outbox pushes (ticket posts in the support channel, their threads) go through this.
        self.sender = SlackSender(sender_client(token=settings.bot_token, api_url=settings.api_url))
        # Channel names in commands (`subscribe digest daily in #sales`); bot/app.py hands it on.
        self.channels = SlackChannelDirectory(self.client)
        self._socket: Any = None
        self._register()

    def _register(self) -> None:
        app = self.bolt
        app.command(COMMAND)(self._on_command)
        app.event("message")(self._on_message)
        app.event("app_mention")(self._on_mention)
        app.event("app_home_opened")(self._on_home)
        app.shortcut(SHORTCUT)(self._on_shortcut)
        app.action(re.compile(rf"^(crm:|{render.MENU_ACTION_PREFIX})"))(self._on_action)
        app.view(re.compile(rf"^{modals.CALLBACK_PREFIX}"))(self._on_view)
        app.error(self._on_error)

    async def start(self) -> None:
        """Socket Mode when an app token is set (HTTP mode needs nothing started here)."""
        if self.settings.app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            self._socket = AsyncSocketModeHandler(self.bolt, app_token=self.settings.app_token)
            await self._socket.connect_async()  # start_async would block the loop's other work
            _LOGGER.info("slack: socket mode connected")

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        if self.http_handler is not None:
            await self.http_handler.close()
        await self.deliveries.close()

    # -- listeners: each acks first; the work after the ack may take as long as it needs ------

    async def _on_command(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incoming = translate.from_command(body)
        word, _, rest = incoming.text.partition(" ")
        kind = _MODAL_COMMANDS.get(word.lower())
        if word.lower() == "campaign" and rest.strip().lower() == "new" and incoming.trigger_id:
            await self._open_modal(incoming.trigger_id, modals.campaign_view(channel_id=incoming.channel_id))
            return
        if kind and not rest.strip() and incoming.trigger_id:
            # trigger_id dies 3 s after the command: open the modal before any other work.
            await self._open_modal(incoming.trigger_id, modals.view(kind, channel_id=incoming.channel_id))
            return
        if not incoming.text:
            incoming = replace(incoming, text="help")
        await self._answer(incoming)

    async def _on_message(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        if event.get("channel_type") != "im":
            # Channel chatter is not for us, except an answer in a ticket's thread.
            await self._thread_reply(body, event, context)
            return
        incoming = translate.from_message_event(event, bot_user_id=context.bot_user_id)
        if incoming is not None:
            await self._answer_event(body, incoming)

    async def _thread_reply(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        """A rep's message in a ticket's thread in the support channel is a reply to the customer."""
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        if not isinstance(thread_ts, str) or not thread_ts or thread_ts == event.get("ts"):
            return
        incoming = translate.from_message_event(event, bot_user_id=context.bot_user_id)
        if incoming is None or not incoming.text or not isinstance(channel, str) or not channel:
            return
        async with self.store.read() as tx:
            key = await tx.outbox.thread_key_at(PLATFORM, channel, thread_ts)
        ticket_id = ticket_of_thread(key) if key else None
        if ticket_id is None:
            return

        async def reply_in_thread(ref: str | None) -> bool:
            try:
                actor = await self._actor(incoming.user_id)
                said = f"reply {ticket_id} {incoming.text}"
                reply = await self.router.handle(Message(actor=actor, text=said, ref=ref))
                # Only the rep sees the confirmation; the thread stays the conversation.
                await self.client.chat_postEphemeral(
                    channel=channel, user=incoming.user_id, thread_ts=thread_ts, **render.render(reply)[0]
                )
                return True
            except Exception as exc:
                _log_failure("thread reply", exc)
                return False

        await self._once(body, reply_in_thread)

    async def _on_mention(
        self, body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext
    ) -> None:
        incoming = translate.from_message_event(event, bot_user_id=context.bot_user_id)
        if incoming is not None:
            await self._answer_event(body, incoming)

    async def _on_home(self, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return
        try:
            actor = await self._actor(user)
            blocks: list[dict[str, Any]] = [
                {
                    "type": "header",
                    "text": {"type": "plain_text", "text": f"CRM for {actor.display_name}"[:150]},
                },
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": "Type `/crm help` anywhere, or DM me."}],
                },
            ]
            for command in _HOME_COMMANDS:
                reply = await self.router.handle(Message(actor=actor, text=command))
                if not reply.is_error:
                    blocks += [{"type": "divider"}, *render.reply_blocks(reply)]
            await self.client.views_publish(
                user_id=actor.user_id, view={"type": "home", "blocks": blocks[:HOME_BLOCKS]}
            )
        except Exception as exc:
            _log_failure("app home", exc)

    async def _on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incoming, text = translate.from_message_shortcut(body)
        if incoming.trigger_id:
            await self._open_modal(
                incoming.trigger_id, modals.view("log", text=text, channel_id=incoming.channel_id)
            )

    async def _on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        incoming = translate.from_block_action(body)
        if incoming is None or incoming.action is None:
            return
        form, value = BUTTONS.form_for(incoming.action) or ("", "")
        if form == modals.REPLY and value.isdigit() and incoming.trigger_id:
            await self._open_reply_form(incoming.trigger_id, int(value), incoming)
            return
        if form in modals.KINDS and incoming.trigger_id:
            view = modals.view(form, customer=f"#{value}", channel_id=incoming.channel_id)
            await self._open_modal(incoming.trigger_id, view)
            return
        await self._answer(incoming)

    async def _on_view(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        result = modals.submission(view, now=self.store.clock(), tz=ZoneInfo(self.settings.default_timezone))
        if result.errors or result.command is None:
            await ack(response_action="errors", errors=result.errors)
            return
        await ack()
        # A modal has no thread to answer in: the result goes to the person's DM with the bot.
        incoming = Incoming(user_id=translate.user_of(body), text=result.command)
        await self._answer(incoming)

    async def _on_error(self, error: Exception, body: dict[str, Any]) -> None:
        kind = body.get("type")  # only a plain word reaches the log line
        _log_failure(kind if isinstance(kind, str) and kind.isidentifier() else "request", error)

    # -- the work ----------------------------------------------------------------------------

    async def _answer_event(self, body: Mapping[str, Any], incoming: Incoming) -> None:
        async def answer(ref: str | None) -> bool:
            return await self._answer(replace(incoming, ref=ref))

        await self._once(body, answer)

    async def _once(self, body: Mapping[str, Any], answer: Callable[[str | None], Awaitable[bool]]) -> None:
        """Answer an event once whatever Slack's retries, Socket Mode and other replicas deliver
        (bot.slack.deliveries); its changes are claimed in the handler's first write."""
        event_id = translate.event_id(body)
        if event_id is None:
            await answer(None)
            return
        await self.deliveries.answer_once(event_id, answer)

    async def _answer(self, incoming: Incoming) -> bool:
        """Handle and answer; True once the answer reached Slack."""
        try:
            async with self.admission.held():
                async with self.admission.slot():
                    actor = await self._actor(incoming.user_id)
                    reply = await self.router.handle(incoming.message(actor))
                # Posting the answer is waiting on Slack, not work: the place goes to the next.
                await self.deliver(incoming, reply)
        except Exception as exc:
            _log_failure("answer", exc)
            return False
        return True

    async def _actor(self, user_id: str) -> Actor:
        """The rep behind a Slack user; created on first contact with name and zone from users.info."""
        role: Role | None = None
        if user_id in self.settings.admins:
            role = "admin"
        elif user_id in self.settings.managers:
            role = "manager"
        return await staff_actor(
            self.store,
            platform=PLATFORM,
            user_id=user_id,
            display_name=user_id,
            role=role,
            profile=lambda: self._profile(user_id),  # asked for a newcomer only
        )

    async def _profile(self, user_id: str) -> tuple[str, str | None]:
        try:
            response = await self.client.users_info(user=user_id)
        except SlackApiError as exc:
            _log_failure("users.info", exc)
            return "", None
        user = response.get("user")
        return translate.profile(user) if isinstance(user, dict) else ("", None)

    async def _open_modal(self, trigger_id: str, view: dict[str, Any]) -> None:
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except Exception as exc:
            _log_failure("views.open", exc)

    async def _open_reply_form(self, trigger_id: str, ticket_id: int, incoming: Incoming) -> None:
        """The Reply button's form: opened at once (trigger_id dies 3 s after the press), then
        filled with the ticket as `ticket <id>` shows it to this rep, or with that command's
        refusal (audited by the router). Submitting it runs `reply <id> <text>` (_on_view)."""
        channel = incoming.channel_id
        try:
            opened = await self.client.views_open(
                trigger_id=trigger_id, view=modals.reply_view(ticket_id, channel_id=channel)
            )
            actor = await self._actor(incoming.user_id)
            shown = await self.router.handle(Message(actor=actor, text=f"ticket {ticket_id}"))
            await self.client.views_update(
                view_id=opened["view"]["id"],
                hash=opened["view"].get("hash"),
                view=modals.reply_view(ticket_id, channel_id=channel, ticket=shown),
            )
        except Exception as exc:
            _log_failure("reply form", exc)

    async def deliver(self, incoming: Incoming, reply: Reply) -> None:
        """Answer where the person spoke: the command's response_url, the channel/thread, or a DM.
        A press's notice (a toast) is seen by the presser alone."""
        pages = render.render(reply)
        if reply.toast and not incoming.response_url:
            channel = incoming.channel_id or await self._dm_channel(incoming.user_id)
            for page in pages:
                await self.client.chat_postEphemeral(channel=channel, user=incoming.user_id, **page)
            return
        if incoming.response_url:
            webhook = AsyncWebhookClient(incoming.response_url, retry_handlers=retry_handlers())
            visibility = "ephemeral" if reply.ephemeral or reply.toast else "in_channel"
            for page in pages:
                await webhook.send_dict({**page, "response_type": visibility, "replace_original": False})
        else:
            channel = incoming.channel_id or await self._dm_channel(incoming.user_id)
            for page in pages:
                await self.client.chat_postMessage(channel=channel, thread_ts=incoming.thread_ts, **page)
        if reply.image is not None:
            await self._upload_image(incoming, reply)

    async def _upload_image(self, incoming: Incoming, reply: Reply) -> None:
        """A typed answer's chart, after its text: where the person spoke, or their DM with the
        bot when the answer was private or the bot may not post there."""
        channel = None if reply.ephemeral else incoming.channel_id
        try:
            if channel:
                try:
                    await upload_image(self.client, channel=channel, reply=reply, thread=incoming.thread_ts)
                    return
                except SlackApiError as exc:
                    if exc.response.get("error") not in NOT_POSTABLE:
                        raise
            dm = await self._dm_channel(incoming.user_id)
            await upload_image(self.client, channel=dm, reply=reply, thread=None)
        except Exception as exc:
            _log_failure("chart upload", exc)

    async def _dm_channel(self, user_id: str) -> str:
        response = await self.client.conversations_open(users=user_id)
        channel = response.get("channel") or {}
        return str(channel.get("id", user_id))


def _log_failure(where: str, exc: BaseException) -> None:
    # Type, Slack's error code and the raising line only: exception texts can quote message bodies.
    # A body that is not JSON (a proxy's 502, a 405 page) leaves the response's data a string.
    data = exc.response.data if isinstance(exc, SlackApiError) else None
    code = data.get("error") if isinstance(data, dict) else ""
    frames = traceback.extract_tb(exc.__traceback__)
    origin = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    _LOGGER.error("slack %s failed: %s %s at %s", where, type(exc).__name__, code or "", origin)
