"""Manager digests: the period a subscription is due for, the digest itself (figures, loyalty
alerts, at-risk customers, feedback, a chart and the same numbers in text), and digest /
subscribe / unsubscribe."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_store.digests import Subscription
from crm_store.feedback import FeedbackRecord, FeedbackSummary
from crm_store.loyalty import LoyaltyScore
from crm_store.reports import PeriodFigures
from crm_store.store import Store
from handlers import actions
from handlers.campaign_report import finished_lines
from handlers.channels import resolve_channel
from handlers.charts import NO_SENTIMENT, NO_TICKETS, trend_png
from handlers.context import Context, zone
from handlers.errors import UsageError, UserError
from handlers.forecast import revenue_at_risk_item
from handlers.loyalty import risk_item
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import format_money, one_line
from handlers.registry import Area, Command
from handlers.segments import move_items

SUBSCRIBE_USAGE = "subscribe digest daily|weekly [HH:MM] [in #channel]"
UNSUBSCRIBE_USAGE = "unsubscribe digest"
DIGEST_USAGE = "digest [daily|weekly]"
DEFAULT_TIME = "08:00"
TOP_AT_RISK = 5
TOP_ALERTS = 10
TOP_REPS = 10
TOP_FEEDBACK = 3
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Period:
    key: str  # 2026-11-23 (daily) or 2026-W48 (weekly): text order is time order
    start: datetime  # UTC
    end: datetime  # UTC: the scheduled send time


def local_instant(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """``day`` at ``hhmm`` in ``tz``, in UTC. A time in the spring gap resolves to the same
    wall-clock minute after the jump (fold=0), an autumn time that happens twice to its first
    occurrence: each day has exactly one such instant."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def current_period(cadence: str, hhmm: str, tz_name: str, now: datetime) -> Period:
    """The latest period whose send time is not after ``now``."""
    tz = zone(tz_name)
    today = now.astimezone(tz).date()
    if cadence == "weekly":
        monday = today - timedelta(days=today.weekday())
        if local_instant(monday, hhmm, tz) > now:
            monday -= timedelta(days=7)
        year, week, _ = monday.isocalendar()
        return Period(
            f"{year}-W{week:02d}",
            local_instant(monday - timedelta(days=7), hhmm, tz),
            local_instant(monday, hhmm, tz),
        )
    day = today if local_instant(today, hhmm, tz) <= now else today - timedelta(days=1)
    return Period(
        day.isoformat(), local_instant(day - timedelta(days=1), hhmm, tz), local_instant(day, hhmm, tz)
    )


def span_until(cadence: str, until: datetime) -> Period:
    """The cadence's length of time up to ``until``: a digest asked for now rather than a
    scheduled period (its key never collides with a period's)."""
    return Period(f"now:{until.isoformat()}", until - timedelta(days=7 if cadence == "weekly" else 1), until)


def _days(figures: PeriodFigures, tz: ZoneInfo) -> list[date]:
    first = figures.since.astimezone(tz).date()
    last = (figures.until - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def daily_series(
    figures: PeriodFigures, tz: ZoneInfo
) -> tuple[list[date], list[float | None], list[int], list[int]]:
    """Per local day: mean sentiment (None on a silent day), tickets opened, tickets resolved."""
    days = _days(figures, tz)
    said: dict[date, list[float]] = defaultdict(list)
    for at, score in figures.sentiment_points:
        said[at.astimezone(tz).date()].append(score)
    opened = defaultdict(int, _count(figures.opened_at, tz))
    resolved = defaultdict(int, _count(figures.resolved_at, tz))
    sentiment = [sum(said[d]) / len(said[d]) if said[d] else None for d in days]
    return days, sentiment, [opened[d] for d in days], [resolved[d] for d in days]


def _count(moments: tuple[datetime, ...], tz: ZoneInfo) -> dict[date, int]:
    counts: dict[date, int] = defaultdict(int)
    for moment in moments:
        counts[moment.astimezone(tz).date()] += 1
    return counts


def _trend(sentiment: list[float | None]) -> str:
    values = [s for s in sentiment if s is not None]
    if not values:
        return "no sentiment recorded"
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:+.2f}"
    half = len(values) // 2
    first, second = sum(values[:half]) / half, sum(values[half:]) / (len(values) - half)
    direction = "improving" if second - first > 0.05 else "worsening" if first - second > 0.05 else "steady"
    return f"{mean:+.2f}, {direction} ({first:+.2f} → {second:+.2f})"


async def build_digest(
    store: Store,
    *,
    since: datetime,
    until: datetime,
    tz: str,
    cadence: str,
    visible_to_rep: int | None = None,
) -> Reply:
    """The digest of [since, until): figures as fields; reps, loyalty alerts, at-risk customers
    and feedback as items; the trend chart as the image, and the chart's numbers in the text
    for screen readers. ``visible_to_rep`` (CRM_CUSTOMER_ACCESS=owner): the lines that name
    customers, and the counts shown beside them, cover only that rep's customers and unowned
    ones; the team figures stay whole, as they name nobody."""
    zone_info = zone(tz)
    async with store.read() as tx:
        figures = await tx.reports.period(since, until)
        risky = await tx.loyalty.at_risk(limit=TOP_AT_RISK, visible_to_rep=visible_to_rep)
        risky_count = await tx.loyalty.at_risk_count(visible_to_rep=visible_to_rep)
        alerts = await tx.loyalty.alerts_between(
            since, until, limit=TOP_ALERTS, visible_to_rep=visible_to_rep
        )
        alert_count = await tx.loyalty.alert_count_between(since, until, visible_to_rep=visible_to_rep)
        overdue = await tx.reminders.overdue_count()
        said = await tx.feedback.written_summary(since, until, visible_to_rep=visible_to_rep)
        latest_said = await tx.feedback.written_between(
            since, until, limit=TOP_FEEDBACK, visible_to_rep=visible_to_rep
        )
        # Weekly: a line per segment change (customers who moved segment in the period).
        moved = (
            await tx.segments.moves_between(since, until, visible_to_rep=visible_to_rep)
            if cadence == "weekly"
            else []
        )
        risky_revenue = await tx.forecast.revenue_at_risk(limit=TOP_AT_RISK, visible_to_rep=visible_to_rep)
    campaigns_done = await finished_lines(store, since, until)
    days, sentiment, opened, resolved = daily_series(figures, zone_info)
    median = figures.median_first_response
    fields = (
        Field("New customers", str(figures.new_customers)),
        Field("Orders", f"{figures.orders} · {format_money(figures.revenue_cents)}"),
        Field(
            "Tickets",
            f"{figures.tickets_opened} opened, {figures.tickets_resolved} resolved, "
            f"{figures.tickets_breached} breached SLA",
        ),
        Field("Median first response", "none answered" if median is None else f"{median:.0f} min"),
        Field(
            "CSAT", "no ratings" if figures.csat is None else f"{figures.csat:.1f}/5 ({figures.csat_count})"
        ),
        Field("Sentiment", _trend(sentiment)),
        Field("Loyalty alerts", str(alert_count)),
        Field("At risk", str(risky_count)),
        Field("Overdue reminders", str(overdue)),
        Field("Feedback", _feedback_figure(said)),
    )
    items = [
        ListItem(f"{name}: {count} interaction{'s' if count != 1 else ''}")
        for name, count in figures.interactions_by_rep[:TOP_REPS]
    ]
    # The period's loyalty alerts (what owners were told), then who is most at risk now.
    items += [alert_item(score) for score in alerts]
    items += [risk_item(score) for score in risky]
    items += [feedback_item(record) for record in latest_said]
    items += move_items(moved)
    items += campaigns_done  # a line per campaign that finished sending in the period
    # Weekly: the forecast's top revenue at risk, (1 - p_active) x the revenue if they order.
    risky_revenue_shown = cadence == "weekly" and bool(risky_revenue)
    if risky_revenue_shown:
        items += [revenue_at_risk_item(f) for f in risky_revenue]
    start_label = since.astimezone(zone_info).strftime("%d %b %H:%M")
    end_label = until.astimezone(zone_info).strftime("%d %b %H:%M")
    per_day = "; ".join(
        f"{d.strftime('%d %b')}: sentiment {'n/a' if s is None else f'{s:+.2f}'}, {o} opened, {r} resolved"
        for d, s, o, r in zip(days, sentiment, opened, resolved, strict=True)
    )
    if all(s is None for s in sentiment) and not any(opened) and not any(resolved):
        per_day = f"no data ({NO_SENTIMENT}, {NO_TICKETS})"  # as the chart says
    title = f"{cadence.capitalize()} digest"
    return Reply(
        title=title,
        text=f"{start_label} – {end_label} ({tz}).\nBy day: {per_day}.",
        fields=fields,
        items=tuple(items),
        context=f"Interactions by rep, the period's loyalty alerts, the top {TOP_AT_RISK} at-risk "
        f"customers, then the latest {TOP_FEEDBACK} pieces of feedback"
        + (f", then the top {TOP_AT_RISK} by revenue at risk (forecast)." if risky_revenue_shown else "."),
        image=trend_png(days, sentiment, opened, resolved, title=f"{title}: sentiment and tickets"),
        image_name="digest-trend.png",
        ephemeral=False,
    )


def _feedback_figure(said: FeedbackSummary) -> str:
    if not said.count:
        return "none"
    mood = "not labelled" if said.mean_sentiment is None else f"mean sentiment {said.mean_sentiment:+.2f}"
    return f"{said.count} · {mood}"


def feedback_item(record: FeedbackRecord) -> ListItem:
    """A customer's written feedback as a digest line: who, their words, how they sound."""
    score = record.sentiment_score
    mood = "" if score is None else f"{record.sentiment_label} ({score:+.2f})"
    return ListItem(
        text=f"Feedback from {one_line(record.customer_name, 60)} (#{record.customer_id}): "
        f"{one_line(record.text, 200)}",
        detail=mood,
        buttons=(Button("Open", actions.encode("show", record.customer_id)),),
    )


def alert_item(score: LoyaltyScore) -> ListItem:
    """A loyalty alert as a digest line: who, the score's fall, and the reasons the owner got."""
    item = risk_item(score)
    return replace(item, text=f"Loyalty alert {score.run_date}: {item.text}")


async def digest(ctx: Context) -> Reply:
    cadence = ctx.args.strip().lower() or "daily"
    if cadence not in ("daily", "weekly"):
        raise UserError("A digest covers a day or a week.", usage=DIGEST_USAGE)
    return await digest_now(
        ctx.store, cadence=cadence, tz=ctx.tz.key, now=ctx.now(), visible_to_rep=ctx.scope.owner_filter
    )


async def digest_now(
    store: Store, *, cadence: str, tz: str, now: datetime, visible_to_rep: int | None = None
) -> Reply:
    """A digest asked for now (the `digest` command, `crm-bot digest`): the cadence's span up
    to this second, for a reader who sees the customers of ``visible_to_rep`` (None: all)."""
    period = span_until(cadence, now + timedelta(seconds=1))  # what happened this second counts
    return await build_digest(
        store, since=period.start, until=period.end, tz=tz, cadence=cadence, visible_to_rep=visible_to_rep
    )


def _describe(sub: Subscription, channel: str | None) -> str:
    when = f"{sub.local_time} {sub.timezone}"
    where = f"in {channel}" if channel else "here"
    return f"{sub.cadence} at {when}" + (" on Mondays" if sub.cadence == "weekly" else "") + f", {where}"


async def subscribe(ctx: Context) -> Reply:
    words = ctx.args.split()
    if not words or words[0].lower() != "digest" or len(words) < 2:
        raise UsageError("Subscribe to what, how often?", usage=SUBSCRIBE_USAGE)
    cadence = words[1].lower()
    if cadence not in ("daily", "weekly"):
        raise UserError(f"{words[1]!r} is not daily or weekly.", usage=SUBSCRIBE_USAGE)
    rest = words[2:]
    hhmm = DEFAULT_TIME
    if rest and _HHMM.match(rest[0]):
        match = _HHMM.match(rest[0])
        assert match is not None
        hhmm = f"{int(match.group(1)):02d}:{match.group(2)}"
        rest = rest[1:]
    target, where = ctx.actor.user_id, None
    if rest and rest[0].lower() == "in" and len(rest) == 2:
        if ctx.actor.platform != "slack":
            raise UserError("Channels are Slack's: subscribe from Slack to get the digest in one.")
        channel = await resolve_channel(ctx.services.channels, rest[1])
        target, where, rest = channel.id, channel.label, []
    if rest:
        raise UserError(f"I don't understand {' '.join(rest)!r}.", usage=SUBSCRIBE_USAGE)
    if ctx.actor.rep_id is None:
        raise UserError("Only team members can subscribe.")
    tz = ctx.tz.key
    async with ctx.store.write(ctx.actor.key) as tx:
        sub = await tx.digests.subscribe(
            rep_id=ctx.actor.rep_id,
            platform=ctx.actor.platform,
            target=target,
            cadence=cadence,
            local_time=hhmm,
            timezone=tz,
            current_period=current_period(cadence, hhmm, tz, ctx.now()).key,
        )
    return Reply(text=f"Subscribed: the digest comes {_describe(sub, where)}. `unsubscribe digest` stops it.")


async def unsubscribe(ctx: Context) -> Reply:
    if ctx.args.strip().lower() != "digest":
        raise UsageError("Unsubscribe from what?", usage=UNSUBSCRIBE_USAGE)
    if ctx.actor.rep_id is None:
        raise UserError("Only team members have subscriptions.")
    async with ctx.store.write(ctx.actor.key) as tx:
        removed = await tx.digests.unsubscribe(ctx.actor.rep_id)
    if not removed:
        return Reply(text="You had no digest subscription.")
    return Reply(text=f"Unsubscribed ({removed} subscription{'s' if removed != 1 else ''} removed).")


COMMANDS = (
    Command("digest", digest, DIGEST_USAGE, "The manager digest, now.", "digest weekly", audience="manager"),
    Command(
        "subscribe",
        subscribe,
        SUBSCRIBE_USAGE,
        "Get the digest daily or weekly at a local time (here, or in a channel).",
        "subscribe digest daily 08:30",
        audience="manager",
        needs_args=True,
    ),
    Command(
        "unsubscribe",
        unsubscribe,
        UNSUBSCRIBE_USAGE,
        "Stop your digests.",
        "unsubscribe digest",
        audience="manager",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
