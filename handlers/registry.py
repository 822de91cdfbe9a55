"""The Command record every area module publishes, and the tables the router reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from handlers.context import Context
from handlers.messages import Reply

HandlerFn = Callable[[Context], Awaitable[Reply]]
Audience = Literal["staff", "manager", "admin", "customer"]


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
