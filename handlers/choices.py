"""One-time choices: ``crm:run:<token>`` buttons that run a stored command for the person offered it."""

from __future__ import annotations

from crm_store.store import Tx
from handlers import actions
from handlers.context import Context
from handlers.errors import UserError
from handlers.messages import Button
from handlers.parsing import one_line
from handlers.registry import Area, ButtonVerb, Rerun

RUN_VERB = "run"
LABEL_CHARS = 60
EXPIRED = "That choice has expired or was already used; please run the command again."


async def offer(tx: Tx, *, actor_key: str, command: str, label: str, shown: str = "") -> Button:
    """A button that runs ``command`` once, for ``actor_key`` only; it shows ``shown`` (a
    customer's name where the command has its ``#id``), else the command itself."""
    token = await tx.pending.add(actor_key=actor_key, command=command, label=label)
    return Button(one_line(shown or command, LABEL_CHARS), actions.encode(RUN_VERB, token))


async def take(ctx: Context) -> Rerun:
    """The press: the token is used up, and its command runs as if typed. An unknown, expired or
    someone else's token is refused from a read: a forged press writes nothing, not even the
    claim of the message it came in (Store.handling)."""
    async with ctx.store.read() as tx:
        usable = await tx.pending.usable(ctx.args, actor_key=ctx.actor.key)
    pending = None
    if usable is not None:
        async with ctx.store.write(ctx.actor.key) as tx:
            pending = await tx.pending.take(ctx.args, actor_key=ctx.actor.key)
    if pending is None:
        raise UserError(EXPIRED)
    return Rerun(pending.command)


AREA = Area(buttons=(ButtonVerb(RUN_VERB, "anyone", press=take),))
