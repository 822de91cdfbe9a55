"""What the scheduler decides on each tick: due reminders, loyalty alerts, SLA warnings and
breaches, digests, and the housekeeping purge. Every decision is claimed in the store and
queued in the same transaction, so replicas and restarts make it once; the ticking itself is
bot/scheduler.py's."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from crm_store.digests import Subscription
from crm_store.loyalty import LoyaltyModel, LoyaltyScore, run_date_of
from crm_store.sla import SlaEvent, SlaPolicy
from crm_store.store import Store, Tx
from handlers import actions, notify
from handlers.access import staff_scope
from handlers.context import HandlerSettings, zone
from handlers.digests import Period, build_digest, current_period, span_until
from handlers.forecast_book import run_forecast
from handlers.lateness import Deadline, with_deadline
from handlers.loyalty import reasons
from handlers.messages import Button, Reply, reply_to_dict
from handlers.parsing import one_line
from handlers.segment_run import SegmentRun, recompute_segments
from nlp.when import format_local

_LOGGER = logging.getLogger(__name__)
ACTOR = "scheduler"


@dataclass(frozen=True, slots=True)
class JobSettings:
    # Platforms whose front ends run here and reach staff, in order of preference.
    staff_platforms: tuple[str, ...] = ("slack", "console")
    # A reminder reaching its rep later than this after its time is titled "(late)".
    late_after: timedelta = timedelta(minutes=5)
    loyalty: LoyaltyModel = field(default_factory=LoyaltyModel)
    alert_below: float = 30.0
    alert_drop: float = 15.0
    sla: SlaPolicy = field(
        default_factory=lambda: SlaPolicy(
            first_response={"urgent": 30, "high": 120, "normal": 480, "low": 1440},
            resolution={"urgent": 240, "high": 1440, "normal": 4320, "low": 10080},
        )
    )
    handlers: HandlerSettings = field(default_factory=HandlerSettings)
    # How long handled Slack events and Telegram inbox rows are kept to refuse re-deliveries.
    retention: timedelta = timedelta(days=7)


async def rep_target(tx: Tx, rep_id: int, platforms: tuple[str, ...]) -> tuple[str, str] | None:
    """Where a rep is reached: their account on the first of ``platforms`` they have."""
    found = {i.platform: i.external_id for i in await tx.people.identities_of_rep(rep_id)}
    return next(((p, found[p]) for p in platforms if p in found), None)


async def _to_rep(tx: Tx, settings: JobSettings, rep_id: int, reply: Reply, *, key: str) -> bool:
    target = await rep_target(tx, rep_id, settings.staff_platforms)
    if target is None:
        return False
    return await tx.outbox.enqueue(
        platform=target[0], target=target[1], payload=reply_to_dict(reply), key=key
    )


# -- reminders ------------------------------------------------------------------------------


def reminder_push(
    *, reminder_id: int, text: str, due_at: datetime, customer: tuple[int, str] | None, tz: str
) -> Reply:
    """The DM a rep gets when a reminder is due, with its four buttons; the dispatcher adds
    "(late)" to the title if it goes out late (handlers.lateness)."""
    buttons = [
        Button("Done", actions.encode("done", reminder_id), "primary"),
        Button("Snooze 1h", actions.encode("snooze-1h", reminder_id)),
        Button("Snooze tomorrow", actions.encode("snooze-tomorrow", reminder_id)),
    ]
    about = ""
    if customer is not None:
        buttons.append(Button("Open customer", actions.encode("show", customer[0])))
        about = f"About {customer[1]} (#{customer[0]}) · "
    return Reply(
        title=f"Reminder #{reminder_id}",
        text=text,
        context=f"{about}due {format_local(due_at, zone(tz))}",
        buttons=tuple(buttons),
        ephemeral=False,
    )


# Reminders moved into the outbox per transaction; a tick that finds a full batch takes another.
REMINDER_BATCH = 500


async def queue_due_reminders(store: Store, settings: JobSettings, *, limit: int = REMINDER_BATCH) -> int:
    """Move up to ``limit`` due reminders into the outbox; each is claimed (pending -> sent) with
    its row, which carries its deadline: lateness is judged when it is sent, not here."""
    queued = 0
    async with store.write(ACTOR) as tx:
        due = await tx.reminders.due(platforms=settings.staff_platforms, limit=limit)
        for item in due:
            r = item.reminder
            if not await tx.reminders.mark_sent(r.id, r.due_at):
                continue
            rep = await tx.people.rep(r.rep_id)
            reply = reminder_push(
                reminder_id=r.id,
                text=r.text,
                due_at=r.due_at,
                customer=(r.customer_id, r.customer_name or "") if r.customer_id else None,
                tz=(rep.timezone if rep else None) or settings.handlers.default_timezone,
            )
            queued += await tx.outbox.enqueue(
                platform=item.platform,
                target=item.target,
                payload=with_deadline(reply_to_dict(reply), Deadline(r.due_at, settings.late_after)),
                key=f"reminder:{r.id}:{r.due_at.isoformat()}",
            )
    if queued:
        _LOGGER.info("queued %s reminder(s)", queued)
    return queued


# -- loyalty --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoyaltyRun:
    run_date: str
    scored: int
    # The run date's alerts as recorded (the figure the digest and `loyalty recompute` show),
    # whether or not a push could reach the owner.
    alerts: int
    new_alerts: int  # of those, raised by this call (a re-run the same day raises none twice)
    queued: int  # pushes queued to owners; an owner the bot cannot reach still has the alert listed
    segments: SegmentRun | None = None  # the segments recomputed on today's scores


def loyalty_alert(score: LoyaltyScore) -> Reply:
    was = f" (was {score.previous_score:.0f})" if score.previous_score is not None else ""
    return Reply(
        title=f"At risk: {one_line(score.customer_name, 60)} (#{score.customer_id})",
        text=f"Loyalty {score.score:.0f}/100{was}, churn risk {score.churn_risk:.0%}.\n"
        f"Why: {'; '.join(reasons(score))}.",
        buttons=(
            Button("Open customer", actions.encode("show", score.customer_id), "primary"),
            Button("Set a reminder", actions.encode("remind", score.customer_id)),
        ),
        ephemeral=False,
    )


async def run_loyalty(store: Store, settings: JobSettings, *, run_date: str | None = None) -> LoyaltyRun:
    """Recompute every score in bulk, then alert each slipping customer's owner once per run
    date (the idempotency key makes a second run that day alert nobody twice). The sales
    forecast runs first: its p_active is part of the churn risk."""
    await run_forecast(store)
    async with store.write(ACTOR) as tx:
        day = run_date or run_date_of(tx.now)
        scored = await tx.loyalty.recompute(settings.loyalty, run_date=day)
        candidates = await tx.loyalty.alert_candidates(
            day, below=settings.alert_below, drop=settings.alert_drop
        )
        new_alerts = queued = 0
        for score in candidates:
            assert score.owner_rep_id is not None
            # Recorded even when the owner has no platform to hear it: the digest lists it.
            if not await tx.loyalty.record_alert(score):
                continue
            new_alerts += 1
            queued += await _to_rep(
                tx,
                settings,
                score.owner_rep_id,
                loyalty_alert(score),
                key=f"loyalty:{score.customer_id}:{day}",
            )
        alerts = await tx.loyalty.alert_count_of_run(day)
    _LOGGER.info(
        "loyalty %s: %s customers scored, %s alert(s) (%s new, %s queued)",
        day,
        scored,
        alerts,
        new_alerts,
        queued,
    )
    # Segments read today's loyalty scores: recomputed right after them, in the same job. The
    # scores and alerts are committed already; a failure here leaves yesterday's segments.
    segmented: SegmentRun | None = None
    try:
        segmented = await recompute_segments(store)
    except Exception:
        _LOGGER.exception("segments: the recompute failed; the last run's segments stay")
    return LoyaltyRun(day, scored, alerts, new_alerts, queued, segmented)


async def loyalty_due(store: Store, *, hour: int, tz: str) -> bool:
    """True when today's run (after ``hour`` local time) has not happened: a catch-up after
    downtime, since the scheduler's memory of its last run dies with the process."""
    async with store.read() as tx:
        latest = await tx.loyalty.latest_run()
        local = tx.now.astimezone(zone(tz))
    return local.hour >= hour and (latest is None or latest < run_date_of(tx.now))


# -- SLA ------------------------------------------------------------------------------------

_STAGE_NAMES = {"first_response": "first response", "resolution": "resolution"}


def sla_notice(event: SlaEvent, ticket_id: int, subject: str, priority: str, tz: str) -> Reply:
    stage = _STAGE_NAMES[event.stage]
    if event.kind == "warning":
        title = f"Ticket #{ticket_id}: {stage} due soon"
        text = f"The {stage} deadline is {format_local(event.deadline, zone(tz))} ({priority} priority)."
    else:
        title = f"Ticket #{ticket_id} breached its {stage} SLA"
        text = f"The {stage} was due {format_local(event.deadline, zone(tz))} ({priority} priority)."
    return Reply(
        title=title,
        text=f"{one_line(subject, 100)}\n{text}",
        buttons=(
            Button("Open ticket", actions.encode("ticket", ticket_id), "primary"),
            Button("Assign to me", actions.encode("assign-me", ticket_id)),
        ),
        ephemeral=False,
    )


async def check_sla(store: Store, settings: JobSettings) -> int:
    """Warn before a deadline and mark breaches; the assignee hears, else the support channel."""
    sent = 0
    async with store.write(ACTOR) as tx:
        for event in await tx.sla.scan(settings.sla):
            claimed = (
                await tx.sla.claim_warning(event.ticket_id, event.stage)
                if event.kind == "warning"
                else await tx.sla.claim_breach(event.ticket_id, event.stage)
            )
            ticket = await tx.tickets.get(event.ticket_id) if claimed else None
            if ticket is None:
                continue
            reply = sla_notice(
                event, ticket.id, ticket.subject, ticket.priority, settings.handlers.default_timezone
            )
            key = f"sla:{ticket.id}:{event.stage}:{event.kind}"
            if (
                ticket.assignee_rep_id is not None
                and await _to_rep(tx, settings, ticket.assignee_rep_id, reply, key=key)
            ) or await notify.to_support(tx, settings.handlers, ticket.id, reply, key=key):
                sent += 1
    return sent


# -- digests --------------------------------------------------------------------------------


async def _digest_scope(store: Store, settings: JobSettings, rep_id: int) -> int | None:
    """Whose customers a subscriber's digest may name: under CRM_CUSTOMER_ACCESS=owner, the
    subscribing manager's (and unowned ones) unless they are an admin, also for a channel
    they subscribed, since the channel hears what they could have asked for."""
    mode = settings.handlers.customer_access
    if mode == "team":
        return None  # no need to read the subscriber
    async with store.read() as tx:
        rep = await tx.people.rep(rep_id)
    # A subscriber no longer on the team gets the narrowest view (their own book).
    return staff_scope(rep.role if rep is not None else "rep", rep_id, mode).owner_filter


async def subscription_digest(
    store: Store, settings: JobSettings, sub: Subscription, period: Period
) -> Reply:
    """A subscription's digest of ``period``: its cadence, its zone, and only the customers its
    subscriber may see. The scheduled send and `crm-bot digest --now` both build it here."""
    return await build_digest(
        store,
        since=period.start,
        until=period.end,
        tz=sub.timezone,
        cadence=sub.cadence,
        visible_to_rep=await _digest_scope(store, settings, sub.rep_id),
    )


async def queue_due_digests(store: Store, settings: JobSettings) -> int:
    """Each subscription's latest period, if not sent yet: claimed, built and queued. After
    downtime only the latest period is due, so missed digests arrive once, not once each."""
    queued = 0
    async with store.read() as tx:
        subscriptions = await tx.digests.subscriptions()
        now = tx.now
    for sub in subscriptions:
        period = current_period(sub.cadence, sub.local_time, sub.timezone, now)
        if sub.last_period is not None and sub.last_period >= period.key:
            continue
        reply = await subscription_digest(store, settings, sub, period)
        async with store.write(ACTOR) as tx:
            if not await tx.digests.claim_period(sub.id, period.key):
                continue
            queued += await tx.outbox.enqueue(
                platform=sub.platform,
                target=sub.target,
                payload=reply_to_dict(reply),
                key=f"digest:{sub.id}:{period.key}",
            )
    return queued


async def queue_digests_now(store: Store, settings: JobSettings, *, actor: str = ACTOR) -> tuple[int, int]:
    """Every subscription's digest of its cadence's span up to now, queued at once (asked for:
    `crm-bot digest --now`). The scheduled period stays due. Returns (subscriptions, queued)."""
    async with store.read() as tx:
        subscriptions = await tx.digests.subscriptions()
        now = tx.now
    queued = 0
    for sub in subscriptions:
        period = span_until(sub.cadence, now)
        reply = await subscription_digest(store, settings, sub, period)
        async with store.write(actor) as tx:
            queued += await tx.outbox.enqueue(
                platform=sub.platform,
                target=sub.target,
                payload=reply_to_dict(reply),
                key=f"digest:{sub.id}:{period.key}",
            )
    return len(subscriptions), queued


# -- housekeeping ---------------------------------------------------------------------------

# Slack retries an event within minutes and Telegram keeps an undelivered update 24 h: an id
# forgotten sooner could let a re-delivery through as new, whatever the setting says.
MIN_RETENTION = timedelta(days=1)
IDEMPOTENCY_KEPT = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Purged:
    events: int
    inbox: int
    conversations: int
    pending_actions: int
    handled_messages: int = 0
    idempotency_keys: int = 0

    @property
    def total(self) -> int:
        return (
            self.events
            + self.inbox
            + self.conversations
            + self.pending_actions
            + self.handled_messages
            + self.idempotency_keys
        )


async def purge_housekeeping(store: Store, settings: JobSettings) -> int:
    """Forget what only dedupe and drafts needed: processed Slack events and handled Telegram
    inbox rows older than the retention, and expired conversations and pending actions. Inbox
    rows not handled yet (pending, working, failed) stay whatever their age. Returns rows removed."""
    retention = max(settings.retention, MIN_RETENTION)
    async with store.write(ACTOR) as tx:
        before = tx.now - retention
        purged = Purged(
            events=await tx.events.purge_before(before),
            inbox=await tx.inbox.purge_done_before(before),
            conversations=await tx.conversations.purge_expired(),
            pending_actions=await tx.pending.purge_expired(),
            # Kept as long as the inbox rows whose repeats they answer.
            handled_messages=await tx.handled.purge_before(before),
            # The HTTP API promises a retry's answer for a day, whatever the retention.
            idempotency_keys=await tx.api_tokens.purge_keys_before(tx.now - IDEMPOTENCY_KEPT),
        )
        if purged.total:
            # Counts only: these rows are ids and drafts, and the audit log keeps no text.
            await tx.audit.record(
                "purge",
                "housekeeping",
                None,
                events=purged.events,
                inbox=purged.inbox,
                conversations=purged.conversations,
                pending_actions=purged.pending_actions,
                handled_messages=purged.handled_messages,
                idempotency_keys=purged.idempotency_keys,
                retention_days=retention.days,
            )
    _LOGGER.log(
        logging.INFO if purged.total else logging.DEBUG,
        "housekeeping: removed %s processed event(s), %s inbox row(s), %s conversation(s), "
        "%s pending action(s), %s handled-message record(s), %s API idempotency key(s)",
        purged.events,
        purged.inbox,
        purged.conversations,
        purged.pending_actions,
        purged.handled_messages,
        purged.idempotency_keys,
    )
    return purged.total
