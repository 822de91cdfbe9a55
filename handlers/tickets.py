"""Ticket commands for the team: tickets, ticket, assign, reply, resolve, reopen."""

from __future__ import annotations

from crm_store.records import RepRecord, TicketRecord
from handlers import access, actions, notify
from handlers.common import acting_rep, ago, describe, local_time, pick_customer
from handlers.context import Context
from handlers.errors import Conflict, InvalidField, UsageError, UserError
from handlers.interactions import label_text
from handlers.messages import MAX_TEXT, Button, Field, ListItem, Reply
from handlers.parsing import one_line, parse_id
from handlers.registry import Area, ButtonVerb, Command, Prompt
from handlers.teammates import teammate

TICKETS_USAGE = "tickets [open|mine|all|<customer>]"
TICKET_USAGE = "ticket <id>"
ASSIGN_USAGE = "assign <id> [me|@user]"
REPLY_USAGE = "reply <id> <text>"
RESOLVE_USAGE = "resolve <id> [note]"
REOPEN_USAGE = "reopen <id>"
OPEN_TICKET_USAGE = "open-ticket <customer>: <subject>"
MAX_SUBJECT = 200


def ticket_item(ctx: Context, t: TicketRecord) -> ListItem:
    who = f" · {t.assignee_name}" if t.assignee_name else " · unassigned"
    return ListItem(
        text=f"#{t.id} {one_line(t.subject, 70)} — {t.customer_name}",
        detail=f"{t.status} · {t.priority}{who} · updated {ago(ctx, t.updated_at)}",
        buttons=(Button("Open", actions.encode("ticket", t.id)),),
    )


async def _ticket(ctx: Context, text: str, usage: str) -> TicketRecord:
    """The ticket ``text`` names, if the actor may act on its customer."""
    return await access.ticket(ctx, parse_id(text, kind="ticket", usage=usage))


async def tickets(ctx: Context) -> Reply:
    which = ctx.args.strip()
    title = "Open tickets"
    visible = ctx.scope.owner_filter  # CRM_CUSTOMER_ACCESS=owner: only tickets of the actor's book
    if which.lower() in ("", "open"):
        async with ctx.store.read() as tx:
            found = await tx.tickets.find(status="open", visible_to_rep=visible)
    elif which.lower() == "mine":
        rep = await acting_rep(ctx)
        title = "Your open tickets"
        async with ctx.store.read() as tx:
            found = await tx.tickets.find(status="open", assignee_rep_id=rep.id, visible_to_rep=visible)
    elif which.lower() == "all":
        title = "All tickets"
        async with ctx.store.read() as tx:
            found = await tx.tickets.find(status="all", visible_to_rep=visible)
    else:
        customer = await pick_customer(ctx, which, rerun=lambda ref: f"tickets {ref}", usage=TICKETS_USAGE)
        if isinstance(customer, Reply):
            return customer
        title = f"Tickets of {customer.name}"
        async with ctx.store.read() as tx:
            found = await tx.tickets.find(status="all", customer_id=customer.id)
    if not found:
        return Reply(title=title, text="No tickets here.")
    return Reply(
        title=title,
        text=f"{len(found)} ticket{'s' if len(found) != 1 else ''}:",
        items=tuple(ticket_item(ctx, t) for t in found),
    )


async def ticket(ctx: Context) -> Reply:
    t = await _ticket(ctx, ctx.args, TICKET_USAGE)
    async with ctx.store.read() as tx:
        messages = await tx.tickets.messages(t.id, limit=10)
    items = tuple(
        ListItem(
            text=f"{m.author_name or m.author_kind.capitalize()}: {one_line(m.text, 200) or '(attachment)'}",
            detail=local_time(ctx, m.created_at)
            + (f" · {len(m.attachments)} attachment(s)" if m.attachments else ""),
        )
        for m in messages
    )
    buttons = [Button("Assign to me", actions.encode("assign-me", t.id))]
    if t.status == "resolved":
        buttons.append(Button("Reopen", actions.encode("reopen", t.id)))
    else:
        buttons.append(Button("Resolve", actions.encode("resolve", t.id), "primary"))
    buttons.append(Button("Show customer", actions.encode("show", t.customer_id)))
    return Reply(
        title=f"Ticket #{t.id}: {one_line(t.subject, 100)}",
        text=f"From {t.customer_name} (#{t.customer_id}) via {t.source}.",
        fields=(
            Field("Status", t.status),
            Field("Priority", t.priority),
            Field("Assignee", t.assignee_name or "unassigned"),
            Field("Opened", local_time(ctx, t.created_at)),
            Field(
                "First response", local_time(ctx, t.first_response_at) if t.first_response_at else "none yet"
            ),
        )
        + ((Field("CSAT", f"{t.csat_rating}/5"),) if t.csat_rating else ()),
        items=items,
        buttons=tuple(buttons),
    )


async def _assignee(ctx: Context, who: str) -> RepRecord:
    who = who.strip()
    if who.lower().startswith("to "):  # "assign 4 to dana"
        who = who[3:].strip()
    if who.lower() in ("", "me"):
        return await acting_rep(ctx)
    return await teammate(ctx, who, usage=ASSIGN_USAGE)


async def assign(ctx: Context) -> Reply:
    id_text, _, who = ctx.args.strip().partition(" ")
    t = await _ticket(ctx, id_text, ASSIGN_USAGE)
    rep = await _assignee(ctx, who)
    if t.assignee_rep_id == rep.id:
        return Reply(text=f"Ticket #{t.id} is already assigned to {rep.display_name}.")
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.tickets.assign(t.id, rep.id)
        note = notify.status_note(f"{rep.display_name} is now looking after your ticket #{t.id}.")
        await notify.to_ticket(tx, ctx.services.settings, t, note, key=notify.once("ticket-assigned", t.id))
    return Reply(text=f"Ticket #{t.id} ({one_line(t.subject, 60)}) is now assigned to {rep.display_name}.")


def check_reply(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidField("text", "What should the reply say?", usage=REPLY_USAGE)
    if len(text) > MAX_TEXT:
        raise InvalidField("text", f"That reply is too long ({len(text)} characters; at most {MAX_TEXT}).")
    return text


async def reply_on(ctx: Context, t: TicketRecord, text: str) -> tuple[int, int]:
    """Answer the customer on ticket ``t`` (which the caller got through ``access.ticket``): the
    message is stored and queued to the customer's chat in one transaction. `reply` and the API
    both end here. Returns the message id and how many chats it was queued to (0: none linked)."""
    text = check_reply(text)
    if t.status == "resolved":
        raise Conflict(f"Ticket #{t.id} is resolved; `reopen {t.id}` first.")
    label, score = label_text(ctx, text)
    async with ctx.store.write(ctx.actor.key) as tx:
        message_id = await tx.tickets.add_message(
            t.id,
            author_kind="rep",
            author_rep_id=ctx.actor.rep_id,
            text=text,
            sentiment_label=label,
            sentiment_score=score,
        )
        if t.assignee_rep_id is None and ctx.actor.rep_id is not None:
            await tx.tickets.assign(t.id, ctx.actor.rep_id)  # whoever answers first owns it
        queued = await notify.to_ticket(
            tx,
            ctx.services.settings,
            t,
            notify.rep_said(t, text, ctx.actor.display_name),
            key=f"ticket-message:{message_id}",
            conversation=True,
        )
    return message_id, queued


async def reply(ctx: Context) -> Reply:
    id_text, _, text = ctx.args.strip().partition(" ")
    t = await _ticket(ctx, id_text, REPLY_USAGE)
    _, queued = await reply_on(ctx, t, text)
    how = "" if queued else " (they have no chat linked, so it is on the ticket only)"
    return Reply(text=f"Replied on ticket #{t.id} to {t.customer_name}{how}.")


async def resolve_ticket(ctx: Context, t: TicketRecord, note: str = "") -> bool:
    """Resolve ``t`` with an optional closing note: the customer gets the CSAT question and the
    support thread a line, in the same transaction. `resolve` and the API both end here. False
    when it was resolved already (nothing changes)."""
    if t.status == "resolved":
        return False
    if len(note) > MAX_TEXT:
        raise InvalidField("note", f"The note is too long (at most {MAX_TEXT} characters).")
    async with ctx.store.write(ctx.actor.key) as tx:
        if note.strip():
            await tx.tickets.add_message(
                t.id, author_kind="rep", author_rep_id=ctx.actor.rep_id, text=note.strip()
            )
        await tx.tickets.resolve(t.id)
        settings = ctx.services.settings
        resolved_key = notify.once("ticket-resolved", t.id)
        # A group chat gets the resolution without rating buttons: anyone in the group could
        # press them, and a ticket has one rating, from the person it was for.
        in_group = await notify.to_group(tx, t, notify.resolved_note(t, note.strip()), key=resolved_key)
        if in_group is None:
            csat = notify.csat_request(t, note.strip())
            await notify.to_customer(tx, settings, t.customer_id, csat, key=resolved_key)
        done = notify.status_note(f"Resolved by {ctx.actor.display_name or ctx.actor.user_id}.")
        await notify.to_support(tx, settings, t.id, done, key=notify.once("ticket-resolved", t.id))
    return True


async def resolve(ctx: Context) -> Reply:
    id_text, _, note = ctx.args.strip().partition(" ")
    t = await _ticket(ctx, id_text, RESOLVE_USAGE)
    if not await resolve_ticket(ctx, t, note):
        return Reply(text=f"Ticket #{t.id} is already resolved.")
    return Reply(
        text=f"Resolved ticket #{t.id} ({one_line(t.subject, 60)}).",
        buttons=(Button("Reopen", actions.encode("reopen", t.id)),),
    )


async def reopen_ticket(ctx: Context, t: TicketRecord) -> bool:
    """Reopen a resolved ticket and tell the customer (`reopen` and the API); False when it was
    not resolved (nothing changes)."""
    if t.status != "resolved":
        return False
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.tickets.reopen(t.id)
        note = notify.status_note(f"Your ticket #{t.id} is open again; we'll answer here.")
        await notify.to_ticket(tx, ctx.services.settings, t, note, key=notify.once("ticket-reopened", t.id))
    return True


async def reopen(ctx: Context) -> Reply:
    t = await _ticket(ctx, ctx.args, REOPEN_USAGE)
    if not await reopen_ticket(ctx, t):
        return Reply(text=f"Ticket #{t.id} is not resolved; it is {t.status}.")
    return Reply(text=f"Reopened ticket #{t.id} ({one_line(t.subject, 60)}).")


async def open_ticket(ctx: Context) -> Reply:
    """A rep opens a ticket on a customer's behalf (e.g. after a phone call)."""
    who, sep, subject = ctx.args.partition(":")
    subject = " ".join(subject.split())
    if not sep or not subject:
        raise UsageError("Give the customer, a colon, and the subject.", usage=OPEN_TICKET_USAGE)
    if len(subject) > MAX_SUBJECT:
        raise UserError(f"The subject is too long (at most {MAX_SUBJECT} characters).")
    found = await pick_customer(
        ctx, who, rerun=lambda ref: f"open-ticket {ref}: {subject}", usage=OPEN_TICKET_USAGE
    )
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        t = await tx.tickets.open(customer_id=found.id, subject=subject, source=ctx.actor.platform)
        if ctx.actor.rep_id is not None:
            await tx.tickets.assign(t.id, ctx.actor.rep_id)
    return Reply(
        text=f"Opened ticket #{t.id} for {describe(found)}: {subject}",
        buttons=(Button("Open", actions.encode("ticket", t.id)),),
    )


COMMANDS = (
    Command(
        "tickets",
        tickets,
        TICKETS_USAGE,
        "List tickets: open (default), mine, all, or a customer's.",
        "tickets mine",
    ),
    Command(
        "ticket",
        ticket,
        TICKET_USAGE,
        "Show a ticket with its latest messages.",
        "ticket 12",
        needs_args=True,
    ),
    Command(
        "assign",
        assign,
        ASSIGN_USAGE,
        "Assign a ticket to yourself or a colleague.",
        "assign 12 me",
        needs_args=True,
    ),
    Command(
        "reply",
        reply,
        REPLY_USAGE,
        "Answer the customer on a ticket.",
        "reply 12 A replacement ships today.",
        needs_args=True,
    ),
    Command(
        "resolve",
        resolve,
        RESOLVE_USAGE,
        "Resolve a ticket, with an optional closing note.",
        "resolve 12 replaced the unit",
        aliases=("close",),
        needs_args=True,
    ),
    Command("reopen", reopen, REOPEN_USAGE, "Reopen a resolved ticket.", "reopen 12", needs_args=True),
    Command(
        "open-ticket",
        open_ticket,
        OPEN_TICKET_USAGE,
        "Open a ticket on a customer's behalf.",
        "open-ticket acme: invoice shows the wrong VAT",
        needs_args=True,
    ),
)
BUTTONS = (
    ButtonVerb("ticket", "staff", command="ticket {}"),
    ButtonVerb("assign-me", "staff", command="assign {} me"),
    ButtonVerb("resolve", "staff", command="resolve {}"),
    ButtonVerb("reopen", "staff", command="reopen {}"),
    ButtonVerb("reply", "staff", prompt=Prompt("reply {} ", "To answer the customer, type", form="reply")),
    ButtonVerb(
        "open-ticket", "staff", prompt=Prompt("open-ticket #{}: ", "To open a ticket, type", form="ticket")
    ),
)
AREA = Area(COMMANDS, BUTTONS)
