"""What came of a campaign: `campaign report <id>` (delivery, opt-outs, replies, tickets, orders
against the control group, a chart), `report campaigns [days]`, and the digest's line."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from crm_store.campaigns import CampaignRecord, Outcomes
from crm_store.store import Store
from handlers.errors import UserError
from handlers.messages import Field, ListItem, Reply
from handlers.parsing import format_money
from handlers.report_charts import campaign_png
from handlers.report_kinds import ReportKind, ReportRequest, register
from nlp.when import format_local

REPLY_DAYS = 7  # replies, tickets and opt-outs counted this long after sending starts
ORDER_DAYS = 30  # orders and revenue counted this long
Counts = dict[tuple[str, str, str | None], int]


def by_reason(counts: Counts, state: str, arm: str = "send") -> dict[str, int]:
    found: Counter[str] = Counter()
    for (a, s, reason), n in counts.items():
        if a == arm and s == state:
            found[reason or "unknown"] += n
    return dict(found)


def total(counts: Counts, state: str, arm: str = "send") -> int:
    return sum(n for (a, s, _), n in counts.items() if a == arm and s == state)


def _reasons(found: dict[str, int]) -> str:
    return (
        ", ".join(f"{why} {n:,}" for why, n in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))
        or "none"
    )


def _orders(n: int) -> str:
    return f"{n:,} order{'s' if n != 1 else ''}"


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm's orders in the order window."""

    customers: int
    orders: int
    revenue_cents: int
    buyers: int

    @property
    def per_customer(self) -> float:
        """Revenue per customer of the arm, in cents (0 for an empty arm)."""
        return self.revenue_cents / self.customers if self.customers else 0.0

    @property
    def buyer_share(self) -> float:
        return self.buyers / self.customers if self.customers else 0.0


def arms(outcomes: Outcomes) -> dict[str, Arm]:
    """The send arm (recipients the campaign meant to message) and the control group."""
    found = {}
    for arm, size in (("send", outcomes.reached), ("control", outcomes.control)):
        rows = [o for o in outcomes.orders if o[0] == arm]
        found[arm] = Arm(
            customers=size,
            orders=len(rows),
            revenue_cents=sum(o[3] for o in rows),
            buyers=len({o[1] for o in rows}),
        )
    return found


def lift_words(send: Arm, control: Arm) -> str:
    """The send arm's revenue per customer against the control group's."""
    if control.customers == 0:
        return "no control group (set one with `campaign control <id> 10%` before sending)"
    difference = send.per_customer - control.per_customer
    relative = f" ({difference / control.per_customer:+.0%})" if control.per_customer else ""
    sign = "+" if difference >= 0 else "−"
    return f"{sign}{format_money(round(abs(difference)))} per customer{relative}"


def _series(
    outcomes: Outcomes, start: datetime, tz: ZoneInfo, days: int
) -> tuple[list[int], list[float], list[float] | None, list[int], list[int]]:
    def day(at: datetime) -> int:
        return (at.astimezone(tz).date() - start.astimezone(tz).date()).days

    spent = {"send": [0] * days, "control": [0] * days}
    for arm, _, at, cents in outcomes.orders:
        if 0 <= day(at) < days:
            spent[arm][day(at)] += cents
    sent, replies = [0] * days, [0] * days
    for at in outcomes.sent_at:
        if 0 <= day(at) < days:
            sent[day(at)] += 1
    for at, _ in outcomes.replies:
        if 0 <= day(at) < days:
            replies[day(at)] += 1

    def cumulative(values: list[int], size: int) -> list[float]:
        out, running = [], 0
        for v in values:
            running += v
            out.append(running / 100 / size if size else 0.0)
        return out

    control = cumulative(spent["control"], outcomes.control) if outcomes.control else None
    return list(range(days)), cumulative(spent["send"], outcomes.reached), control, sent, replies


async def campaign_report(store: Store, campaign: CampaignRecord, *, now: datetime, tz: ZoneInfo) -> Reply:
    """The figures of a campaign that has started: delivery, consent, replies, tickets, and
    orders in its first ORDER_DAYS days, send arm against control group, with a chart."""
    if campaign.started_at is None:
        raise UserError(
            f"Campaign #{campaign.id} has not started ({campaign.state}); "
            f"`campaign preview {campaign.id}` shows who it would reach."
        )
    start = campaign.started_at
    async with store.read() as tx:
        counts = await tx.campaigns.counts(campaign.id)
        delivered = await tx.campaigns.delivered(campaign.id)
        outcomes = await tx.campaigns.outcomes(
            campaign.id, start, reply_days=REPLY_DAYS, order_days=ORDER_DAYS
        )
    send, control = (a := arms(outcomes))["send"], a["control"]
    moods = Counter(label or "unlabelled" for _, label in outcomes.replies)
    mood = ", ".join(
        f"{name} {moods[name]}" for name in ("positive", "neutral", "negative", "unlabelled") if moods[name]
    )
    waiting = total(counts, "pending") + total(counts, "queued")
    elapsed = (now - start).days
    fields = [
        Field("Sent", f"{total(counts, 'sent'):,}"),
        Field("Delivered", f"{delivered:,} (Telegram gave a message id)"),
        Field("Failed", f"{total(counts, 'failed'):,}: {_reasons(by_reason(counts, 'failed'))}"),
        Field("Skipped", f"{total(counts, 'skipped'):,}: {_reasons(by_reason(counts, 'skipped'))}"),
        Field("Control group", f"{outcomes.control:,} held out ({campaign.control_pct}%)"),
        Field("Opted out", f"{outcomes.opted_out:,}"),
        Field(f"Replies ({REPLY_DAYS} days)", f"{len(outcomes.replies):,}" + (f": {mood}" if mood else "")),
        Field(f"Tickets opened ({REPLY_DAYS} days)", f"{outcomes.tickets_opened:,}"),
        Field(
            f"Orders ({ORDER_DAYS} days), received it",
            f"{_orders(send.orders)}, {format_money(send.revenue_cents)} from {send.customers:,} customers: "
            f"{format_money(round(send.per_customer))} each, {send.buyer_share:.0%} ordered",
        ),
        Field(
            f"Orders ({ORDER_DAYS} days), control group",
            f"{_orders(control.orders)}, {format_money(control.revenue_cents)} "
            f"from {control.customers:,} customers: "
            f"{format_money(round(control.per_customer))} each, {control.buyer_share:.0%} ordered"
            if control.customers
            else "no control group",
        ),
        Field("Lift", lift_words(send, control)),
    ]
    if waiting:
        fields.insert(0, Field("Still to send", f"{waiting:,} (quiet hours or queued)"))
    if total(counts, "cancelled"):
        fields.insert(0, Field("Cancelled before sending", f"{total(counts, 'cancelled'):,}"))
    days, send_line, control_line, sent, replies = _series(outcomes, start, tz, ORDER_DAYS)
    so_far = f"{elapsed} day{'s' if elapsed != 1 else ''} in" if elapsed < ORDER_DAYS else "complete"
    return Reply(
        title=f"Campaign #{campaign.id} report: {campaign.name}",
        text=f"{campaign.state.capitalize()}; sending started {format_local(start, tz)} ({so_far}). "
        f"Orders count from recipients the campaign meant to reach against the held-out control group.",
        fields=tuple(fields),
        image=campaign_png(
            title=f"Campaign #{campaign.id}: revenue per customer and daily activity",
            days=days,
            send_per_customer=send_line,
            control_per_customer=control_line,
            sent=sent,
            replies=replies,
        ),
        image_name=f"campaign-{campaign.id}.png",
    )


def campaign_line(campaign: CampaignRecord, counts: Counts, delivered: int) -> ListItem:
    """The digest's line for a campaign that finished in the period."""
    failed = total(counts, "failed")
    return ListItem(
        f"Campaign #{campaign.id} {campaign.name} finished: {total(counts, 'sent'):,} sent, "
        f"{delivered:,} delivered, {failed:,} failed, {total(counts, 'skipped'):,} skipped",
        f"`campaign report {campaign.id}` for replies, orders and the lift against the control group",
    )


async def finished_lines(store: Store, since: datetime, until: datetime) -> list[ListItem]:
    """A line per campaign that finished sending in [since, until)."""
    async with store.read() as tx:
        found = await tx.campaigns.finished_between(since, until)
        return [
            campaign_line(c, await tx.campaigns.counts(c.id), await tx.campaigns.delivered(c.id))
            for c in found
        ]


async def report(request: ReportRequest) -> Reply:
    """`report campaigns [days]`: the campaigns that finished in the period, a line each."""
    lines = await finished_lines(request.store, request.since, request.until)
    return Reply(
        title=request.title("campaigns"),
        text=f"{len(lines)} campaign{'s' if len(lines) != 1 else ''} finished sending"
        if lines
        else "No campaign finished sending in the period.",
        items=tuple(lines),
    )


register(ReportKind("campaigns", report, "campaigns that finished sending: sent, delivered, failed, skipped"))
