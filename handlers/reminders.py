"""Reminder commands: remind, reminders, done, snooze."""

from __future__ import annotations

from datetime import datetime, timedelta

from crm_store.records import ReminderRecord
from handlers import access, actions
from handlers.common import describe, local_time, pick_customer
from handlers.context import Context
from handlers.errors import Forbidden, UsageError, UserError
from handlers.messages import MAX_TEXT, Button, ListItem, Reply
from handlers.parsing import one_line, parse_id
from handlers.registry import Area, ButtonVerb, Command, Prompt
from nlp.when import WhenError, parse_when, split_trailing_when

REMIND_USAGE = "remind [<customer>] <when>: <text>"
DONE_USAGE = "done <reminder-id>"
SNOOZE_USAGE = "snooze <reminder-id> <when>"
WHEN_FORMS = "2026-12-01 10:00, in 2 hours, tomorrow 10:00, friday"
SNOOZE_TOMORROW = "tomorrow 09:00"


def _when(ctx: Context, text: str, usage: str) -> datetime:
    try:
        return parse_when(text, now=ctx.now(), tz=ctx.tz)
    except WhenError as exc:
        raise UserError(str(exc), usage=usage) from exc


async def remind(ctx: Context) -> Reply:
    head, sep, text = ctx.args.partition(": ")
    if not sep:
        head, sep, text = ctx.args.rpartition(":")
    text = text.strip()
    if not sep or not head.strip() or not text:
        raise UsageError("Say when, then a colon, then what to remember.", usage=REMIND_USAGE)
    if len(text) > MAX_TEXT:
        raise UserError(f"That reminder is too long (at most {MAX_TEXT} characters).")
    now, tz = ctx.now(), ctx.tz
    customer = None
    try:
        due = parse_when(head, now=now, tz=tz)  # no customer: "remind tomorrow 9:00: call bank"
    except WhenError:
        try:
            split = split_trailing_when(head, now=now, tz=tz)
        except WhenError as exc:
            raise UserError(str(exc), usage=REMIND_USAGE) from exc
        if split is None:
            raise UsageError(
                f"I can't find a time in {head.strip()!r}. Try e.g. {WHEN_FORMS}.", usage=REMIND_USAGE
            ) from None
        who, due = split
        when_text = head.strip()[len(who) :].strip()
        found = await pick_customer(
            ctx, who, rerun=lambda ref: f"remind {ref} {when_text}: {text}", usage=REMIND_USAGE
        )
        if isinstance(found, Reply):
            return found
        customer = found
    if ctx.actor.rep_id is None:
        raise Forbidden("Only team members can set reminders.")
    async with ctx.store.write(ctx.actor.key) as tx:
        reminder = await tx.reminders.add(
            rep_id=ctx.actor.rep_id,
            customer_id=customer.id if customer else None,
            text=text,
            due_at=due,
        )
    about = f" about {describe(customer)}" if customer else ""
    return Reply(
        text=f"I'll remind you {local_time(ctx, due)}{about}: {one_line(text)} (reminder #{reminder.id}).",
        buttons=(Button("Cancel", actions.encode("done", reminder.id)),),
    )


def _item(ctx: Context, r: ReminderRecord, visible: set[int]) -> ListItem:
    overdue = " · overdue" if r.due_at < ctx.now() else ""
    about = ""
    if r.customer_id in visible:
        about = f" · {r.customer_name} (#{r.customer_id})"
    elif r.customer_id is not None:  # since handed to someone else's book: the id only
        about = f" · customer #{r.customer_id} (no longer in your book)"
    return ListItem(
        text=f"#{r.id} {one_line(r.text)}",
        detail=f"{local_time(ctx, r.due_at)}{about}{overdue}",
        buttons=(
            Button("Done", actions.encode("done", r.id), "primary"),
            Button("Snooze 1h", actions.encode("snooze-1h", r.id)),
        ),
    )


async def reminders(ctx: Context) -> Reply:
    if ctx.actor.rep_id is None:
        raise Forbidden("Only team members have reminders.")
    async with ctx.store.read() as tx:
        found = await tx.reminders.open_for_rep(ctx.actor.rep_id)
    visible = await access.visible(ctx, (r.customer_id for r in found))
    if not found:
        return Reply(text="No open reminders. Set one with `remind acme tomorrow 10:00: send quote`.")
    return Reply(
        title="Your reminders",
        text=f"{len(found)} open reminder{'s' if len(found) != 1 else ''}, soonest first:",
        items=tuple(_item(ctx, r, visible) for r in found),
    )


async def _own_reminder(ctx: Context, text: str, usage: str) -> ReminderRecord:
    return await access.reminder(ctx, parse_id(text, kind="reminder", usage=usage))


async def done(ctx: Context) -> Reply:
    reminder = await _own_reminder(ctx, ctx.args, DONE_USAGE)
    if reminder.status == "done":
        return Reply(text=f"Reminder #{reminder.id} was already done.")
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.reminders.mark_done(reminder.id)
    return Reply(text=f"Done: reminder #{reminder.id} ({one_line(reminder.text)}).")


async def snooze(ctx: Context) -> Reply:
    id_text, _, when_text = ctx.args.strip().partition(" ")
    reminder = await _own_reminder(ctx, id_text, SNOOZE_USAGE)
    if not when_text.strip():
        raise UserError("Until when?", usage=SNOOZE_USAGE)
    due = _when(ctx, when_text, SNOOZE_USAGE)
    return await _move(ctx, reminder, due)


def _snoozed_from(ctx: Context, reminder: ReminderRecord) -> datetime:
    """Where a Snooze button counts from: a reminder not yet due moves past its own time, never
    earlier; a due or overdue one counts from now."""
    return max(reminder.due_at, ctx.now())


async def snooze_hour(ctx: Context) -> Reply:
    """The Snooze 1h button: an hour after the reminder's time, or from now once it is due."""
    reminder = await _own_reminder(ctx, ctx.args, SNOOZE_USAGE)
    return await _move(ctx, reminder, _snoozed_from(ctx, reminder) + timedelta(hours=1))


async def snooze_tomorrow(ctx: Context) -> Reply:
    """The Snooze tomorrow button: 09:00 on the day after the reminder's time (or today)."""
    reminder = await _own_reminder(ctx, ctx.args, SNOOZE_USAGE)
    due = parse_when(SNOOZE_TOMORROW, now=_snoozed_from(ctx, reminder), tz=ctx.tz)
    return await _move(ctx, reminder, due)


async def _move(ctx: Context, reminder: ReminderRecord, due: datetime) -> Reply:
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.reminders.snooze(reminder.id, due)
    return Reply(text=f"Snoozed reminder #{reminder.id} until {local_time(ctx, due)}.")


COMMANDS = (
    Command(
        "remind",
        remind,
        REMIND_USAGE,
        "Set a follow-up reminder, with or without a customer.",
        "remind acme tomorrow 10:00: send quote",
        needs_args=True,
    ),
    Command("reminders", reminders, "reminders", "List your open reminders.", "reminders"),
    Command("done", done, DONE_USAGE, "Mark a reminder done.", "done 4", needs_args=True),
    Command(
        "snooze",
        snooze,
        SNOOZE_USAGE,
        "Move a reminder to a later time.",
        "snooze 4 in 2 hours",
        needs_args=True,
    ),
)
BUTTONS = (
    ButtonVerb("done", "staff", command="done {}"),
    ButtonVerb("snooze-1h", "staff", press=snooze_hour),
    ButtonVerb("snooze-tomorrow", "staff", press=snooze_tomorrow),
    ButtonVerb(
        "remind",
        "staff",
        prompt=Prompt("remind #{} tomorrow 10:00: ", "To set a reminder, type", form="remind"),
    ),
)
AREA = Area(COMMANDS, BUTTONS)
