"""The records every area module publishes (its commands and its button verbs) and the tables the
router builds from them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from handlers import actions
from handlers.context import Context
from handlers.messages import Actor, Reply

HandlerFn = Callable[[Context], Awaitable[Reply]]
Audience = Literal["staff", "manager", "admin", "customer"]
# A button may also be for everyone: a one-time choice is bound to the person it was offered to.
PressAudience = Literal["staff", "manager", "admin", "customer", "anyone"]


@dataclass(frozen=True, slots=True)
class Misfit:
    """Why a command's arguments do not read as its grammar, and the command that does what was
    written literally (offered as a choice beside the readings of the text; empty: none)."""

    reason: str
    as_written: str = ""


# Given a command's arguments: None when they fit its grammar, else what does not fit.
GrammarFn = Callable[[str], Misfit | None]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: HandlerFn
    usage: str
    summary: str
    example: str
    audience: Audience = "staff"
    aliases: tuple[str, ...] = ()
    needs_args: bool = False
    # Words that do not fit are read as free text and asked about, never run.
    grammar: GrammarFn | None = None


@dataclass(frozen=True, slots=True)
class Rerun:
    """What a press stands for when it is a command: the router runs it as if the presser typed it."""

    command: str


PressFn = Callable[[Context], Awaitable[Reply | Rerun]]


@dataclass(frozen=True, slots=True)
class Prompt:
    """A press that needs more words than a button carries. Text front ends show the command to
    complete (``template``, ``{}`` standing for the button's id); front ends with forms open
    form ``form`` prefilled with the id instead."""

    template: str
    lead: str
    form: str

    def reply(self, value: str) -> Reply:
        return Reply(text=f"{self.lead}: {self.template.format(value)}…")


@dataclass(frozen=True, slots=True)
class ButtonVerb:
    """The ``<verb>`` of ``crm:<verb>:<id>`` buttons: who may press them, and what a press does:
    re-issue ``command`` (``{}`` standing for the id), ask for more words (``prompt``), or run
    ``press`` with the id as its arguments. Exactly one of the three."""

    verb: str
    audience: PressAudience
    command: str = ""
    prompt: Prompt | None = None
    press: PressFn | None = None

    def __post_init__(self) -> None:
        actions.encode(self.verb)  # a verb no button id could carry is a programming error
        if (bool(self.command), self.prompt is not None, self.press is not None).count(True) != 1:
            raise ValueError(f"button verb {self.verb!r} needs exactly one of command, prompt or press")

    def on_side_of(self, actor: Actor) -> bool:
        """Whether ``actor`` is on the side (team or customers) this button was made for; roles
        within the team are checked like a command's."""
        if self.audience == "anyone":
            return True
        return actor.is_staff != (self.audience == "customer")


@dataclass(frozen=True, slots=True)
class Area:
    """What one area module offers; the router reads a list of these."""

    commands: tuple[Command, ...] = ()
    buttons: tuple[ButtonVerb, ...] = ()


class CommandTable:
    """Commands by name and alias, for one audience (staff or customers)."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self.commands: tuple[Command, ...] = tuple(commands)
        self._by_name: dict[str, Command] = {}
        for command in self.commands:
            for name in (command.name, *command.aliases):
                if name in self._by_name:
                    raise ValueError(f"command name {name!r} registered twice")
                self._by_name[name] = command

    def get(self, name: str) -> Command | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return list(self._by_name)


class ButtonTable:
    """Button verbs by name, for everyone (each verb says who may press it)."""

    def __init__(self, verbs: Iterable[ButtonVerb]) -> None:
        self.verbs: tuple[ButtonVerb, ...] = tuple(verbs)
        self._by_verb: dict[str, ButtonVerb] = {}
        for verb in self.verbs:
            if verb.verb in self._by_verb:
                raise ValueError(f"button verb {verb.verb!r} registered twice")
            self._by_verb[verb.verb] = verb

    def get(self, verb: str) -> ButtonVerb | None:
        return self._by_verb.get(verb)

    def form_for(self, action: str) -> tuple[str, str] | None:
        """(form, id) when pressing ``action`` asks for a form; None for every other press."""
        pressed = actions.decode(action)
        found = self.get(pressed.verb) if pressed is not None else None
        if pressed is None or found is None or found.prompt is None:
            return None
        return found.prompt.form, pressed.value
