"""Customer-level authorization: which customers the acting person may read or change.

``CRM_CUSTOMER_ACCESS`` picks the rule for staff:
- ``team`` (default): every rep, manager and admin works the whole book.
- ``owner``: reps and managers reach the customers they own and those nobody owns yet (the
  shared lead pool); admins reach everyone.
Customers reach only their own record, whatever the setting.

Every way a handler gets hold of a customer ends here, whatever the id came from (a typed
``#12``, a button ``crm:<verb>:<id>``, a pick-list token, a Slack modal, all of which the
router turns into the same command text): ``check``/``customer`` for a customer named by id,
``ticket`` and ``reminder`` for the customer behind those ids, and a ``Scope`` that fuzzy search
and lists apply so that others' customers are never shown. A refusal is a ``Forbidden`` naming
the customer; the router answers it and writes the "denied" audit entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from crm_store.records import CustomerRecord, ReminderRecord, TicketRecord
from handlers.errors import Forbidden, NotFound
from handlers.messages import Actor

if TYPE_CHECKING:
    from handlers.context import Context

AccessMode = Literal["team", "owner"]
ACCESS_MODES: tuple[AccessMode, ...] = ("team", "owner")
# No rep has this id: a staff actor without a rep record sees only the unowned pool.
_NO_REP = 0


@dataclass(frozen=True, slots=True)
class Scope:
    """The customers one actor may act on."""

    kind: Literal["all", "owner", "self"]
    rep_id: int = _NO_REP  # kind "owner": this rep's customers and unowned ones
    customer_id: int | None = None  # kind "self": a customer's own record only

    @property
    def everyone(self) -> bool:
        return self.kind == "all"

    @property
    def owner_filter(self) -> int | None:
        """For store queries over staff lists: the rep whose customers (plus unowned ones) a
        list may show, or None for the whole book."""
        return self.rep_id if self.kind == "owner" else None

    def allows(self, customer_id: int, owner_rep_id: int | None) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "self":
            return self.customer_id is not None and customer_id == self.customer_id
        return owner_rep_id is None or owner_rep_id == self.rep_id


def scope_of(actor: Actor, mode: str) -> Scope:
    if not actor.is_staff:
        return Scope("self", customer_id=actor.customer_id)
    return staff_scope(actor.role, actor.rep_id, mode)


def staff_scope(role: str, rep_id: int | None, mode: str) -> Scope:
    """A team member's scope by role alone (also for pushes, which have no Actor)."""
    if mode == "owner" and role != "admin":
        return Scope("owner", rep_id=rep_id if rep_id is not None else _NO_REP)
    return Scope("all")


def refusal(customer_id: int) -> Forbidden:
    # The id only: the refusal must not tell the asker anything about the customer.
    return Forbidden(
        f"Customer #{customer_id} belongs to someone else's book; ask its owner or an admin.",
        customer_id=customer_id,
    )


def check(ctx: Context, customer: CustomerRecord) -> CustomerRecord:
    """``customer`` itself if the actor may act on it; else Forbidden."""
    if not ctx.scope.allows(customer.id, customer.owner_rep_id):
        raise refusal(customer.id)
    return customer


async def customer(ctx: Context, customer_id: int) -> CustomerRecord:
    """The live customer ``customer_id`` if the actor may act on it."""
    async with ctx.store.read() as tx:
        found = await tx.customers.get(customer_id)
    if found is None:
        raise NotFound(f"There is no customer #{customer_id}.")
    return check(ctx, found)


async def check_id(ctx: Context, customer_id: int) -> None:
    """Forbidden unless the actor may act on customer ``customer_id`` (a removed customer
    counts with the owner it had)."""
    if ctx.scope.everyone:
        return
    async with ctx.store.read() as tx:
        found = (await tx.customers.get_many([customer_id])).get(customer_id)
    if not ctx.scope.allows(customer_id, found.owner_rep_id if found else None):
        raise refusal(customer_id)


async def visible(ctx: Context, customer_ids: Iterable[int | None]) -> set[int]:
    """Which of ``customer_ids`` the actor may see (for lists that mention customers)."""
    ids = sorted({i for i in customer_ids if i is not None})
    if ctx.scope.everyone or not ids:
        return set(ids)
    async with ctx.store.read() as tx:
        found = await tx.customers.get_many(ids)
    return {i for i in ids if ctx.scope.allows(i, found[i].owner_rep_id if i in found else None)}


async def ticket(ctx: Context, ticket_id: int) -> TicketRecord:
    """Ticket ``ticket_id`` if the actor may act on its customer."""
    async with ctx.store.read() as tx:
        found = await tx.tickets.get(ticket_id)
    if found is None:
        raise NotFound(f"There is no ticket #{ticket_id}. `tickets` lists the open ones.")
    await check_id(ctx, found.customer_id)
    return found


async def reminder(ctx: Context, reminder_id: int) -> ReminderRecord:
    """The actor's own reminder, or (for managers) anyone's whose customer they may act on.
    A reminder of someone else reads as missing: ids must not reveal what others track."""
    async with ctx.store.read() as tx:
        found = await tx.reminders.get(reminder_id)
    own = found is not None and found.rep_id == ctx.actor.rep_id
    if found is None or not (own or ctx.actor.is_manager):
        raise NotFound(f"You have no reminder #{reminder_id}. `reminders` lists yours.")
    if not own and found.customer_id is not None:
        await check_id(ctx, found.customer_id)
    return found
