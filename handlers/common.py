"""Helpers several handler areas share: picking a customer, the acting rep, time display."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from crm_store.records import CustomerRecord, RepRecord
from handlers import access, actions
from handlers.context import Context
from handlers.errors import NotFound, UserError
from handlers.lookup import LOADING_NOTE
from handlers.messages import Button, ListItem, Reply
from nlp.when import format_local

PICK_LIST_SIZE = 5


def describe(customer: CustomerRecord) -> str:
    """``Acme Corp (#3)`` or ``Bob Li, Initech (#7)``: a name people can tell apart."""
    if customer.company and customer.company.lower() != customer.name.lower():
        return f"{customer.name}, {customer.company} (#{customer.id})"
    return f"{customer.name} (#{customer.id})"


async def pick_customer(
    ctx: Context, text: str, *, rerun: Callable[[str], str], usage: str
) -> CustomerRecord | Reply:
    """The customer ``text`` names, or a pick list whose buttons re-run the command with
    the chosen customer (``rerun('#12')`` gives that command's text). Only customers the actor
    may act on are matched or listed; ``#<id>`` of another's customer is refused (Forbidden)."""
    text = text.strip()
    if not text:
        raise UserError("Which customer?", usage=usage)
    resolution = await ctx.services.lookup.resolve(text, scope=ctx.scope)
    if resolution.customer is not None:
        return access.check(ctx, resolution.customer)
    if not resolution.candidates:
        nearest = await ctx.services.lookup.search(text, limit=3, min_score=40, scope=ctx.scope)
        hint = ""
        if nearest:
            hint = " Closest: " + "; ".join(describe(c.customer) for c in nearest) + "."
        loading = "" if ctx.services.lookup.complete else f" {LOADING_NOTE}"
        raise NotFound(f"No customer matches {text!r}.{hint} Try `find {text}` or `add {text}`.{loading}")
    listed = [candidate.customer for candidate in resolution.candidates[:PICK_LIST_SIZE]]
    async with ctx.store.write(ctx.actor.key) as tx:
        tokens = await tx.pending.add_many(
            actor_key=ctx.actor.key, actions=[(rerun(f"#{c.id}"), c.name) for c in listed]
        )
    items = [
        ListItem(
            text=describe(customer),
            detail=" · ".join(x for x in (customer.email, customer.phone) if x),
            buttons=(Button("Choose", actions.encode("run", token), "primary"),),
        )
        for customer, token in zip(listed, tokens, strict=True)
    ]
    return Reply(
        title="Which customer?",
        text=f"{text!r} matches more than one customer; pick one:",
        items=tuple(items),
    )


async def acting_rep(ctx: Context) -> RepRecord:
    """The staff member behind this message (the router guarantees one exists)."""
    if ctx.actor.rep_id is None:
        raise UserError("Only team members can do that.")
    async with ctx.store.read() as tx:
        rep = await tx.people.rep(ctx.actor.rep_id)
    if rep is None:
        raise UserError("Your team account was not found; ask an admin.")
    return rep


def local_time(ctx: Context, moment: datetime | None) -> str:
    if moment is None:
        return "never"
    return format_local(moment, ctx.tz, now=ctx.now())


def ago(ctx: Context, moment: datetime | None) -> str:
    """``3 days ago``: coarse, for context lines."""
    if moment is None:
        return "never"
    seconds = (ctx.now() - moment).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"
