"""The router: parses the command language, checks roles, dispatches, funnels every error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from rapidfuzz import process

from crm_store.handled import AlreadyHandled
from handlers import (
    actions,
    admin,
    csat,
    customers,
    digests,
    interactions,
    invite,
    loyalty,
    orders,
    privacy,
    reminders,
    reports,
    support,
    ticket_flow,
    tickets,
)
from handlers.context import Context, Services, zone
from handlers.errors import Forbidden, NotFound, UsageError, UserError
from handlers.help import help_command
from handlers.messages import MAX_TEXT, Button, Message, Reply, error_reply, reply_from_dict, reply_to_dict
from handlers.parsing import one_line
from handlers.registry import Command, CommandTable
from nlp.intents import interpret

_LOGGER = logging.getLogger(__name__)

STAFF_COMMANDS: CommandTable = CommandTable(
    (
        *customers.COMMANDS,
        *interactions.COMMANDS,
        *orders.COMMANDS,
        *reminders.COMMANDS,
        *tickets.COMMANDS,
        *invite.COMMANDS,
        *loyalty.COMMANDS,
        *digests.COMMANDS,
        *reports.COMMANDS,
        *admin.COMMANDS,
        *privacy.COMMANDS,
        help_command(lambda: STAFF_COMMANDS),
    )
)
CUSTOMER_COMMANDS = CommandTable(support.COMMANDS)

# Button verbs that simply re-issue a command with the button's id.
_ACTION_COMMANDS: dict[str, str] = {
    "show": "show #{}",
    "timeline": "timeline #{}",
    "done": "done {}",
    "ticket": "ticket {}",
    "assign-me": "assign {} me",
    "resolve": "resolve {}",
    "reopen": "reopen {}",
    "help": "help {}",
}
# Buttons that need more words than a press carries: text front ends show the command to
# type (Slack opens a modal for these instead).
_ACTION_PROMPTS: dict[str, tuple[str, str]] = {
    "log": ("log #{} call: ", "To log an interaction, type"),
    "remind": ("remind #{} tomorrow 10:00: ", "To set a reminder, type"),
    "open-ticket": ("open-ticket #{}: ", "To open a ticket, type"),
    "reply": ("reply {} ", "To answer the customer, type"),
}
# How sure a free-text reading must be before it runs without asking.
READ_CONFIDENCE = 0.6
WRITE_CONFIDENCE = 0.8
APOLOGY = "Sorry, something went wrong on our side and nothing was changed. Please try again."
ALREADY_DONE = "Got it — that message was already taken care of."


class Router:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._extra: dict[str, Callable[[Context], Awaitable[Reply]]] = {
            "snooze-1h": reminders.snooze_hour,
            "snooze-tomorrow": reminders.snooze_tomorrow,
            privacy.ERASE_VERB: privacy.confirm_erase,
        }
        self._customer_presses: dict[str, Callable[[Context], Awaitable[Reply]]] = {
            "csat": csat.rate,
            ticket_flow.OPEN_VERB: ticket_flow.confirm,
            ticket_flow.CANCEL_VERB: ticket_flow.cancel_press,
        }

    async def handle(self, message: Message) -> Reply:
        """Answer one message; never raises. A message with a ``ref`` (one the platform may
        deliver again after a crash) changes the store at most once: a repeat whose first run
        committed gets that run's answer back and writes nothing."""
        if message.ref is None:
            return await self._answer(message)
        store = self.services.store
        try:
            with store.handling(message.ref, message.actor.key) as run:
                reply = await self._answer(message)
        except AlreadyHandled:
            _LOGGER.info("%s: message %s was handled before; not again", message.actor.key, message.ref)
            async with store.read() as tx:
                first = await tx.handled.reply_of(message.ref)
            return reply_from_dict(first) if first is not None else Reply(text=ALREADY_DONE)
        if run.claimed:
            try:
                async with store.write(message.actor.key) as tx:
                    await tx.handled.save_reply(message.ref, reply_to_dict(reply))
            except Exception:  # the changes stand; a repeat would only get ALREADY_DONE
                _LOGGER.exception("could not keep the answer to %s", message.ref)
        return reply

    async def _answer(self, message: Message) -> Reply:
        try:
            if message.action is not None:
                return await self._press(message)
            drafted = await self._continue_flow(message)
            if drafted is not None:
                return drafted
            return await self._dispatch(message, message.text)
        except UserError as exc:
            if isinstance(exc, Forbidden):
                await self._record_denial(message, exc)
            return error_reply(str(exc))
        except AlreadyHandled:
            raise  # not a failure: handle() answers the repeat
        except Exception:  # the one funnel: log the type and where, never the text
            _LOGGER.exception("handler failed for %s", message.actor.key)
            return error_reply(APOLOGY)

    async def _continue_flow(self, message: Message) -> Reply | None:
        """A customer's words while a guided flow waits for them go to that flow, not to the
        command parser (a description starting "Help, ..." is no /help); commands still run."""
        if message.actor.is_staff or message.text.lstrip().startswith("/"):
            return None
        ctx = Context(message=message, args=message.text, services=self.services, command="ticket")
        return await ticket_flow.resume(ctx)

    async def _dispatch(self, message: Message, text: str, *, understand: bool = True) -> Reply:
        """Run ``text`` as a command; with ``understand``, free text is read for its meaning
        (readings themselves run with ``understand=False``, so nothing loops)."""
        text = text.strip()
        if len(text) > MAX_TEXT:
            raise UserError(f"That message is too long ({len(text)} characters; at most {MAX_TEXT}).")
        if not text:
            if message.attachments and not message.actor.is_staff:
                return await self._run(message, support.PLAIN_TEXT, "")
            raise UserError("Say something — `help` lists what I can do.")
        word, _, rest = text.partition(" ")
        if "\n" in word:
            word, _, more = word.partition("\n")
            rest = f"{more}\n{rest}" if rest else more
        name = word.lower().lstrip("/")
        table = STAFF_COMMANDS if message.actor.is_staff else CUSTOMER_COMMANDS
        command = table.get(name)
        if command is None:
            return await self._unknown(message, name, text, understand=understand)
        try:
            return await self._run(message, command, rest.strip())
        except UserError as exc:
            # "remind me to call acme tomorrow at 10" names a command but is not its syntax:
            # a confident reading of the same command may parse it; otherwise the precise
            # usage error stands.
            if not understand or not message.actor.is_staff or not isinstance(exc, UsageError | NotFound):
                raise
            reading = self._confident_reading(message, text, intent=command.name)
            if reading is None:
                raise
            try:
                return await self._dispatch(replace(message, text=reading), reading, understand=False)
            except Forbidden:
                raise  # a refusal is told and audited, never masked by the first error
            except UserError:
                raise exc from None

    async def _run(self, message: Message, command: Command, args: str) -> Reply:
        actor = message.actor
        try:
            if command.audience == "manager" and not actor.is_manager:
                raise Forbidden(f"`{command.name}` is for managers; ask a manager or admin.")
            if command.audience == "admin" and actor.role != "admin":
                raise Forbidden(f"`{command.name}` is for admins; ask an admin.")
            if command.audience == "customer" and actor.is_staff:
                raise Forbidden(f"`{command.name}` is a customer command.")
            if command.needs_args and not args:
                raise UsageError(f"`{command.name}` needs more.", usage=command.usage)
            ctx = Context(message=message, args=args, services=self.services, command=command.name)
            _LOGGER.debug("%s runs %s", actor.key, command.name)
            return await command.handler(ctx)
        except Forbidden as exc:
            exc.command = exc.command or command.name  # for the audit entry
            raise

    async def _unknown(self, message: Message, name: str, text: str, *, understand: bool) -> Reply:
        if not message.actor.is_staff:
            if text.startswith("/"):
                raise UserError(f"I don't know /{name}.\n{support.CUSTOMER_HELP}")
            return await self._run(message, support.PLAIN_TEXT, text)
        if understand:
            try:
                understood = await self._understand(message, text)
            except Forbidden:
                raise  # the reading named a customer the actor may not reach: say so, audit it
            except UserError:
                understood = None  # a reading that fails is no better than a suggestion
            if understood is not None:
                return understood
        guess = process.extractOne(name, STAFF_COMMANDS.names(), score_cutoff=60)
        hint = f" Did you mean `{guess[0]}`?" if guess else ""
        raise UserError(f"I don't know the command {name[:40]!r}.{hint} `help` lists them all.")

    def _confident_reading(self, message: Message, text: str, *, intent: str) -> str | None:
        """The command text of a confident reading of ``text`` as ``intent``, if there is one."""
        readings = interpret(text, now=self.services.now(), tz=zone(message.actor.timezone))
        for reading in readings[:1]:
            needed = WRITE_CONFIDENCE if reading.is_write else READ_CONFIDENCE
            same = reading.command.strip().lower() == text.strip().lower()
            if reading.intent == intent and reading.confidence >= needed and not same:
                return reading.command
        return None

    async def _understand(self, message: Message, text: str) -> Reply | None:
        """Free text -> the command it means. Confident: run it (a write needs more certainty).
        Unsure: ask back with the two likeliest readings as buttons. Nothing: None."""
        ctx_now, tz = self.services.now(), zone(message.actor.timezone)
        readings = interpret(text, now=ctx_now, tz=tz)
        readings = [r for r in readings if r.command.strip().lower() != text.strip().lower()]
        if not readings:
            return None
        top = readings[0]
        if STAFF_COMMANDS.get(top.intent) is None:
            return Reply(
                text=f"I understood that as `{top.intent}`, which this bot doesn't offer yet. "
                "`help` lists what it can do."
            )
        readings = [r for r in readings if STAFF_COMMANDS.get(r.intent) is not None]
        needed = WRITE_CONFIDENCE if top.is_write else READ_CONFIDENCE
        if top.confidence >= needed:
            _LOGGER.debug("%s free text read as %s (%.2f)", message.actor.key, top.intent, top.confidence)
            return await self._dispatch(replace(message, text=top.command), top.command, understand=False)
        buttons = []
        async with self.services.store.write(message.actor.key) as tx:
            for reading in readings[:2]:
                token = await tx.pending.add(
                    actor_key=message.actor.key, command=reading.command, label=reading.intent
                )
                buttons.append(Button(one_line(reading.command, 60), actions.encode("run", token)))
        return Reply(
            title="Did you mean…",
            text="I'm not sure what you meant. Pick one, or use a command (`help` lists them):",
            buttons=tuple(buttons),
        )

    async def _press(self, message: Message) -> Reply:
        action = actions.decode(message.action or "")
        if action is None:
            raise UserError("That button is not one of mine.")
        verb, value = action.verb, action.value
        if verb == "run":
            async with self.services.store.write(message.actor.key) as tx:
                pending = await tx.pending.take(value, actor_key=message.actor.key)
            if pending is None:
                raise UserError("That choice has expired or was already used; please run the command again.")
            return await self._dispatch(
                replace(message, action=None, value=None), pending.command, understand=False
            )
        if verb in _ACTION_COMMANDS:
            return await self._dispatch(
                replace(message, action=None), _ACTION_COMMANDS[verb].format(value), understand=False
            )
        if verb in _ACTION_PROMPTS and message.actor.is_staff:
            template, lead = _ACTION_PROMPTS[verb]
            return Reply(text=f"{lead}: {template.format(value)}…")
        if verb in self._customer_presses and not message.actor.is_staff:
            ctx = Context(message=message, args=value, services=self.services, command=verb)
            return await self._customer_presses[verb](ctx)
        if verb in self._extra and message.actor.is_staff:
            ctx = Context(message=message, args=value, services=self.services, command=verb)
            return await self._extra[verb](ctx)
        raise UserError("That button is not one of mine.")

    async def _record_denial(self, message: Message, exc: Forbidden) -> None:
        """Every refusal lands in the audit log: a customer-level one as entity "customer" with
        that customer's id, a role one as entity "command". Ids and the refusal only, never the
        message text."""
        detail: dict[str, str] = {"reason": str(exc)[:200]}
        if exc.command:
            detail["command"] = exc.command
        if message.action:
            detail["button"] = message.action[: actions.MAX_BYTES]
        entity = "command" if exc.customer_id is None else "customer"
        try:
            async with self.services.store.write(message.actor.key) as tx:
                await tx.audit.record("denied", entity, exc.customer_id, **detail)
        except Exception:
            _LOGGER.exception("could not audit a denial")
