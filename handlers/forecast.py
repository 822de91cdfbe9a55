"""Sales forecast: `forecast <customer>|team [days]` with a chart, the card's forecast line,
`report revenue`, and the weekly digest's revenue at risk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from crm_store.forecast import StoredForecast
from crm_store.store import Store, Tx
from handlers import access, actions
from handlers.charts import revenue_forecast_png
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.forecast_book import (
    DEFAULT_HORIZON,
    MAX_HORIZON,
    BookForecast,
    TooLittleHistory,
    book_forecast,
    monthly_history,
    scoped_mask,
    seasonal_index,
    split_by_month,
)
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import one_line
from handlers.registry import Area, Command
from handlers.report_kinds import ReportKind, ReportRequest, register
from insight.forecast import BGNBD, revenue_interval
from insight.forecast_features import Snapshot

FORECAST_USAGE = "forecast <customer>|team [days]"
HISTORY_MONTHS = 12
TOP_AT_RISK_REVENUE = 5
TOO_LITTLE = (
    "There is too little order history to forecast yet ({why}): the forecast needs customers "
    "who have ordered more than once."
)


def about(cents: float) -> str:
    """Money rounded to whole units, as a forecast should be read: "$1,840"."""
    return f"${cents / 100:,.0f}"


def forecast_sentence(days: int, orders: float, revenue_cents: float, p_active: float) -> str:
    return (
        f"next {days} days: {orders:.1f} orders, about {about(revenue_cents)}; {p_active:.0%} likely to order"
    )


def card_line(stored: StoredForecast | None) -> str | None:
    """The card's forecast line from the latest nightly run (None: no forecast yet)."""
    if stored is None:
        return None
    sentence = forecast_sentence(
        stored.horizon_days, stored.expected_orders, stored.expected_revenue_cents, stored.p_active
    )
    return sentence[0].upper() + sentence[1:]


async def card_forecast(tx: Tx, customer_id: int) -> str | None:
    return card_line(await tx.forecast.latest_for(customer_id))


def _model_words(book: BookForecast) -> str:
    fitted = book.forecast
    if fitted.model == BGNBD:
        return f"BG/NBD customer-base model (too little history for the regression: {fitted.note})"
    return f"gradient boosting trained on {fitted.windows} monthly windows of the book's own history"


def _parse(args: str) -> tuple[str, int]:
    words = args.split()
    days = DEFAULT_HORIZON
    if len(words) > 1 and words[-1].isdecimal():
        days = int(words[-1])
        words = words[:-1]
        if not 7 <= days <= MAX_HORIZON:
            raise UserError(f"Days must be 7 to {MAX_HORIZON}.", usage=FORECAST_USAGE)
    if not words:
        raise UsageError("Forecast whom?", usage=FORECAST_USAGE)
    return " ".join(words), days


async def _book(store: Store, today: date, days: int) -> BookForecast | Reply:
    try:
        return await book_forecast(store, as_of=today, horizon_days=days)
    except TooLittleHistory as exc:
        return Reply(text=TOO_LITTLE.format(why=exc))


async def forecast_command(ctx: Context) -> Reply:
    who, days = _parse(ctx.args)
    if who.lower() == "team":
        return await team_forecast(ctx.store, ctx.now().date(), ctx.scope.owner_filter, days)
    found = await pick_customer(ctx, who, rerun=lambda ref: f"forecast {ref} {days}", usage=FORECAST_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.read() as tx:
        orders = await tx.orders.for_customer(found.id, limit=1)
    if not orders:
        return Reply(text=f"{describe(found)} has no orders yet, so there is nothing to forecast from.")
    book = await _book(ctx.store, ctx.now().date(), days)
    if isinstance(book, Reply):
        return book
    return customer_reply(book, found.id, describe(found), days)


def _why(snap: Snapshot, index: int) -> str:
    """The customer's history in a rep's words, from the snapshot's features."""
    orders = snap.orders[index]
    recency, orders_365, gap = (snap.feature(n)[index] for n in ("recency_days", "orders_365", "gap_mean"))
    parts = [f"{orders:.0f} order{'s' if orders != 1 else ''} so far, {orders_365:.0f} in the last year"]
    parts.append(f"last one {recency:.0f} days ago")
    if np.isfinite(gap):
        parts.append(f"usually every {gap:.0f} days")
        if recency > 2.5 * max(gap, 1.0):
            parts.append("well past the usual gap, so they may have lapsed")
    else:
        parts.append("only one order, so the forecast leans on customers like them")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class CustomerForecast:
    """One customer's figures from the book's forecast (cents; a 90% range of the revenue)."""

    customer_id: int
    horizon_days: int
    expected_orders: float
    expected_revenue_cents: float
    low_cents: float
    high_cents: float
    p_active: float
    model: str
    as_of: date
    index: int  # the customer's row in the forecast's snapshot


def customer_figures(book: BookForecast, customer_id: int, days: int) -> CustomerForecast | None:
    """The figures `forecast <customer>` and the API show; None when the customer had no orders
    by the forecast's day."""
    from scipy.stats import poisson

    fitted = book.forecast
    at = int(np.searchsorted(fitted.ids, customer_id))
    if at >= len(fitted.ids) or fitted.ids[at] != customer_id:
        return None
    orders = float(fitted.expected_orders[at])
    revenue = float(fitted.expected_revenue[at])
    spend = revenue / orders if orders > 1e-9 else 0.0
    low, high = (float(q) * spend for q in poisson.ppf([0.05, 0.95], max(orders, 1e-9)))
    return CustomerForecast(
        customer_id=customer_id,
        horizon_days=days,
        expected_orders=orders,
        expected_revenue_cents=revenue,
        low_cents=low,
        high_cents=high,
        p_active=min(max(float(fitted.p_active[at]), 0.0), 1.0),
        model=fitted.model,
        as_of=book.as_of,
        index=int(np.flatnonzero(fitted.snapshot.present)[at]),
    )


async def forecast_for(
    ctx: Context, customer_id: int, days: int = DEFAULT_HORIZON
) -> CustomerForecast | None:
    """The customer's forecast as of today (the book's fit is cached for the day); None when
    they have no orders. TooLittleHistory when the book cannot be forecast yet."""
    if not 7 <= days <= MAX_HORIZON:
        raise UserError(f"Days must be 7 to {MAX_HORIZON}.", usage=FORECAST_USAGE)
    await access.check_id(ctx, customer_id)
    book = await book_forecast(ctx.store, as_of=ctx.now().date(), horizon_days=days)
    return customer_figures(book, customer_id, days)


def customer_reply(book: BookForecast, customer_id: int, name: str, days: int) -> Reply:
    figures = customer_figures(book, customer_id, days)
    if figures is None:
        return Reply(
            text=f"{name} has no orders on or before {book.as_of}, so there is nothing to forecast from."
        )
    fitted = book.forecast
    orders, revenue, p = figures.expected_orders, figures.expected_revenue_cents, figures.p_active
    low, high = figures.low_cents, figures.high_cents
    index = figures.index
    months, actual = monthly_history(
        book.rows, until=book.as_of, months=HISTORY_MONTHS, customer_ids=np.array([customer_id])
    )
    spread = split_by_month(
        revenue, start=book.as_of, horizon_days=days, index=seasonal_index(book.rows, until=book.as_of)
    )
    ratio_low, ratio_high = (low / revenue, high / revenue) if revenue > 0 else (0.0, 0.0)
    chart = [(m, v / 100, v * ratio_low / 100, v * ratio_high / 100) for m, v in spread]
    sentence = forecast_sentence(days, orders, revenue, p)
    return Reply(
        title=f"Forecast: {name}",
        text=sentence[0].upper() + sentence[1:] + f" (90% range {about(low)} to {about(high)}).",
        fields=(
            Field("Expected orders", f"{orders:.1f}"),
            Field("Expected revenue", about(revenue)),
            Field("Likely to order", f"{p:.0%}"),
            Field("Average order", about(float(fitted.snapshot.mean_spend[index]))),
            Field("Model", _model_words(book)),
        ),
        items=tuple(
            ListItem(f"{m.strftime('%b %Y')}: {about(v)} actual")
            for m, v in zip(months, actual, strict=True)
            if v
        )
        + tuple(ListItem(f"{m.strftime('%b %Y')}: {about(v)} forecast") for m, v in spread),
        context=f"Why: {_why(fitted.snapshot, index)}. As of {book.as_of}.",
        image=revenue_forecast_png(
            months,
            [v / 100 for v in actual],
            chart,
            title=f"{one_line(name, 40)}: monthly revenue and forecast",
        ),
        image_name="forecast.png",
        buttons=(Button("Open customer", actions.encode("show", customer_id)),),
    )


async def team_forecast(store: Store, today: date, scope: int | None, days: int, *, title: str = "") -> Reply:
    """The whole book (or, under owner scoping, the reader's customers: ``scope`` is the rep's
    id): expected revenue with its interval, month by month, and the chart."""
    book = await _book(store, today, days)
    if isinstance(book, Reply):
        return book
    fitted = book.forecast
    mask = await scoped_mask(store, fitted, scope)
    newcomers = fitted.new_customer_revenue if scope is None else 0.0
    orders, revenue = fitted.expected_orders[mask], fitted.expected_revenue[mask]
    total, low, high = revenue_interval(orders, revenue, fitted.total_error, extra=newcomers)
    months, actual = monthly_history(
        book.rows,
        until=book.as_of,
        months=HISTORY_MONTHS,
        customer_ids=None if scope is None else fitted.ids[mask],
    )
    spread = split_by_month(
        total, start=book.as_of, horizon_days=days, index=seasonal_index(book.rows, until=book.as_of)
    )
    ratio_low, ratio_high = (low / total, high / total) if total > 0 else (0.0, 0.0)
    chart = [(m, v / 100, v * ratio_low / 100, v * ratio_high / 100) for m, v in spread]
    whose = "the whole book" if scope is None else "your customers and unowned ones"
    likely = int((fitted.p_active[mask] >= 0.5).sum())
    text = (
        f"Next {days} days for {whose}: about {about(total)} (90% interval {about(low)} to {about(high)}), "
        f"{orders.sum():.0f} orders expected from {int(mask.sum())} customers who have ordered; "
        f"{likely} of them are more likely than not to order."
    )
    if newcomers:
        text += f" Included: {about(newcomers)} from customers not yet in the book, at the recent rate."
    items = [
        ListItem(f"{m.strftime('%b %Y')}: {about(v)} actual") for m, v in zip(months, actual, strict=True)
    ]
    items += [
        ListItem(
            f"{m.strftime('%b %Y')}: {about(v)} forecast",
            detail=f"90%: {about(v * ratio_low)} to {about(v * ratio_high)}",
        )
        for m, v in spread
    ]
    return Reply(
        title=title or f"Forecast: {whose}, next {days} days",
        text=text,
        items=tuple(items),
        context=f"Model: {_model_words(book)}. As of {book.as_of}; amounts in the book's currency.",
        image=revenue_forecast_png(
            months, [v / 100 for v in actual], chart, title="Monthly revenue and forecast"
        ),
        image_name="forecast-team.png",
    )


async def revenue_report(request: ReportRequest) -> Reply:
    """`report revenue [days]`: monthly revenue with the forecast over the next ``days`` (90
    when not given)."""
    horizon = request.days
    if not 7 <= horizon <= MAX_HORIZON:
        raise UserError(
            f"Days must be 7 to {MAX_HORIZON} for the revenue forecast.", usage="report revenue [days]"
        )
    today = request.until.astimezone(request.tz).date()
    return await team_forecast(
        request.store,
        today,
        request.owner_filter,
        horizon,
        title=f"Revenue report: the last {HISTORY_MONTHS} months and the next {horizon} days",
    )


register(
    ReportKind(
        "revenue",
        revenue_report,
        "monthly revenue of the last year and the forecast for the next N days",
        default_days=DEFAULT_HORIZON,
    )
)


def revenue_at_risk_item(stored: StoredForecast) -> ListItem:
    at_risk = stored.revenue_at_risk_cents
    return ListItem(
        text=f"Revenue at risk: {one_line(stored.customer_name, 60)} (#{stored.customer_id}) · "
        f"{about(at_risk)} over {stored.horizon_days} days",
        detail=f"{stored.p_active:.0%} likely to order; expected {about(stored.expected_revenue_cents)}",
        buttons=(Button("Open", actions.encode("show", stored.customer_id)),),
    )


COMMANDS = (
    Command(
        "forecast",
        forecast_command,
        FORECAST_USAGE,
        "Expected orders and revenue for a customer or the team, with a chart.",
        "forecast acme 90",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
