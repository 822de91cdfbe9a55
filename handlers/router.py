"""The router: parses the command language, checks roles, dispatches, funnels every error."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace

from rapidfuzz import process

from crm_store.handled import AlreadyHandled
from handlers import (
    actions,
    admin,
    campaigns,
    catalog,
    choices,
    consent,
    csat,
    customers,
    digests,
    forecast,
    groups,
    interactions,
    invite,
    loyalty,
    orders,
    privacy,
    recommend,
    relations,
    reminders,
    reports,
    segments,
    support,
    ticket_flow,
    tickets,
    webhooks,
)
from handlers.context import Context, Services, zone
from handlers.errors import Forbidden, NotFound, UsageError, UserError
from handlers.free_text import clauses, settle
from handlers.help import area as help_area
from handlers.messages import MAX_TEXT, Actor, Message, Reply, error_reply, reply_from_dict, reply_to_dict
from handlers.quotes import as_typed, plain_quotes
from handlers.registry import Area, ButtonTable, Command, CommandTable, Misfit, PressAudience, Rerun
from nlp.intents import Interpretation, interpret

_LOGGER = logging.getLogger(__name__)

# Each area declares its commands and button verbs in its own module; a new area is one line here.
AREAS: tuple[Area, ...] = (
    customers.AREA,
    interactions.AREA,
    orders.AREA,
    catalog.AREA,
    reminders.AREA,
    tickets.AREA,
    invite.AREA,
    loyalty.AREA,
    digests.AREA,
    relations.AREA,
    reports.AREA,
    segments.AREA,
    campaigns.AREA,
    recommend.AREA,
    forecast.AREA,
    admin.AREA,
    privacy.AREA,
    groups.AREA,
    webhooks.AREA,
    help_area(lambda: STAFF_COMMANDS),
    support.AREA,
    ticket_flow.AREA,
    csat.AREA,
    consent.AREA,
    choices.AREA,
)
_ALL_COMMANDS = [command for area in AREAS for command in area.commands]
STAFF_COMMANDS: CommandTable = CommandTable(c for c in _ALL_COMMANDS if c.audience != "customer")
CUSTOMER_COMMANDS = CommandTable(c for c in _ALL_COMMANDS if c.audience == "customer")
BUTTONS = ButtonTable(button for area in AREAS for button in area.buttons)
# How sure a free-text reading must be before it runs without asking.
READ_CONFIDENCE = 0.5
WRITE_CONFIDENCE = 0.7
# Readings offered when a command's words don't fit it: less likely ones would only be noise.
MISREAD_CONFIDENCE = 0.25
# Words from which a misused command is read as a sentence that may mean another command.
SENTENCE_WORDS = 5
NOT_FOR_YOU = "This button is not for you."
NOT_MINE = "That button is not one of mine."
APOLOGY = "Sorry, something went wrong on our side and nothing was changed. Please try again."
ALREADY_DONE = "Got it — that message was already taken care of."

# Told how each message went: (platform, command, seconds). The command is the one that ran
# (the last, when a reading re-runs one), "press:<verb>" for a button, "unknown" for none.
Observer = Callable[[str, str, float], None]
_RAN: ContextVar[list[str] | None] = ContextVar("crm_ran", default=None)


def _ran(name: str) -> None:
    slot = _RAN.get()
    if slot is not None:
        slot.append(name)


class Router:
    def __init__(
        self,
        services: Services,
        *,
        on_run: Callable[[Context, UserError | None], None] | None = None,
        observe: Observer | None = None,
    ) -> None:
        self.services = services
        # Told of every command that ran (free text included, as the command it was read as) and
        # the user error it answered, if any: how bench/intents.py sees what a phrase became
        # without parsing answers.
        self.on_run = on_run
        # Told how each message went, after it ran (the /metrics counters and latency).
        self.observe = observe

    async def handle(self, message: Message) -> Reply:
        """Answer one message; never raises. A message with a ``ref`` (one the platform may
        deliver again after a crash) changes the store at most once: a repeat whose first run
        committed gets that run's answer back and writes nothing."""
        if self.observe is None:
            return await self._handle(message)
        slot: list[str] = []
        token = _RAN.set(slot)
        started = time.perf_counter()
        try:
            return await self._handle(message)
        finally:
            _RAN.reset(token)
            command = slot[-1] if slot else "unknown"
            self.observe(message.actor.platform, command, time.perf_counter() - started)

    async def _handle(self, message: Message) -> Reply:
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
            if message.group is not None:
                # A group chat's message addressed to the bot: only the group's own commands.
                ctx = Context(message=message, args=message.text, services=self.services, command="group")
                return await groups.answer(ctx)
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
        resumed = await ticket_flow.resume(ctx)
        if resumed is not None:
            _ran("ticket")
        return resumed

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
        # Read with plain quotes ("what’s" as phones type it is "what's"); handlers still get the
        # words as typed, so what they store (notes, ticket messages) keeps the person's quotes.
        name = plain_quotes(word).lower().lstrip("/")
        table = STAFF_COMMANDS if message.actor.is_staff else CUSTOMER_COMMANDS
        command = table.get(name)
        if command is None:
            return await self._unknown(message, name, text, understand=understand)
        misfit = command.grammar(rest.strip()) if command.grammar is not None else None
        if misfit is not None:
            _check_audience(message.actor, command.name, command.audience)  # refusals come first
            return await self._misread(message, text, command, misfit)
        if understand and message.actor.is_staff and _spoken(command, rest):
            # "show me the segments", "find a product called jumbo bag": a request that starts
            # with a command word, not that command's arguments.
            understood = await self._understand(message, text)
            if understood is not None:
                return understood
        try:
            return await self._run(message, command, rest.strip())
        except UserError as exc:
            # "remind me to call acme tomorrow at 10" names a command but is not its syntax:
            # a confident reading of the same command may parse it; otherwise the precise
            # usage error stands.
            if (
                not understand
                or not message.actor.is_staff
                or not isinstance(exc, UsageError | NotFound)
                or not rest.strip()  # a bare command word gets its usage, not a guess
            ):
                raise
            parts = clauses(text)
            both = await self._two_requests(message, parts) if len(parts) > 1 else None
            if both is not None:
                return both
            reading = self._confident_reading(message, text)
            # Another command's reading only for a sentence ("log an issue for soylent, wrong
            # items shipped"); a short misuse ("relate acme") keeps its precise usage answer.
            if reading is None or (reading.intent != command.name and len(text.split()) < SENTENCE_WORDS):
                raise
            try:
                return await self._settled(message, reading, text)
            except Forbidden:
                raise  # a refusal is told and audited, never masked by the first error
            except UserError:
                raise exc from None

    async def _run(self, message: Message, command: Command, args: str) -> Reply:
        actor = message.actor
        _ran(command.name)
        try:
            _check_audience(actor, command.name, command.audience)
            if command.needs_args and not args:
                raise UsageError(f"`{command.name}` needs more.", usage=command.usage)
            ctx = Context(message=message, args=args, services=self.services, command=command.name)
            _LOGGER.debug("%s runs %s", actor.key, command.name)
            try:
                reply = await command.handler(ctx)
            except UserError as exc:
                if self.on_run is not None:
                    self.on_run(ctx, exc)
                raise
            if self.on_run is not None:
                self.on_run(ctx, None)
            return reply
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

    def _readings(self, message: Message, text: str) -> list[Interpretation]:
        """What ``text`` may mean, likeliest first: read with plain quotes, each command given
        back the quotes as typed; a reading that is the text itself is no reading."""
        readings = interpret(plain_quotes(text), now=self.services.now(), tz=zone(message.actor.timezone))
        typed = [replace(r, command=as_typed(r.command, typed=text)) for r in readings]
        return [r for r in typed if r.command.strip().lower() != text.strip().lower()]

    def _confident_reading(self, message: Message, text: str) -> Interpretation | None:
        """The likeliest reading of ``text`` when it is confident enough to act on."""
        for reading in self._readings(message, text)[:1]:
            needed = WRITE_CONFIDENCE if reading.is_write else READ_CONFIDENCE
            if STAFF_COMMANDS.get(reading.intent) is not None and reading.confidence >= needed:
                return reading
        return None

    async def _understand(self, message: Message, text: str, *, whole: bool = True) -> Reply | None:
        """Free text -> the command it means. Confident, and a write's customer clear: run it (a
        write needs more certainty). Unsure: ask back with the likeliest readings as buttons.
        Two requests in one message (``whole``): the first is done as one would be, the second
        offered as a button. Nothing understood: None."""
        if whole:
            parts = clauses(text)
            if len(parts) > 1:
                both = await self._two_requests(message, parts)
                if both is not None:
                    return both
        readings = self._readings(message, text)
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
            return await self._settled(message, top, text)
        return await self._ask(message, [(r, "") for r in readings[:2]])

    async def _settled(self, message: Message, reading: Interpretation, text: str) -> Reply:
        """Run a confident reading when it may run (free_text.settle); otherwise ask about it."""
        settled = await settle(self.services, message.actor, reading, text=text)
        if settled.run is None:
            return await self._ask(message, list(settled.ask), why=settled.why)
        run = settled.run
        _LOGGER.debug("%s free text read as %s (%.2f)", message.actor.key, run.intent, run.confidence)
        return await self._dispatch(replace(message, text=run.command), run.command, understand=False)

    async def _ask(
        self, message: Message, offers: list[tuple[Interpretation, str]], *, why: str = ""
    ) -> Reply:
        """The readings as one-press buttons, each carrying its whole command; nothing runs."""
        buttons = []
        seen: set[str] = set()
        async with self.services.store.write(message.actor.key) as tx:
            for reading, shown in offers:
                if reading.command in seen:
                    continue
                seen.add(reading.command)
                buttons.append(
                    await choices.offer(
                        tx,
                        actor_key=message.actor.key,
                        command=reading.command,
                        label=reading.intent,
                        shown=shown,
                    )
                )
        lead = f"Nothing was done yet: {why}." if why else "I'm not sure what you meant."
        return Reply(
            title="Did you mean…",
            text=f"{lead} Pick one, or use a command (`help` lists them):",
            buttons=tuple(buttons),
        )

    async def _two_requests(self, message: Message, parts: list[str]) -> Reply | None:
        """ "log a call with Acme and remind me to call Globex friday": the first request is
        understood on its own (run or asked), each further one offered as a button, so no
        action lands on another request's customer. None when fewer than two parts read as
        requests."""
        found = []
        for part in parts:
            readings = [r for r in self._readings(message, part) if STAFF_COMMANDS.get(r.intent) is not None]
            if readings and readings[0].confidence >= MISREAD_CONFIDENCE:
                found.append((part, readings[0]))
        if len(found) < 2:
            return None
        first = await self._understand(message, found[0][0], whole=False)
        if first is None:
            return None
        later = [(reading, "") for _, reading in found[1:]]
        asked = await self._ask(message, later)
        return replace(
            first,
            text=f"{first.text}\n\nYou also asked for more; press to do it too:",
            buttons=(*first.buttons, *asked.buttons),
        )

    async def _misread(self, message: Message, text: str, command: Command, misfit: Misfit) -> Reply:
        """Words that don't fit ``command`` are read as free text and asked about, never run: the
        likely readings, and the command that takes the words literally, each one press away."""
        offers = [
            r
            for r in self._readings(message, text)
            if r.confidence >= MISREAD_CONFIDENCE
            and (found := STAFF_COMMANDS.get(r.intent)) is not None
            and not _misfits(found, r.command)
        ]
        async with self.services.store.write(message.actor.key) as tx:
            buttons = [
                await choices.offer(tx, actor_key=message.actor.key, command=r.command, label=r.intent)
                for r in offers[:2]
            ]
            if misfit.as_written:
                buttons.append(
                    await choices.offer(
                        tx, actor_key=message.actor.key, command=misfit.as_written, label=command.name
                    )
                )
        asked = "Pick what you meant:" if buttons else f"\nUsage: {command.usage}"
        return Reply(title="Did you mean…", text=f"{misfit.reason}. {asked}", buttons=tuple(buttons))

    async def _press(self, message: Message) -> Reply:
        """A button press. The audience check is made here, once, for every verb: a press from
        the other side (a customer pressing a team button, forged or not) or of a verb no area
        declares is answered with a notice to the presser alone and changes nothing."""
        action = actions.decode(message.action or "")
        if action is None:
            return _refusal(NOT_MINE)
        button = BUTTONS.get(action.verb)
        if button is not None:
            _ran(f"press:{button.verb}")  # declared verbs only: a forged one adds no label
        if button is None or not button.on_side_of(message.actor):
            _LOGGER.info("%s pressed a button not for them (%s)", message.actor.key, action.verb)
            return _refusal(NOT_FOR_YOU)
        _check_audience(message.actor, button.verb, button.audience)
        if button.prompt is not None:
            return button.prompt.reply(action.value)
        if button.press is None:
            pressed: Reply | Rerun = Rerun(button.command.format(action.value))
        else:
            ctx = Context(message=message, args=action.value, services=self.services, command=button.verb)
            pressed = await button.press(ctx)
        if isinstance(pressed, Reply):
            return pressed
        return await self._dispatch(
            replace(message, action=None, value=None), pressed.command, understand=False
        )

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


def _check_audience(actor: Actor, name: str, audience: PressAudience) -> None:
    """Role checks for commands and buttons alike; a refusal names the command for the audit."""
    refusal = ""
    if audience == "manager" and not actor.is_manager:
        refusal = f"`{name}` is for managers; ask a manager or admin."
    elif audience == "admin" and actor.role != "admin":
        refusal = f"`{name}` is for admins; ask an admin."
    elif audience == "customer" and actor.is_staff:
        refusal = f"`{name}` is a customer command."
    if refusal:
        exc = Forbidden(refusal)
        exc.command = name
        raise exc


# Words that start a request, never a command's arguments ("show me acme", "find a product …").
_SPOKEN_FIRST = frozenset(
    {"me", "my", "us", "our", "the", "a", "an", "all", "for", "of", "about", "any", "some", "up"}
)
# Commands that only read: a request starting with one of them is read for its meaning first.
_READS = frozenset(
    {
        "show",
        "find",
        "search",
        "timeline",
        "history",
        "tickets",
        "loyalty",
        "forecast",
        "recommend",
        "relations",
        "segment",
        "segments",
        "report",
        "product",
        "products",
    }
)


def _spoken(command: Command, rest: str) -> bool:
    """Whether the words after a reading command's name are a sentence rather than its arguments."""
    first = rest.split(maxsplit=1)[0].lower() if rest.strip() else ""
    return command.name in _READS and first in _SPOKEN_FIRST


def _misfits(command: Command, text: str) -> bool:
    """Whether a reading's command text would itself not fit its command."""
    _, _, args = text.strip().partition(" ")
    return command.grammar is not None and command.grammar(args.strip()) is not None


def _refusal(text: str) -> Reply:
    """The answer to a press that may not run: a notice for the presser only (a toast)."""
    return Reply(text=text, is_error=True, toast=True)
