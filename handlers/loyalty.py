"""Loyalty commands (loyalty <customer>, at-risk) and the reasons a score is low, in words."""

from __future__ import annotations

from crm_store.loyalty import AT_RISK, LoyaltyScore
from handlers import actions
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import format_money, one_line
from handlers.registry import Area, Command

LOYALTY_USAGE = "loyalty <customer>"
AT_RISK_USAGE = "at-risk"
AT_RISK_SIZE = 10
STALE_DAYS = 60  # no order for this long reads as a reason
LOW_CSAT = 3.0
# What "at risk" means, in the words every count of it is shown with.
AT_RISK_MEANS = f"At risk: customers who have ordered, with churn risk ≥ {AT_RISK:.0%} in the latest run"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def reasons(score: LoyaltyScore) -> list[str]:
    """What pulls the score down, most telling first ("no order in 94 days; 3 negative interactions")."""
    found: list[str] = []
    if score.previous_score is not None and score.previous_score - score.score >= 1:
        found.append(f"score fell {score.previous_score - score.score:.0f} points since the last run")
    if score.recency_days is None:
        found.append("never ordered")
    elif score.recency_days >= STALE_DAYS:
        found.append(f"no order in {score.recency_days} days")
    if score.negatives:
        found.append(_plural(score.negatives, "negative interaction"))
    if score.csat is not None and score.csat < LOW_CSAT:
        found.append(f"CSAT {score.csat:.1f}/5")
    if score.breached_tickets:
        found.append(_plural(score.breached_tickets, "breached ticket"))
    if score.open_tickets:
        found.append(_plural(score.open_tickets, "open ticket"))
    if not found:
        found.append("orders are few and small next to the rest of the book")
    return found


async def loyalty(ctx: Context) -> Reply:
    found = await pick_customer(ctx, ctx.args, rerun=lambda ref: f"loyalty {ref}", usage=LOYALTY_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.read() as tx:
        history = await tx.loyalty.for_customer(found.id)
    if not history:
        return Reply(
            text=f"{describe(found)} has no loyalty score yet; scores are computed nightly "
            "(or with `crm-bot loyalty recompute`)."
        )
    latest = history[0]
    trend = " → ".join(f"{h.score:.0f}" for h in reversed(history))
    last_order = "never" if latest.recency_days is None else f"{latest.recency_days} days ago"
    return Reply(
        title=f"Loyalty: {describe(found)}",
        text=f"Score {latest.score:.0f}/100, churn risk {latest.churn_risk:.0%} ({latest.run_date}).",
        fields=(
            Field("Last order", last_order),
            Field("Orders", f"{latest.order_count} · {format_money(latest.revenue_cents)}"),
            Field("Sentiment", "none recorded" if latest.sentiment is None else f"{latest.sentiment:+.2f}"),
            Field("CSAT", "none" if latest.csat is None else f"{latest.csat:.1f}/5"),
            Field("Tickets", f"{latest.open_tickets} open, {latest.breached_tickets} breached"),
            Field("History", trend),
        ),
        context="Why: " + "; ".join(reasons(latest)),
        buttons=(Button("Open customer", actions.encode("show", found.id)),),
    )


def risk_item(score: LoyaltyScore) -> ListItem:
    return ListItem(
        text=f"{one_line(score.customer_name, 60)} (#{score.customer_id}) · score {score.score:.0f}, "
        f"risk {score.churn_risk:.0%}",
        detail="; ".join(reasons(score)),
        buttons=(Button("Open", actions.encode("show", score.customer_id)),),
    )


async def at_risk(ctx: Context) -> Reply:
    scope = ctx.scope.owner_filter
    async with ctx.store.read() as tx:
        found = await tx.loyalty.at_risk(limit=AT_RISK_SIZE, visible_to_rep=scope)
        count = await tx.loyalty.at_risk_count(visible_to_rep=scope)
        run = await tx.loyalty.latest_run()
    if run is None:
        return Reply(
            text="No loyalty scores yet; they are computed nightly (or `crm-bot loyalty recompute`)."
        )
    if not found:
        return Reply(text=f"Nobody is at risk in the {run} scores.")
    shown = "highest first" if count <= len(found) else f"the {len(found)} highest"
    return Reply(
        title="At-risk customers",
        text=f"{_plural(count, 'customer')} at risk (churn risk ≥ {AT_RISK:.0%}) in the {run} scores, "
        f"{shown}:",
        items=tuple(risk_item(s) for s in found),
        context=f"{AT_RISK_MEANS}; leads who never ordered are not counted.",
    )


COMMANDS = (
    Command(
        "loyalty",
        loyalty,
        LOYALTY_USAGE,
        "A customer's loyalty score, churn risk and why.",
        "loyalty acme",
        needs_args=True,
    ),
    Command("at-risk", at_risk, AT_RISK_USAGE, "Customers most likely to leave, with reasons.", "at-risk"),
)
AREA = Area(COMMANDS)
