"""Team administration: the role command."""

from __future__ import annotations

from crm_store.people import ROLES
from handlers.context import Context
from handlers.errors import Forbidden, UserError
from handlers.messages import Reply
from handlers.registry import Area, Command
from handlers.teammates import teammate

ROLE_USAGE = "role @user rep|manager|admin"


async def role(ctx: Context) -> Reply:
    parts = ctx.args.split()
    if len(parts) < 2:
        raise UserError("Name the person and the role.", usage=ROLE_USAGE)
    who, new_role = " ".join(parts[:-1]), parts[-1].lower()
    if new_role not in ROLES:
        raise UserError(f"{parts[-1]!r} is not a role: use rep, manager or admin.", usage=ROLE_USAGE)
    target = await teammate(ctx, who, usage=ROLE_USAGE)
    if target.id == ctx.actor.rep_id:
        raise Forbidden("You can't change your own role; ask another manager or admin.")
    if (new_role == "admin" or target.role == "admin") and ctx.actor.role != "admin":
        raise Forbidden("Only an admin can grant or take away the admin role.")
    if target.role == new_role:
        return Reply(text=f"{target.display_name} is already {new_role}.")
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.people.set_role(target.id, new_role)
    return Reply(text=f"{target.display_name} is now {new_role} (was {target.role}).")


COMMANDS = (
    Command(
        "role",
        role,
        ROLE_USAGE,
        "Make a team member a rep, manager or admin.",
        "role @dana manager",
        audience="manager",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
