"""Pushes handlers decide: outbox rows to a customer's chat accounts and to the support channel,
written in the caller's transaction so the push exists exactly when the change does."""

from __future__ import annotations

import uuid
from datetime import timedelta

from crm_store.outbox import CONVERSATION, NOTICE
from crm_store.records import CustomerRecord, TicketRecord
from crm_store.store import Tx
from handlers import actions, quiet_hours
from handlers.common import describe
from handlers.context import HandlerSettings
from handlers.messages import Attachment, Button, Field, Reply, reply_to_dict
from handlers.parsing import one_line
from handlers.quiet_hours import QuietPolicy

CSAT_LABELS = ("1", "2", "3", "4", "5")
LOW_RATING = 2


def ticket_thread(ticket_id: int) -> str:
    """The conversation key of a ticket: its support-channel posts share one thread."""
    return f"ticket:{ticket_id}"


def ticket_of_thread(thread_key: str) -> int | None:
    kind, _, value = thread_key.partition(":")
    return int(value) if kind == "ticket" and value.isdigit() else None


def once(kind: str, ref: object) -> str:
    """An idempotency key for a one-off decision (a resolve can happen again after a reopen)."""
    return f"{kind}:{ref}:{uuid.uuid4().hex[:12]}"


async def to_customer(
    tx: Tx,
    settings: HandlerSettings,
    customer_id: int,
    reply: Reply,
    *,
    key: str,
    conversation: bool = False,
) -> int:
    """Queue ``reply`` to each chat account of the customer; returns how many were queued.
    ``conversation``: a staff answer on the customer's own ticket, sent ahead of everything and
    never held; any other push (a rating request, a status note) waits out their quiet hours."""
    delay = timedelta(0)
    if not conversation:
        policy = QuietPolicy.of(settings.quiet_hours, settings.default_timezone)
        delay = await quiet_hours.delay_for(tx, customer_id, now=tx.now, policy=policy)
    queued = 0
    for identity in await tx.people.identities_of_customer(customer_id):
        if identity.platform not in settings.customer_platforms:
            continue
        queued += await tx.outbox.enqueue(
            platform=identity.platform,
            target=identity.external_id,
            payload=reply_to_dict(reply),
            key=f"{key}:{identity.platform}:{identity.external_id}",
            priority=CONVERSATION if conversation else NOTICE,
            delay=delay,
        )
    return queued


async def to_group(
    tx: Tx, ticket: TicketRecord, reply: Reply, *, key: str, conversation: bool = False
) -> bool | None:
    """Queue ``reply`` to the group chat the ticket is worked in, threaded on the customer's last
    message there; None when the ticket has no linked group (it goes to the customer's chats)."""
    found = await tx.chat_groups.of_ticket(ticket.id)
    if found is None:
        return None
    group, message_id = found
    return await tx.outbox.enqueue(
        platform=group.platform,
        target=group.chat_id,
        payload=reply_to_dict(reply),
        key=f"{key}:{group.platform}:{group.chat_id}",
        thread=message_id,
        priority=CONVERSATION if conversation else NOTICE,
    )


async def to_ticket(
    tx: Tx,
    settings: HandlerSettings,
    ticket: TicketRecord,
    reply: Reply,
    *,
    key: str,
    conversation: bool = False,
) -> int:
    """Queue ``reply`` where the ticket's customer talks to us: its group chat if it is worked in
    one, else each of the customer's chat accounts; returns how many were queued.
    ``conversation``: a staff answer on the ticket, sent ahead of everything and never held."""
    in_group = await to_group(tx, ticket, reply, key=key, conversation=conversation)
    if in_group is not None:
        return int(in_group)
    return await to_customer(tx, settings, ticket.customer_id, reply, key=key, conversation=conversation)


async def to_support(
    tx: Tx,
    settings: HandlerSettings,
    ticket_id: int,
    reply: Reply,
    *,
    key: str,
    conversation: bool = False,
) -> bool:
    """Queue ``reply`` to the ticket's thread in the support channel (the first post starts it);
    ``conversation``: the customer's own words, sent ahead of notices and campaigns."""
    return await to_support_channel(
        tx, settings, reply, key=key, thread_key=ticket_thread(ticket_id), conversation=conversation
    )


async def to_support_channel(
    tx: Tx,
    settings: HandlerSettings,
    reply: Reply,
    *,
    key: str,
    thread_key: str | None = None,
    conversation: bool = False,
) -> bool:
    """Queue ``reply`` to the support channel, as a post of its own or in ``thread_key``'s
    thread; False when no support channel is configured."""
    if not settings.support_platform or not settings.support_channel:
        return False
    return await tx.outbox.enqueue(
        platform=settings.support_platform,
        target=settings.support_channel,
        payload=reply_to_dict(reply),
        key=f"{key}:{settings.support_platform}",
        thread_key=thread_key,
        priority=CONVERSATION if conversation else NOTICE,
    )


def _attachments(attachments: tuple[Attachment, ...]) -> str:
    if not attachments:
        return ""
    return f"{len(attachments)} attachment{'s' if len(attachments) != 1 else ''}: " + ", ".join(
        one_line(a.name or a.kind, 40) for a in attachments
    )


def new_ticket_post(
    ticket: TicketRecord, customer: CustomerRecord | None, text: str, attachments: tuple[Attachment, ...]
) -> Reply:
    """The support channel's card for a new ticket, with the buttons that work it."""
    who = describe(customer) if customer else ticket.customer_name
    fields = [Field("Customer", who), Field("Priority", ticket.priority), Field("Via", ticket.source)]
    if customer and customer.email:
        fields.append(Field("Email", customer.email))
    if customer and customer.phone:
        fields.append(Field("Phone", customer.phone))
    return Reply(
        title=f"New ticket #{ticket.id}: {one_line(ticket.subject, 100)}",
        text=text or ticket.subject,
        fields=tuple(fields),
        context=_attachments(attachments),
        buttons=(
            Button("Assign to me", actions.encode("assign-me", ticket.id)),
            Button("Reply", actions.encode("reply", ticket.id), "primary"),
            Button("Resolve", actions.encode("resolve", ticket.id)),
        ),
        ephemeral=False,
    )


def customer_said(
    ticket: TicketRecord, text: str, attachments: tuple[Attachment, ...], *, who: str = ""
) -> Reply:
    """A customer's later message, for the ticket's thread (``who``: the contact who wrote)."""
    context = " · ".join(p for p in (f"Ticket #{ticket.id}", _attachments(attachments)) if p)
    return Reply(
        text=f"{who or ticket.customer_name}: {text or '(attachment)'}", context=context, ephemeral=False
    )


def feedback_post(customer: CustomerRecord, text: str, label: str | None, score: float | None) -> Reply:
    """A customer's /feedback, for the support channel: their words, how they sound, and the
    buttons to their card and timeline."""
    mood = "not labelled" if label is None or score is None else f"{label} ({score:+.2f})"
    return Reply(
        title=f"Feedback from {describe(customer)}",
        text=text,
        fields=(Field("Sentiment", mood),),
        buttons=(
            Button("Open customer", actions.encode("show", customer.id), "primary"),
            Button("Timeline", actions.encode("timeline", customer.id)),
        ),
        ephemeral=False,
    )


def rep_said(ticket: TicketRecord, text: str, rep_name: str) -> Reply:
    """A rep's answer, for the customer's chat."""
    return Reply(
        title=f"Ticket #{ticket.id}: {one_line(ticket.subject, 80)}",
        text=text,
        context=f"{rep_name or 'Support'} · answer here to reply",
        ephemeral=False,
    )


def csat_request(ticket: TicketRecord, note: str) -> Reply:
    """Resolved: the note, if any, and five rating buttons."""
    lead = f"{note}\n\n" if note else ""
    return Reply(
        title=f"Ticket #{ticket.id} is resolved",
        text=f"{lead}How did we do? 1 is poor, 5 is great.",
        buttons=tuple(
            Button(label, actions.encode("csat", f"{ticket.id}-{n}"))
            for n, label in enumerate(CSAT_LABELS, start=1)
        ),
        ephemeral=False,
    )


def resolved_note(ticket: TicketRecord, note: str) -> Reply:
    """Resolved, for a group chat: the note, if any, and how to go on (no rating buttons)."""
    lead = f"{note}\n\n" if note else ""
    return Reply(
        title=f"Ticket #{ticket.id} is resolved",
        text=f"{lead}If something is still wrong, /ticket opens a new one.",
        ephemeral=False,
    )


def status_note(text: str) -> Reply:
    return Reply(text=text, ephemeral=False)
