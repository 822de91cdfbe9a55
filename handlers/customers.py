"""Customer commands: find, show, add (with duplicate warning) and update."""

from __future__ import annotations

from dataclasses import replace

from crm_store.records import CustomerRecord, CustomerSummary
from handlers import actions, names, relations
from handlers.common import acting_rep, ago, describe, pick_customer
from handlers.context import Context
from handlers.errors import NotFound, UsageError, UserError
from handlers.fields import FieldChanges, check_name, parse_fields
from handlers.forecast import card_forecast
from handlers.lookup import LOADING_NOTE
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import format_money, one_line, split_key_values, take_flag
from handlers.recommend import card_line
from handlers.registry import Area, ButtonVerb, Command, Misfit
from handlers.segment_filter import parse_segment_filter
from handlers.segments import find_in_segment, segment_field
from handlers.teammates import teammate

FIND_USAGE = "find <name, company, email or phone> [segment:<name>]"
SHOW_USAGE = "show <customer>"
ADD_USAGE = "add <name> [email=… phone=… company=… owner=me status=lead tags=a,b <custom>=…]"
UPDATE_USAGE = "update <customer> key=value [key=value …]"
# Near-identical names: a new customer scoring this against an existing one is a likely duplicate.
DUPLICATE_NAME_SCORE = 92.0


def card(ctx: Context, summary: CustomerSummary) -> Reply:
    c = summary.customer
    fields = [
        Field("Company", c.company or "—"),
        Field("Email", c.email or "—"),
        Field("Phone", c.phone or "—"),
        Field("Owner", summary.owner_name or "unassigned"),
        Field("Status", c.status),
    ]
    if c.tags:
        fields.append(Field("Tags", ", ".join(c.tags)))
    fields.extend(
        Field(key.replace("_", " ").capitalize(), str(value)) for key, value in sorted(c.custom.items())
    )
    context = " · ".join(
        [
            f"Last contact {ago(ctx, summary.last_contact_at)}",
            f"{summary.order_count} order{'s' if summary.order_count != 1 else ''}"
            f" ({format_money(summary.revenue_cents)})",
            f"{summary.open_tickets} open ticket{'s' if summary.open_tickets != 1 else ''}",
            f"{summary.pending_reminders} reminder{'s' if summary.pending_reminders != 1 else ''}",
        ]
    )
    return Reply(
        title=f"{c.name} (#{c.id})",
        text=f"Customer {describe(c)}",
        fields=tuple(fields),
        context=context,
        buttons=(
            Button("Log call", actions.encode("log", c.id)),
            Button("Remind me", actions.encode("remind", c.id)),
            Button("Open ticket", actions.encode("open-ticket", c.id)),
            Button("Show timeline", actions.encode("timeline", c.id)),
        ),
    )


async def show_card(ctx: Context, customer_id: int, *, note: str = "") -> Reply:
    async with ctx.store.read() as tx:
        summary = await tx.customers.summary(customer_id)
        in_segment = segment_field(await tx.segments.of_customer(customer_id))
        outlook = await card_forecast(tx, customer_id)
        related = await tx.relationships.for_customer(customer_id) if summary is not None else []
    if summary is None:
        raise NotFound(f"There is no customer #{customer_id}.")
    reply = card(ctx, summary)
    reply = replace(reply, fields=(*reply.fields, in_segment)) if in_segment else reply
    if related:
        reply = replace(reply, fields=(*reply.fields, *relations.card_fields(ctx, customer_id, related)))
    if (offer := await card_line(ctx, customer_id)) is not None:
        reply = replace(reply, fields=(*reply.fields, offer))
    reply = reply if outlook is None else replace(reply, context=f"{reply.context}\n{outlook}")
    if note:
        return Reply(
            title=reply.title,
            text=note,
            fields=reply.fields,
            context=reply.context,
            buttons=reply.buttons,
        )
    return reply


async def find(ctx: Context) -> Reply:
    """The card when one customer clearly matches (others listed under it); else the list."""
    query = ctx.args.strip()
    if (wanted := parse_segment_filter(query)) is not None:
        return await find_in_segment(ctx, wanted)
    lookup = ctx.services.lookup
    candidates = await lookup.search(query, limit=10, min_score=55, scope=ctx.scope)
    # While the index loads, a typo'd name is not found yet: say so rather than "no such customer".
    loading = "" if lookup.complete else LOADING_NOTE
    if not candidates:
        raise NotFound(f"No customer matches {query!r}. Add one with `add {query}`. {loading}".rstrip())
    items = tuple(
        ListItem(
            text=describe(c.customer),
            detail=" · ".join(x for x in (c.customer.email, c.customer.phone, c.customer.status) if x),
            buttons=(Button("Show", actions.encode("show", c.customer.id)),),
        )
        for c in candidates
    )
    best = ctx.services.lookup.clear_choice(candidates)
    if best is not None:
        reply = await show_card(ctx, best.id, note=f"Best match for {query!r}.")
        others = tuple(item for item, c in zip(items, candidates, strict=True) if c.customer.id != best.id)
        return replace(reply, items=others[:4])
    noun = "customer" if len(items) == 1 else "customers"
    title = f"Customers matching {query!r}"
    return Reply(title=title, text=f"{len(items)} {noun} found.", items=items, context=loading)


async def show(ctx: Context) -> Reply:
    found = await pick_customer(ctx, ctx.args, rerun=lambda ref: f"show {ref}", usage=SHOW_USAGE)
    if isinstance(found, Reply):
        return found
    return await show_card(ctx, found.id)


async def _owner_id(ctx: Context, owner: str | None) -> tuple[bool, int | None]:
    """(given, rep id) for ``owner=me|none|<name>``."""
    if owner is None:
        return False, None
    if owner.lower() in ("", "none", "nobody"):
        return True, None
    if owner.lower() == "me":
        return True, (await acting_rep(ctx)).id
    return True, (await teammate(ctx, owner, usage="owner=me|none|<team member>")).id


def _mention(ctx: Context, customer: CustomerRecord) -> str:
    """``describe`` for a customer the actor may see; only the id for one they may not."""
    if ctx.scope.allows(customer.id, customer.owner_rep_id):
        return describe(customer)
    return f"customer #{customer.id} (not in your book)"


async def look_alikes(ctx: Context, name: str, changes: FieldChanges) -> list[tuple[CustomerRecord, str]]:
    """Likely duplicates: the same email or phone anywhere in the book (a customer the actor
    may not see is named by id only), or a near-identical name among those they may see."""
    email = changes.builtin.get("email", "")
    phone = changes.builtin.get("phone", "")
    found: dict[int, tuple[CustomerRecord, str]] = {}
    async with ctx.store.read() as tx:
        for customer in await tx.customers.by_contact(email=email, phone=phone):
            reason = "same email" if email and customer.email == email else "same phone"
            found[customer.id] = (customer, reason)
    for candidate in await ctx.services.lookup.search(
        name, limit=3, min_score=DUPLICATE_NAME_SCORE, scope=ctx.scope
    ):
        found.setdefault(candidate.customer.id, (candidate.customer, "nearly the same name"))
    return list(found.values())


def add_grammar(args: str) -> Misfit | None:
    """A name that reads as a sentence ("a note to acme: …", "a new lead: Jane Doe, jane@…") is
    not added without asking; a quoted name, or ``--force``, is taken as written."""
    args, force = take_flag(args, "--force")
    head, _ = split_key_values(args)
    sign = None if force or names.quoted(head) is not None else names.sentence_sign(head)
    if sign is None:
        return None
    rest = args.strip()[len(head) :].strip()
    return Misfit(
        f"{one_line(head, 60)!r} reads like a sentence rather than a name ({sign}), so nobody was added",
        as_written=f'add "{head}" {rest}'.strip(),
    )


async def add(ctx: Context) -> Reply:
    args, force = take_flag(ctx.args, "--force")
    head, pairs = split_key_values(args)
    literal = names.quoted(head)
    name = check_name(head if literal is None else literal)
    changes = parse_fields(pairs, allow_name=False)
    await _owner_id(ctx, changes.owner)  # an unknown owner is refused before any duplicate question
    if not force:
        alikes = await look_alikes(ctx, name, changes)
        if alikes:
            async with ctx.store.write(ctx.actor.key) as tx:
                token = await tx.pending.add(
                    actor_key=ctx.actor.key, command=f"add {args} --force", label=name
                )
            lines = "; ".join(f"{_mention(ctx, c)}: {why}" for c, why in alikes)
            buttons = [Button("Create anyway", actions.encode("run", token), "primary")]
            seen = [c for c, _ in alikes if ctx.scope.allows(c.id, c.owner_rep_id)]
            buttons.extend(Button(f"Show #{c.id}", actions.encode("show", c.id)) for c in seen[:3])
            return Reply(
                title="Possible duplicate",
                text=f"{name} looks like an existing customer — {lines}. Create a new one anyway?",
                buttons=tuple(buttons),
            )
    customer = await new_customer(ctx, name, changes)
    return await show_card(ctx, customer.id, note=f"Added {describe(customer)}.")


async def new_customer(
    ctx: Context, name: str, changes: FieldChanges, *, external_ref: str | None = None
) -> CustomerRecord:
    """Add a checked customer (``add`` and the HTTP API): owned by the owner the changes name,
    else by the actor when a rep; look-alikes are the caller's to check first."""
    owner_given, owner_id = await _owner_id(ctx, changes.owner)
    if not owner_given:
        owner_id = ctx.actor.rep_id  # a rep owns what they add unless told otherwise
    async with ctx.store.write(ctx.actor.key) as tx:
        customer = await tx.customers.add(
            name=name,
            company=changes.builtin.get("company", ""),
            email=changes.builtin.get("email", ""),
            phone=changes.builtin.get("phone", ""),
            status=changes.builtin.get("status", "active"),
            tags=changes.builtin.get("tags", ()),
            custom={k: v for k, v in changes.custom.items() if v is not None},
            owner_rep_id=owner_id,
            source=ctx.actor.platform,
            external_ref=external_ref,
        )
    ctx.services.lookup.note(customer)
    return customer


async def update(ctx: Context) -> Reply:
    head, pairs = split_key_values(ctx.args)
    if not pairs:
        raise UsageError("Say what to change, as key=value.", usage=UPDATE_USAGE)
    changes = parse_fields(pairs)
    found = await pick_customer(
        ctx, head, rerun=lambda ref: f"update {ref} {ctx.args[len(head) :].strip()}", usage=UPDATE_USAGE
    )
    if isinstance(found, Reply):
        return found
    customer = await change_customer(ctx, found, changes)
    changed = ", ".join(
        [*changes.builtin, *changes.custom, *(["owner"] if changes.owner is not None else [])]
    )
    return await show_card(ctx, customer.id, note=f"Updated {changed} of {describe(customer)}.")


async def change_customer(ctx: Context, found: CustomerRecord, changes: FieldChanges) -> CustomerRecord:
    """Apply checked changes to a customer the actor may change (``update`` and the HTTP API);
    an email or phone that another customer has is refused."""
    builtin = dict(changes.builtin)
    owner_given, owner_id = await _owner_id(ctx, changes.owner)
    if owner_given:
        builtin["owner_rep_id"] = owner_id
    async with ctx.store.write(ctx.actor.key) as tx:
        if "email" in builtin or "phone" in builtin:
            clash = [
                c
                for c in await tx.customers.by_contact(
                    email=builtin.get("email", ""), phone=builtin.get("phone", "")
                )
                if c.id != found.id
            ]
            if clash:
                raise UserError(f"That email or phone already belongs to {_mention(ctx, clash[0])}.")
        customer = await tx.customers.update(found.id, fields=builtin, custom=changes.custom)
    ctx.services.lookup.note(customer)
    return customer


COMMANDS = (
    Command(
        "find",
        find,
        FIND_USAGE,
        "Find customers by name, company, email or phone (typos are fine).",
        "find acmee corp",
        aliases=("search",),
        needs_args=True,
    ),
    Command("show", show, SHOW_USAGE, "Show a customer's card.", "show acme", needs_args=True),
    Command(
        "add",
        add,
        ADD_USAGE,
        "Add a customer; warns about likely duplicates first.",
        "add Acme Corp email=ops@acme.example phone=+1 555 0100 tags=vip",
        needs_args=True,
        grammar=add_grammar,
    ),
    Command(
        "update",
        update,
        UPDATE_USAGE,
        "Change built-in or custom fields (empty value removes a custom one).",
        "update acme phone=+1 555 0199 industry=logistics",
        aliases=("edit",),
        needs_args=True,
    ),
)
BUTTONS = (ButtonVerb("show", "staff", command="show #{}"),)
AREA = Area(COMMANDS, BUTTONS)
