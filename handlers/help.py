"""The help command: every staff command with its usage and an example; the help button."""

from __future__ import annotations

from collections.abc import Callable

from handlers.context import Context
from handlers.errors import UserError
from handlers.messages import ListItem, Reply
from handlers.registry import Area, ButtonVerb, Command, CommandTable

HELP_USAGE = "help [command]"


def staff_help_reply(table: CommandTable, topic: str, *, manager: bool, admin: bool = False) -> Reply:
    topic = topic.strip().lower().lstrip("/")
    if topic:
        command = table.get(topic)
        if command is None:
            raise UserError(f"There is no command {topic[:40]!r}; `help` lists them all.")
        aliases = f"\nAlso: {', '.join(command.aliases)}" if command.aliases else ""
        managers = {"manager": "\nManagers only.", "admin": "\nAdmins only."}.get(command.audience, "")
        return Reply(
            title=command.name,
            text=f"{command.summary}\nUsage: {command.usage}\nExample: {command.example}{aliases}{managers}",
        )
    allowed = {"staff"} | ({"manager"} if manager else set()) | ({"admin"} if admin else set())
    shown = [c for c in table.commands if c.audience in allowed]
    return Reply(
        title="Commands",
        text="Write a command, or just say what you need. `help <command>` tells more. "
        "<customer> is a name, company, email or phone (typos are fine) or #id.",
        items=tuple(ListItem(c.usage, f"{c.summary} e.g. `{c.example}`") for c in shown),
    )


def help_command(table: Callable[[], CommandTable]) -> Command:
    async def help_handler(ctx: Context) -> Reply:
        actor = ctx.actor
        return staff_help_reply(table(), ctx.args, manager=actor.is_manager, admin=actor.role == "admin")

    return Command(
        "help",
        help_handler,
        HELP_USAGE,
        "List commands, or explain one.",
        "help remind",
        aliases=("?", "commands"),
    )


def area(table: Callable[[], CommandTable]) -> Area:
    """Help over ``table``, and ``crm:help:<command>`` for anyone: a customer's press gets the
    customer help, as their ``/help`` does."""
    return Area(commands=(help_command(table),), buttons=(ButtonVerb("help", "anyone", command="help {}"),))
