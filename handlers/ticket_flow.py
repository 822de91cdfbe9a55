"""The guided /ticket: subject, description, optional photos or documents, then a confirmation."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from crm_store.records import CustomerRecord, TicketRecord
from crm_store.store import Tx
from handlers import access, actions, notify
from handlers.context import Context
from handlers.errors import Forbidden, InvalidField, UserError
from handlers.interactions import label_text
from handlers.messages import MAX_TEXT, Attachment, Button, Field, Reply
from handlers.parsing import one_line
from handlers.registry import Area, ButtonVerb

# The draft lives in the store's conversations table (never in this process), so whichever
# replica receives the customer's next message continues it; it expires after a quiet day.
FLOW = "ticket"
SUBJECT, DESCRIPTION, CONFIRM = "subject", "description", "confirm"
MAX_SUBJECT = 200
MAX_ATTACHMENTS = 10
OPEN_VERB, CANCEL_VERB = "ticket-open", "ticket-cancel"
STALE = "That draft was already sent or cancelled, or it expired. /ticket starts a new one."
OFFER = "You have no open ticket. Shall I open one with this message?"


def customer_of(ctx: Context) -> int:
    if ctx.actor.customer_id is None:
        raise Forbidden("This chat is not linked to a customer record.")
    return ctx.actor.customer_id


def check_subject(subject: str) -> str:
    flat = " ".join(subject.split())
    if len(flat) > MAX_SUBJECT:
        raise InvalidField(
            "subject",
            f"Please keep the subject under {MAX_SUBJECT} characters; "
            "you can add details in the next message.",
        )
    return flat


def check_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise InvalidField("text", f"That message is too long (at most {MAX_TEXT} characters).")
    return text


def _attachments(data: Mapping[str, Any]) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(
            file_id=str(a.get("file_id", "")),
            name=str(a.get("name", "")),
            size=int(a.get("size", 0)),
            kind=str(a.get("kind", "document")),
        )
        for a in data.get("attachments", ())
    )


def _with_attachments(data: dict[str, Any], new: Sequence[Attachment]) -> dict[str, Any]:
    kept = list(data.get("attachments", ()))
    if len(kept) + len(new) > MAX_ATTACHMENTS:
        raise UserError(f"A ticket takes at most {MAX_ATTACHMENTS} photos or documents.")
    return {**data, "attachments": kept + [a.as_dict() for a in new]}


async def open_in(
    tx: Tx,
    ctx: Context,
    *,
    subject: str,
    description: str,
    attachments: tuple[Attachment, ...],
    customer_id: int | None = None,
    author_customer_id: int | None = None,
) -> TicketRecord:
    """Open the ticket and queue its support-channel card, in the caller's transaction: the
    speaker's own, or ``customer_id``'s when the team or the API opens it in their name, or a
    company's group chat (written by ``author_customer_id``)."""
    customer_id = customer_of(ctx) if customer_id is None else customer_id
    first = description.strip() or subject
    label, score = label_text(ctx, first)
    ticket = await tx.tickets.open(
        customer_id=customer_id,
        subject=subject,
        source=ctx.actor.platform,
        first_message=first,
        author_customer_id=author_customer_id,
        attachments=[a.as_dict() for a in attachments],
        # An upset customer's ticket goes ahead of the queue.
        priority="high" if label == "negative" else "normal",
        sentiment_label=label,
        sentiment_score=score,
    )
    customer = await tx.customers.get(customer_id)
    post = notify.new_ticket_post(ticket, customer, first, attachments)
    await notify.to_support(tx, ctx.services.settings, ticket.id, post, key=f"ticket:{ticket.id}:opened")
    return ticket


async def open_for(ctx: Context, customer: CustomerRecord, *, subject: str, text: str) -> TicketRecord:
    """A ticket opened in the customer's name with their words (a web shop's contact form through
    the API): the rules of /ticket, the customer's first message, sentiment and priority, the
    support channel's card."""
    subject = check_subject(subject)
    if not subject:
        raise InvalidField("subject", "A ticket needs a subject.")
    text = check_text(text)
    access.check(ctx, customer)
    async with ctx.store.write(ctx.actor.key) as tx:
        return await open_in(
            tx, ctx, subject=subject, description=text, attachments=(), customer_id=customer.id
        )


def opened(ticket: TicketRecord, *, replace_original: bool = False) -> Reply:
    return Reply(
        text=f"Thanks — ticket #{ticket.id} is open: {one_line(ticket.subject, 80)}. "
        "We'll answer here; anything you add now goes to this ticket.",
        replace_original=replace_original,
    )


def _listing(data: Mapping[str, Any]) -> str:
    attached = _attachments(data)
    listed = ", ".join(one_line(a.name or a.kind, 40) for a in attached) if attached else "none"
    return f"{len(attached)} ({listed})" if attached else listed


def _confirm_buttons(data: Mapping[str, Any], *, open_label: str) -> tuple[Button, Button]:
    draft = str(data.get("id", ""))
    return (
        Button(open_label, actions.encode(OPEN_VERB, draft), "primary"),
        Button("Cancel", actions.encode(CANCEL_VERB, draft), "danger"),
    )


def prompt(step: str, data: Mapping[str, Any]) -> Reply:
    """What the customer is asked at ``step``."""
    if step == SUBJECT:
        return Reply(text="What is it about? Send a short subject, one line is enough. (/cancel to stop)")
    if step == DESCRIPTION:
        return Reply(
            text=f"Subject: {one_line(str(data.get('subject', '')), 80)}\n"
            "Now tell us what happened — order numbers and anything else that helps. (/cancel to stop)"
        )
    return Reply(
        title="Your ticket",
        text="Send photos or documents now to attach them, then open the ticket.",
        fields=(
            Field("Subject", one_line(str(data.get("subject", "")), 100)),
            Field("Description", one_line(str(data.get("description", "")), 300)),
            Field("Attachments", _listing(data)),
        ),
        buttons=_confirm_buttons(data, open_label="Open ticket"),
    )


def _new_draft(subject: str) -> dict[str, Any]:
    # The draft id rides on the confirmation buttons, so a button of an older draft does nothing.
    return {"id": secrets.token_urlsafe(6), "subject": subject, "description": "", "attachments": []}


async def offer(ctx: Context, text: str) -> Reply:
    """A customer's words with no ticket open become a draft ready to open, files and all, and
    the answer offers to open it; files without words first ask what they are about."""
    customer_of(ctx)
    if not text:
        return await begin(ctx, "")
    subject = check_subject(one_line(text, MAX_SUBJECT))
    # "offered": the customer never asked for a draft, so it gives way to a ticket opened meanwhile.
    data = {**_new_draft(subject), "description": check_text(text), "offered": True}
    data = _with_attachments(data, ctx.message.attachments)
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.conversations.save(ctx.actor.key, flow=FLOW, step=CONFIRM, data=data)
    attached = (Field("Attachments", _listing(data)),) if data["attachments"] else ()
    return Reply(text=OFFER, fields=attached, buttons=_confirm_buttons(data, open_label="Open a ticket"))


async def begin(ctx: Context, subject: str) -> Reply:
    """``/ticket`` asks the subject first; ``/ticket <subject>`` starts at the description."""
    customer_of(ctx)
    subject = check_subject(subject)
    data = _with_attachments(_new_draft(subject), ctx.message.attachments)
    step = DESCRIPTION if subject else SUBJECT
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.conversations.save(ctx.actor.key, flow=FLOW, step=step, data=data)
    return prompt(step, data)


async def resume(ctx: Context) -> Reply | None:
    """Text or files while a draft is open advance it; None when there is no draft."""
    async with ctx.store.read() as tx:
        if await tx.conversations.get(ctx.actor.key) is None:
            return None  # the common case costs one read, not a write lock
    text = check_text(ctx.args.strip())
    async with ctx.store.write(ctx.actor.key) as tx:
        draft = await tx.conversations.get(ctx.actor.key, for_update=True)
        if draft is None or draft.flow != FLOW:
            return None
        if draft.data.get("offered") and await tx.tickets.latest_open_for_customer(customer_of(ctx)):
            # A rep opened a ticket for them meanwhile: their words belong on it, not in the offer.
            await tx.conversations.end(ctx.actor.key)
            return None
        step, data = draft.step, _with_attachments(draft.data, ctx.message.attachments)
        if text and step == SUBJECT:
            subject, _, rest = text.partition("\n")
            data, step = {**data, "subject": check_subject(subject)}, DESCRIPTION
            if rest.strip():  # subject and details in one message: both steps done
                data, step = {**data, "description": rest.strip()}, CONFIRM
        elif text and step == DESCRIPTION:
            data, step = {**data, "description": text}, CONFIRM
        elif text:
            # Customers often say it in several messages: later ones extend the description.
            joined = check_text(f"{data.get('description', '')}\n{text}".strip())
            data = {**data, "description": joined}
        await tx.conversations.save(ctx.actor.key, flow=FLOW, step=step, data=data)
    return prompt(step, data)


async def _draft_of_press(tx: Tx, ctx: Context) -> dict[str, Any]:
    draft = await tx.conversations.get(ctx.actor.key, for_update=True)
    if draft is None or draft.flow != FLOW or draft.data.get("id") != ctx.args or draft.step != CONFIRM:
        raise UserError(STALE)
    return draft.data


async def confirm(ctx: Context) -> Reply:
    """The Open ticket button: the ticket opens and the draft ends in one transaction, so a
    second press (or a press on another replica) opens nothing more."""
    customer_of(ctx)
    async with ctx.store.write(ctx.actor.key) as tx:
        data = await _draft_of_press(tx, ctx)
        ticket = await open_in(
            tx,
            ctx,
            subject=str(data.get("subject", "")),
            description=str(data.get("description", "")),
            attachments=_attachments(data),
        )
        await tx.conversations.end(ctx.actor.key)
    return opened(ticket, replace_original=True)


async def cancel_press(ctx: Context) -> Reply:
    """The Cancel button of the draft it was shown with."""
    async with ctx.store.write(ctx.actor.key) as tx:
        await _draft_of_press(tx, ctx)
        await tx.conversations.end(ctx.actor.key)
    return Reply(text="Cancelled — no ticket was opened.", replace_original=True)


async def cancel(ctx: Context) -> Reply:
    """``/cancel``: leave the draft at any step."""
    async with ctx.store.write(ctx.actor.key) as tx:
        ended = await tx.conversations.get(ctx.actor.key) is not None
        await tx.conversations.end(ctx.actor.key)
    if not ended:
        return Reply(text="There is nothing to cancel.")
    return Reply(text="Cancelled — no ticket was opened. /ticket starts again.")


AREA = Area(
    buttons=(
        ButtonVerb(OPEN_VERB, "customer", press=confirm),
        ButtonVerb(CANCEL_VERB, "customer", press=cancel_press),
    )
)
