"""Manager reports over the last N days: satisfaction, loyalty, activity, tickets."""

from __future__ import annotations

from datetime import timedelta

from handlers.context import Context
from handlers.digests import daily_series
from handlers.errors import UsageError, UserError
from handlers.forecast import revenue_report
from handlers.loyalty import AT_RISK_MEANS, risk_item
from handlers.messages import Field, ListItem, Reply
from handlers.parsing import format_money
from handlers.registry import Area, Command

REPORT_USAGE = "report satisfaction|loyalty|activity|tickets|revenue [days]"
KINDS = ("satisfaction", "loyalty", "activity", "tickets", "revenue")
DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_AT_RISK = 5


async def report(ctx: Context) -> Reply:
    words = ctx.args.lower().split()
    if not words or words[0] not in KINDS or len(words) > 2:
        raise UsageError("Which report?", usage=REPORT_USAGE)
    days = DEFAULT_DAYS
    if len(words) == 2:
        if not words[1].isdecimal() or not 1 <= int(words[1]) <= MAX_DAYS:
            raise UserError(f"Days must be 1 to {MAX_DAYS}.", usage=REPORT_USAGE)
        days = int(words[1])
    kind = words[0]
    if kind == "revenue":  # the forecast's report (handlers/forecast.py)
        return await revenue_report(ctx, days if len(words) == 2 else None)
    until = ctx.now() + timedelta(seconds=1)  # what happened this second counts
    since = until - timedelta(days=days)
    async with ctx.store.read() as tx:
        figures = await tx.reports.period(since, until)
        spread = await tx.loyalty.distribution(visible_to_rep=ctx.scope.owner_filter)
        risky = await tx.loyalty.at_risk(limit=TOP_AT_RISK, visible_to_rep=ctx.scope.owner_filter)
    title = f"{kind.capitalize()} report, last {days} day{'s' if days != 1 else ''}"
    if kind == "satisfaction":
        _, sentiment, _, _ = daily_series(figures, ctx.tz)
        values = [s for s in sentiment if s is not None]
        negatives = sum(1 for _, s in figures.sentiment_points if s < -0.2)
        return Reply(
            title=title,
            text="Customer satisfaction from ticket ratings and the tone of what customers said.",
            fields=(
                Field("CSAT", "no ratings" if figures.csat is None else f"{figures.csat:.2f}/5"),
                Field("Ratings", str(figures.csat_count)),
                Field("Mean sentiment", "n/a" if not values else f"{sum(values) / len(values):+.2f}"),
                Field("Negative messages", str(negatives)),
            ),
        )
    if kind == "loyalty":
        return Reply(
            title=title,
            text="From the latest loyalty run (scores are a snapshot, not a period).",
            fields=(
                Field("Customers scored", str(int(spread["customers"]))),
                Field("Mean score", f"{spread['mean_score']:.1f}"),
                Field("At risk", str(int(spread["at_risk"]))),
            ),
            items=tuple(risk_item(s) for s in risky),
            context=f"{AT_RISK_MEANS}; the {TOP_AT_RISK} most at risk are listed (`at-risk` lists more).",
        )
    if kind == "activity":
        return Reply(
            title=title,
            text="New business and the team's logged interactions.",
            fields=(
                Field("New customers", str(figures.new_customers)),
                Field("Orders", str(figures.orders)),
                Field("Revenue", format_money(figures.revenue_cents)),
            ),
            items=tuple(ListItem(f"{name}: {n}") for name, n in figures.interactions_by_rep),
        )
    median = figures.median_first_response
    return Reply(
        title=title,
        text="Support tickets in the period.",
        fields=(
            Field("Opened", str(figures.tickets_opened)),
            Field("Resolved", str(figures.tickets_resolved)),
            Field("Breached SLA", str(figures.tickets_breached)),
            Field("Median first response", "n/a" if median is None else f"{median:.0f} min"),
        ),
    )


COMMANDS = (
    Command(
        "report",
        report,
        REPORT_USAGE,
        "Satisfaction, loyalty, activity or ticket figures over the last N days.",
        "report tickets 7",
        audience="manager",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
