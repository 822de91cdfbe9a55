"""Relationships between customers: relate, unrelate, relations, and the lines the card shows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from crm_store.records import CustomerRecord, RelationshipRecord
from crm_store.relationships import KINDS
from handlers import access
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.errors import Conflict, InvalidField, UsageError, UserError
from handlers.messages import Field, ListItem, Reply
from handlers.registry import Area, Command

RELATE_USAGE = "relate <customer> <kind> <customer> [from YYYY-MM-DD] [until YYYY-MM-DD]"
UNRELATE_USAGE = "unrelate <customer> <kind> <customer>"
RELATIONS_USAGE = "relations <customer>"
KIND_LIST = ", ".join(KINDS)
# How "A <kind> B" reads on A's card, and on B's.
_FORWARD = {
    "parent": "Parent company of",
    "subsidiary": "Subsidiary of",
    "partner": "Partner of",
    "reseller": "Reseller of",
    "referred-by": "Referred by",
    "works-at": "Works at",
    "competitor": "Competitor of",
}
_BACKWARD = {
    "parent": "Subsidiary of",
    "subsidiary": "Parent company of",
    "partner": "Partner of",
    "reseller": "Sold through",
    "referred-by": "Referred",
    "works-at": "Employs",
    "competitor": "Competitor of",
}
_ALIASES = {
    "referred": "referred-by",
    "referredby": "referred-by",
    "worksat": "works-at",
    "works": "works-at",
}
CARD_RELATIONS = 5
LIST_SIZE = 50


def _kind(word: str) -> str | None:
    word = word.lower().strip()
    if word in KINDS:
        return word
    return _ALIASES.get(word.replace("-", "").replace("_", ""))


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """A relation's date as the moment it begins in the reader's time zone."""
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _day(text: str, tz: ZoneInfo) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{text!r} is not a date: write it as YYYY-MM-DD, like 2024-03-01.") from None
    return day_start(day, tz)


def _split(
    ctx: Context, args: str, usage: str
) -> tuple[str, str, str, datetime | None, datetime | None, str]:
    """``A kind B [from d] [until d]``: the two customers' words, the kind, the dates, and the
    date words as written (a pick list's buttons carry them on)."""
    words = args.split()
    all_words = len(words)
    starts: datetime | None = None
    ends: datetime | None = None
    # Dates come last, in either order.
    while len(words) >= 2 and words[-2].lower() in ("from", "since", "until", "till", "to"):
        word, value = words[-2].lower(), words[-1]
        moment = _day(value, ctx.tz)
        if word in ("from", "since"):
            if starts is not None:
                raise UserError("Give one start date.", usage=usage)
            starts = moment
        else:
            if ends is not None:
                raise UserError("Give one end date.", usage=usage)
            ends = moment
        words = words[:-2]
    at = next((i for i, w in enumerate(words) if i > 0 and i < len(words) - 1 and _kind(w)), None)
    if at is None:
        raise UsageError(f"Name two customers and how they are related ({KIND_LIST}).", usage=usage)
    kind = _kind(words[at])
    assert kind is not None
    if starts is not None and ends is not None and ends < starts:
        raise UserError("The end date is before the start date.", usage=usage)
    dates = " ".join(args.split()[len(words) : all_words])
    return " ".join(words[:at]), kind, " ".join(words[at + 1 :]), starts, ends, dates


def _dates(r: RelationshipRecord, ctx: Context, now: datetime) -> str:
    def day(moment: datetime) -> str:
        return moment.astimezone(ctx.tz).date().isoformat()

    if r.ends_at is not None and r.ends_at <= now:
        since = f"{day(r.starts_at)} – " if r.starts_at else "until "
        return f"{since}{day(r.ends_at)} (ended)"
    parts = []
    if r.starts_at is not None:
        parts.append(f"since {day(r.starts_at)}")
    if r.ends_at is not None:
        parts.append(f"until {day(r.ends_at)}")
    return ", ".join(parts)


def phrase(r: RelationshipRecord, customer_id: int) -> str:
    """The relation as it reads on ``customer_id``'s card: "Works at Acme Corp (#1)"."""
    if r.from_customer_id == customer_id:
        return f"{_FORWARD[r.kind]} {r.to_name} (#{r.to_customer_id})"
    return f"{_BACKWARD[r.kind]} {r.from_name} (#{r.from_customer_id})"


def is_current(r: RelationshipRecord, now: datetime) -> bool:
    return r.ends_at is None or r.ends_at > now


def card_fields(ctx: Context, customer_id: int, relations: list[RelationshipRecord]) -> tuple[Field, ...]:
    """The card's Relations (current ones, contacts apart) and Contacts lines."""
    now = ctx.now()
    current = [r for r in relations if is_current(r, now)]
    contacts = [r for r in current if r.kind == "works-at" and r.to_customer_id == customer_id]
    others = [r for r in current if r not in contacts]
    fields = []
    if others:
        shown = "; ".join(phrase(r, customer_id) for r in others[:CARD_RELATIONS])
        more = f" (+{len(others) - CARD_RELATIONS} more)" if len(others) > CARD_RELATIONS else ""
        fields.append(Field("Relations", shown + more))
    if contacts:
        shown = ", ".join(f"{r.from_name} (#{r.from_customer_id})" for r in contacts[:CARD_RELATIONS])
        more = f" (+{len(contacts) - CARD_RELATIONS} more)" if len(contacts) > CARD_RELATIONS else ""
        fields.append(Field("Contacts", shown + more))
    return tuple(fields)


async def _pair(
    ctx: Context, command: str, usage: str
) -> tuple[CustomerRecord, str, CustomerRecord, datetime | None, datetime | None] | Reply:
    first, kind, second, starts, ends, dates = _split(ctx, ctx.args, usage)
    suffix = f" {dates}" if dates else ""
    a = await pick_customer(
        ctx, first, rerun=lambda ref: f"{command} {ref} {kind} {second}{suffix}", usage=usage
    )
    if isinstance(a, Reply):
        return a
    b = await pick_customer(
        ctx, second, rerun=lambda ref: f"{command} #{a.id} {kind} {ref}{suffix}", usage=usage
    )
    if isinstance(b, Reply):
        return b
    if a.id == b.id:
        raise UserError(f"{describe(a)} cannot be related to itself.", usage=usage)
    return a, kind, b, starts, ends


Outcome = Literal["created", "exists", "ended"]


async def relate_customers(
    ctx: Context,
    a: CustomerRecord,
    kind: str,
    b: CustomerRecord,
    *,
    starts: datetime | None = None,
    ends: datetime | None = None,
) -> tuple[Outcome, RelationshipRecord]:
    """Record "``a`` ``kind`` ``b``" (`relate` and the API both end here): "created"; "exists"
    when the same relation is current and no dates are given; "ended" when only ``until`` is given
    for a current one, which then ends that day. A start date for a current one is a Conflict."""
    access.check(ctx, a)
    access.check(ctx, b)
    if a.id == b.id:
        raise InvalidField(
            "to_customer_id", f"{describe(a)} cannot be related to itself.", usage=RELATE_USAGE
        )
    if starts is not None and ends is not None and ends < starts:
        raise InvalidField("until", "The end date is before the start date.", usage=RELATE_USAGE)
    async with ctx.store.write(ctx.actor.key) as tx:
        existing = await tx.relationships.current_between(a.id, kind, b.id)
        if existing is not None:
            if ends is None and starts is None:
                return "exists", existing
            if starts is not None:
                raise Conflict(
                    f"{describe(a)} is already {_FORWARD[kind].lower()} {describe(b)} "
                    f"(relation #{existing.id}); to change its dates, end it first with "
                    f"`unrelate` or give only `until`."
                )
            assert ends is not None
            if existing.starts_at is not None and ends < existing.starts_at:
                raise InvalidField("until", "The end date is before the relation's start.")
            await tx.relationships.end(existing.id, ends_at=ends)
            outcome: Outcome = "ended"
            record_id = existing.id
        else:
            record_id = await tx.relationships.add(
                from_customer_id=a.id, kind=kind, to_customer_id=b.id, starts_at=starts, ends_at=ends
            )
            outcome = "created"
        record = await tx.relationships.get(record_id)
    assert record is not None
    return outcome, record


async def end_relation(ctx: Context, record: RelationshipRecord) -> RelationshipRecord:
    """End a current relation now (`unrelate` and the API): it stays in the history."""
    await access.check_id(ctx, record.from_customer_id)
    await access.check_id(ctx, record.to_customer_id)
    if not is_current(record, ctx.now()):
        raise Conflict(f"Relation #{record.id} has already ended.")
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.relationships.end(record.id, ends_at=ctx.now())
        ended = await tx.relationships.get(record.id)
    assert ended is not None
    return ended


async def relate(ctx: Context) -> Reply:
    picked = await _pair(ctx, "relate", RELATE_USAGE)
    if isinstance(picked, Reply):
        return picked
    a, kind, b, starts, ends = picked
    outcome, record = await relate_customers(ctx, a, kind, b, starts=starts, ends=ends)
    if outcome == "exists":
        return Reply(text=f"Already recorded: {describe(a)} {_FORWARD[kind].lower()} {describe(b)}.")
    if outcome == "ended":
        assert ends is not None
        return Reply(
            text=f"{describe(a)} {_FORWARD[kind].lower()} {describe(b)}: ends "
            f"{ends.astimezone(ctx.tz).date().isoformat()}."
        )
    dates = _dates(record, ctx, ctx.now())
    return Reply(
        text=f"Recorded: {describe(a)} {_FORWARD[kind].lower()} {describe(b)}"
        + (f" ({dates})." if dates else ".")
    )


async def unrelate(ctx: Context) -> Reply:
    picked = await _pair(ctx, "unrelate", UNRELATE_USAGE)
    if isinstance(picked, Reply):
        return picked
    a, kind, b, starts, ends = picked
    if starts is not None or ends is not None:
        raise UserError(
            "`unrelate` ends a relation today; to end it on another day use `relate … until <date>`."
        )
    async with ctx.store.read() as tx:
        existing = await tx.relationships.current_between(a.id, kind, b.id)
    if existing is None:
        raise UserError(f"{describe(a)} is not {_FORWARD[kind].lower()} {describe(b)} now.")
    await end_relation(ctx, existing)
    return Reply(
        text=f"Ended: {describe(a)} {_FORWARD[kind].lower()} {describe(b)}. It stays in the history."
    )


async def relations(ctx: Context) -> Reply:
    found = await pick_customer(ctx, ctx.args, rerun=lambda ref: f"relations {ref}", usage=RELATIONS_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.read() as tx:
        rows = await tx.relationships.for_customer(found.id, limit=LIST_SIZE)
    if not rows:
        return Reply(
            text=f"{describe(found)} has no relations recorded. "
            f"Add one: `relate {found.name} partner <customer>`."
        )
    now = ctx.now()
    ordered = sorted(rows, key=lambda r: (not is_current(r, now), -r.id))
    current = sum(is_current(r, now) for r in rows)
    return Reply(
        title=f"Relations of {describe(found)}",
        text=f"{current} current, {len(rows) - current} ended.",
        items=tuple(ListItem(phrase(r, found.id), _dates(r, ctx, now)) for r in ordered),
    )


COMMANDS = (
    Command(
        "relate",
        relate,
        RELATE_USAGE,
        f"Record how two customers are related ({KIND_LIST}).",
        "relate jane doe works-at acme from 2024-03-01",
        needs_args=True,
    ),
    Command(
        "unrelate",
        unrelate,
        UNRELATE_USAGE,
        "End a relation today (it stays in the history).",
        "unrelate jane doe works-at acme",
        needs_args=True,
    ),
    Command(
        "relations",
        relations,
        RELATIONS_USAGE,
        "A customer's relations, current and ended.",
        "relations acme",
        needs_args=True,
    ),
)

AREA = Area(COMMANDS)
