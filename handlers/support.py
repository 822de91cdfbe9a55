"""Customer commands: /start, /ticket, /status, /feedback, and plain text on a ticket."""

from __future__ import annotations

from handlers import notify, ticket_flow
from handlers.common import local_time
from handlers.context import Context
from handlers.errors import NotFound, UserError
from handlers.interactions import label_text
from handlers.invite import redeem
from handlers.messages import MAX_TEXT, ListItem, Reply
from handlers.parsing import one_line, parse_id
from handlers.registry import Area, Command
from handlers.ticket_flow import customer_of

TICKET_USAGE = "/ticket [subject]"
FEEDBACK_USAGE = "/feedback <text>"
CUSTOMER_HELP = (
    "/ticket — ask us for help: I ask what it is about, the details and any photos, then you "
    "confirm (or start with the subject: /ticket My order arrived damaged)\n"
    "/cancel — stop a ticket you are writing\n"
    "/status — your tickets and where they stand\n"
    "/feedback <text> — tell us how we are doing\n"
    "/stop — no more news or offers from us (answers to your tickets still come); /subscribe "
    "brings them back. They never come at night, your time.\n"
    "Anything else you write is added to your open ticket."
)


async def start(ctx: Context) -> Reply:
    customer_id = customer_of(ctx)
    if ctx.args.strip():
        # A deep link's one-time token; anything else typed after /start links nothing.
        customer_id = await redeem(ctx, ctx.args.strip())
    async with ctx.store.read() as tx:
        customer = await tx.customers.get(customer_id)
    name = customer.name if customer else ctx.actor.display_name or "there"
    return Reply(
        title=f"Hello, {name}!",
        text=f"I'm {ctx.services.settings.bot_name}, the support desk. Here is what I can do:\n"
        + CUSTOMER_HELP,
    )


async def customer_help(ctx: Context) -> Reply:
    return Reply(title="How I can help", text=CUSTOMER_HELP)


async def open_ticket(ctx: Context) -> Reply:
    """``/ticket`` and ``/ticket <subject>`` start the guided flow; a subject with the details
    on the next lines opens at once."""
    subject_text, _, body = ctx.args.partition("\n")
    subject = ticket_flow.check_subject(subject_text)
    if not subject or not body.strip():
        return await ticket_flow.begin(ctx, subject)
    body = ticket_flow.check_text(body)
    async with ctx.store.write(ctx.actor.key) as tx:
        ticket = await ticket_flow.open_in(
            tx, ctx, subject=subject, description=body, attachments=ctx.message.attachments
        )
    return ticket_flow.opened(ticket)


async def status(ctx: Context) -> Reply:
    customer_id = customer_of(ctx)
    args = ctx.args.strip()
    if args:
        ticket_id = parse_id(args, kind="ticket", usage="/status [ticket number]")
        async with ctx.store.read() as tx:
            ticket = await tx.tickets.get_for_customer(ticket_id, customer_id)
            messages = await tx.tickets.messages(ticket_id, limit=5) if ticket else []
        if ticket is None:
            raise NotFound(f"You have no ticket #{ticket_id}. /status lists yours.")
        items = tuple(
            ListItem(
                f"{'You' if m.author_kind == 'customer' else 'Support'}: {one_line(m.text, 200)}",
                local_time(ctx, m.created_at),
            )
            for m in messages
        )
        return Reply(
            title=f"Ticket #{ticket.id}: {one_line(ticket.subject, 80)}",
            text=f"Status: {ticket.status}.",
            items=items,
        )
    async with ctx.store.read() as tx:
        tickets = await tx.tickets.find(status="all", customer_id=customer_id, limit=20)
    if not tickets:
        return Reply(text="You have no tickets. Open one with /ticket <subject>.")
    return Reply(
        title="Your tickets",
        text=f"{len(tickets)} ticket{'s' if len(tickets) != 1 else ''}:",
        items=tuple(
            ListItem(
                f"#{t.id} {one_line(t.subject, 70)}", f"{t.status} · updated {local_time(ctx, t.updated_at)}"
            )
            for t in tickets
        ),
    )


async def feedback(ctx: Context) -> Reply:
    customer_id = customer_of(ctx)
    text = ctx.args.strip()
    if not text:
        raise UserError("What would you like to tell us?", usage=FEEDBACK_USAGE)
    if len(text) > MAX_TEXT:
        raise UserError(f"That is too long (at most {MAX_TEXT} characters).")
    label, score = label_text(ctx, text)
    async with ctx.store.write(ctx.actor.key) as tx:
        feedback_id = await tx.feedback.add(
            customer_id=customer_id, text=text, sentiment_label=label, sentiment_score=score
        )
        customer = await tx.customers.get(customer_id)
        if customer is not None:
            # In the feedback's own transaction: the team hears of exactly the feedback stored.
            post = notify.feedback_post(customer, text, label, score)
            await notify.to_support_channel(
                tx, ctx.services.settings, post, key=f"feedback:{customer_id}:{feedback_id}"
            )
    return Reply(text="Thank you for your feedback — it goes straight to the team.")


async def plain_text(ctx: Context) -> Reply:
    """Text that is no command: it continues the open ticket, or we offer to open one."""
    customer_id = customer_of(ctx)
    text = ctx.args.strip()
    if len(text) > MAX_TEXT:
        raise UserError(f"That message is too long (at most {MAX_TEXT} characters).")
    async with ctx.store.read() as tx:
        ticket = await tx.tickets.latest_open_for_customer(customer_id)
    if ticket is None:
        return await ticket_flow.offer(ctx, text)
    label, score = label_text(ctx, text)
    async with ctx.store.write(ctx.actor.key) as tx:
        message_id = await tx.tickets.add_message(
            ticket.id,
            author_kind="customer",
            text=text,
            attachments=[a.as_dict() for a in ctx.message.attachments],
            sentiment_label=label,
            sentiment_score=score,
        )
        if label == "negative" and ticket.priority in ("low", "normal"):
            await tx.tickets.set_priority(ticket.id, "high")
        relay = notify.customer_said(ticket, text, ctx.message.attachments)
        await notify.to_support(
            tx, ctx.services.settings, ticket.id, relay, key=f"ticket-message:{message_id}", conversation=True
        )
    return Reply(text=f"Added to ticket #{ticket.id}.")


COMMANDS = (
    Command("start", start, "/start", "Say hello and see what I can do.", "/start", audience="customer"),
    Command("help", customer_help, "/help", "What I can do.", "/help", audience="customer"),
    Command(
        "ticket",
        open_ticket,
        TICKET_USAGE,
        "Open a support ticket, step by step.",
        "/ticket My order arrived damaged",
        audience="customer",
    ),
    Command(
        "cancel",
        ticket_flow.cancel,
        "/cancel",
        "Stop writing a ticket.",
        "/cancel",
        audience="customer",
    ),
    Command(
        "status",
        status,
        "/status [ticket number]",
        "Your tickets and their state.",
        "/status",
        audience="customer",
        aliases=("tickets",),
    ),
    Command(
        "feedback",
        feedback,
        FEEDBACK_USAGE,
        "Tell us how we are doing.",
        "/feedback Quick and friendly, thanks!",
        audience="customer",
        needs_args=True,
    ),
)

AREA = Area(COMMANDS)

# Not reachable by name: the router uses it for customer text that is no command.
PLAIN_TEXT = Command(
    "text", plain_text, "<any text>", "Add to your open ticket.", "It still doesn't work", audience="customer"
)
