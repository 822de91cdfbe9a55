"""`report NAME [days]` for managers: one code path for chat and the CLI (``build_report``) over
the registry in handlers.report_kinds. Activity and tickets live here; the other kinds in their
own modules, each registered with one line."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crm_store.store import Store

# Imported for their one register(...) line each: the built-in kinds beside activity and tickets.
from handlers import (  # noqa: F401
    campaign_report,
    forecast,
    report_correlation,
    report_loyalty,
    report_needs,
    report_satisfaction,
    segments,
)
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.messages import Field, ListItem, Reply
from handlers.parsing import format_money
from handlers.registry import Area, Command
from handlers.report_kinds import ReportKind, ReportRequest, get, names, register

REPORT_USAGE = "report NAME [days]"
MAX_DAYS = 366


async def activity(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        figures = await tx.reports.period(request.since, request.until)
    return Reply(
        title=request.title("activity"),
        text="New business and the team's logged interactions.",
        fields=(
            Field("New customers", str(figures.new_customers)),
            Field("Orders", str(figures.orders)),
            Field("Revenue", format_money(figures.revenue_cents)),
        ),
        items=tuple(ListItem(f"{name}: {n}") for name, n in figures.interactions_by_rep),
    )


async def tickets(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        figures = await tx.reports.period(request.since, request.until)
    median = figures.median_first_response
    return Reply(
        title=request.title("tickets"),
        text="Support tickets in the period.",
        fields=(
            Field("Opened", str(figures.tickets_opened)),
            Field("Resolved", str(figures.tickets_resolved)),
            Field("Breached SLA", str(figures.tickets_breached)),
            Field("Median first response", "n/a" if median is None else f"{median:.0f} min"),
        ),
    )


register(ReportKind("activity", activity, "new customers, orders, revenue, interactions per rep"))
register(ReportKind("tickets", tickets, "tickets opened, resolved, breached; median first response"))


def usage() -> str:
    return f"report {'|'.join(names())} [days]"


async def build_report(
    store: Store, name: str, days: int | None, *, tz: ZoneInfo, now: datetime, owner_filter: int | None = None
) -> Reply:
    """Report ``name`` over the last ``days`` (its own default when None); an unknown name or a
    day count out of range is a UserError that changes nothing."""
    kind = get(name.lower())
    if kind is None:  # a bad value, not a bad shape: answered, never read as free text
        raise UserError(f"There is no {name!r} report; the reports are {', '.join(names())}.", usage=usage())
    if days is None:
        days = kind.default_days
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"Days must be 1 to {MAX_DAYS}.", usage=usage())
    until = now + timedelta(seconds=1)  # what happened this second counts
    request = ReportRequest(
        store=store,
        days=days,
        since=until - timedelta(days=days),
        until=until,
        tz=tz,
        owner_filter=owner_filter,
    )
    return await kind.build(request)


async def report(ctx: Context) -> Reply:
    words = ctx.args.lower().split()
    if not words or len(words) > 2:
        raise UsageError("Which report?", usage=usage())
    days: int | None = None
    if len(words) == 2:
        if not words[1].isdecimal() or not 1 <= int(words[1]) <= MAX_DAYS:
            raise UserError(f"Days must be 1 to {MAX_DAYS}.", usage=usage())
        days = int(words[1])
    return await build_report(
        ctx.store, words[0], days, tz=ctx.tz, now=ctx.now(), owner_filter=ctx.scope.owner_filter
    )


COMMANDS = (
    Command(
        "report",
        report,
        REPORT_USAGE,
        "Analysis reports with charts (satisfaction, loyalty, needs, correlation, ...) over the last N days.",
        "report satisfaction 90",
        audience="manager",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
