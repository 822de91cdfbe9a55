"""Interaction commands: log a call, email, meeting or note; a customer's timeline."""

from __future__ import annotations

from datetime import datetime

from crm_store.interactions import KINDS
from crm_store.records import CustomerRecord, InteractionRecord
from handlers import access
from handlers.common import describe, local_time, pick_customer
from handlers.context import Context
from handlers.errors import InvalidField, UsageError
from handlers.messages import MAX_TEXT, ListItem, Reply
from handlers.parsing import format_money, one_line
from handlers.registry import Area, ButtonVerb, Command, Prompt

LOG_USAGE = "log <customer> call|email|meeting|note: <text>"
TIMELINE_USAGE = "timeline <customer> [with contacts]"
TIMELINE_SIZE = 15
WITH_CONTACTS = " with contacts"
# A company's timeline "with contacts" reads at most this many of its people.
MAX_CONTACTS = 20


def label_text(ctx: Context, text: str) -> tuple[str | None, float | None]:
    """Sentiment for a stored text when a classifier is configured."""
    if ctx.services.sentiment is None or not text.strip():
        return None, None
    result = ctx.services.sentiment.classify(text)
    return result.label, result.score


# What a person may log; "message" is what the support desk records from chats.
LOGGABLE = tuple(k for k in KINDS if k != "message")


def check_note(text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidField("text", "What happened? Add it after the colon.", usage=LOG_USAGE)
    if len(text) > MAX_TEXT:
        raise InvalidField("text", f"That note is too long ({len(text)} characters; at most {MAX_TEXT}).")
    return text


async def record(
    ctx: Context, customer: CustomerRecord, *, kind: str, text: str, occurred_at: datetime | None = None
) -> InteractionRecord:
    """Log a call, email, meeting or note against ``customer`` with its sentiment: `log` and
    the API both end here. ``occurred_at`` (aware) backdates it; it may not lie in the future."""
    if kind not in LOGGABLE:
        raise InvalidField(
            "kind", f"{kind!r} is not a kind of interaction: use call, email, meeting or note."
        )
    text = check_note(text)
    if occurred_at is not None and occurred_at > ctx.now():
        raise InvalidField("occurred_at", "An interaction cannot have happened in the future.")
    access.check(ctx, customer)
    label, score = label_text(ctx, text)
    async with ctx.store.write(ctx.actor.key) as tx:
        new_id = await tx.interactions.add(
            customer_id=customer.id,
            rep_id=ctx.actor.rep_id,
            channel=ctx.actor.platform,
            kind=kind,
            text=text,
            occurred_at=occurred_at,
            sentiment_label=label,
            sentiment_score=score,
        )
        logged = await tx.interactions.get(new_id)
    assert logged is not None
    return logged


async def log(ctx: Context) -> Reply:
    head, sep, text = ctx.args.partition(":")
    words = head.split()
    if not sep or len(words) < 2:
        raise UsageError("Say who, what kind, and what happened.", usage=LOG_USAGE)
    kind = words[-1].lower()
    if kind not in LOGGABLE:
        raise UsageError(
            f"{words[-1]!r} is not a kind of interaction: use call, email, meeting or note.", usage=LOG_USAGE
        )
    text = check_note(text)
    who = " ".join(words[:-1])
    found = await pick_customer(ctx, who, rerun=lambda ref: f"log {ref} {kind}: {text}", usage=LOG_USAGE)
    if isinstance(found, Reply):
        return found
    logged = await record(ctx, found, kind=kind, text=text)
    article = "an" if kind[0] in "aeiou" else "a"
    mood = f" Sentiment: {logged.sentiment_label}." if logged.sentiment_label else ""
    return Reply(text=f"Logged {article} {kind} with {describe(found)}.{mood}")


async def timeline(ctx: Context) -> Reply:
    named = ctx.args.strip()
    with_contacts = named.lower().endswith(WITH_CONTACTS)
    if with_contacts:
        named = named[: -len(WITH_CONTACTS)]
    suffix = WITH_CONTACTS if with_contacts else ""
    found = await pick_customer(ctx, named, rerun=lambda ref: f"timeline {ref}{suffix}", usage=TIMELINE_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.read() as tx:
        interactions = await tx.interactions.for_customer(found.id, limit=TIMELINE_SIZE)
        contact_ids = await tx.relationships.contact_ids(found.id) if with_contacts else []
        orders = await tx.orders.for_customer(found.id, limit=TIMELINE_SIZE)
        tickets = await tx.tickets.find(status="all", customer_id=found.id, limit=TIMELINE_SIZE)
        feedback = await tx.feedback.for_customer(found.id, limit=TIMELINE_SIZE)
    contacts: dict[int, str] = {}
    if contact_ids:
        # Only the contacts the asker may see (CRM_CUSTOMER_ACCESS=owner).
        allowed = await access.visible(ctx, contact_ids[:MAX_CONTACTS])
        async with ctx.store.read() as tx:
            people = await tx.customers.get_many(sorted(allowed))
            for person in people.values():
                contacts[person.id] = person.name
                interactions += await tx.interactions.for_customer(person.id, limit=TIMELINE_SIZE)
    events: list[tuple[datetime, ListItem]] = []
    for i in interactions:
        by = f" by {i.rep_name}" if i.rep_name else ""
        mood = f" · {i.sentiment_label}" if i.sentiment_label else ""
        speaker = f"{contacts[i.customer_id]}: " if i.customer_id in contacts else ""
        events.append(
            (
                i.occurred_at,
                ListItem(
                    f"{speaker}{i.kind.capitalize()}{by}: {one_line(i.text)}",
                    f"{local_time(ctx, i.occurred_at)}{mood}",
                ),
            )
        )
    for o in orders:
        note = f" — {one_line(o.note, 60)}" if o.note else ""
        events.append(
            (
                o.ordered_at,
                ListItem(
                    f"Order {format_money(o.amount_cents, o.currency)}{note}", local_time(ctx, o.ordered_at)
                ),
            )
        )
    for t in tickets:
        events.append(
            (
                t.created_at,
                ListItem(
                    f"Ticket #{t.id} opened: {one_line(t.subject, 60)}",
                    f"{local_time(ctx, t.created_at)} · now {t.status}",
                ),
            )
        )
        if t.resolved_at is not None:
            events.append(
                (t.resolved_at, ListItem(f"Ticket #{t.id} resolved", local_time(ctx, t.resolved_at)))
            )
    for f in feedback:
        if f.text:
            mood = f" · {f.sentiment_label}" if f.sentiment_label else ""
            item = ListItem(f"Feedback: {one_line(f.text)}", f"{local_time(ctx, f.created_at)}{mood}")
        else:
            about = f" ticket #{f.ticket_id}" if f.ticket_id else ""
            item = ListItem(f"Rated{about}: {f.rating}/5", local_time(ctx, f.created_at))
        events.append((f.created_at, item))
    events.sort(key=lambda e: e[0], reverse=True)
    if not events:
        return Reply(title=f"Timeline of {found.name}", text=f"Nothing logged for {describe(found)} yet.")
    with_whom = f" and {len(contacts)} contact{'s' if len(contacts) != 1 else ''}" if with_contacts else ""
    return Reply(
        title=f"Timeline of {found.name}",
        text=f"Latest {min(len(events), TIMELINE_SIZE)} events for {describe(found)}{with_whom}, "
        "newest first:",
        items=tuple(item for _, item in events[:TIMELINE_SIZE]),
    )


COMMANDS = (
    Command(
        "log",
        log,
        LOG_USAGE,
        "Log a call, email, meeting or note.",
        "log acme call: discussed renewal",
        needs_args=True,
    ),
    Command(
        "timeline",
        timeline,
        TIMELINE_USAGE,
        "Interactions, orders, tickets and feedback of a customer, newest first "
        "(a company's with its contacts' interactions too: `with contacts`).",
        "timeline acme",
        aliases=("history",),
        needs_args=True,
    ),
)
BUTTONS = (
    ButtonVerb("log", "staff", prompt=Prompt("log #{} call: ", "To log an interaction, type", form="log")),
    ButtonVerb("timeline", "staff", command="timeline #{}"),
)
AREA = Area(COMMANDS, BUTTONS)
