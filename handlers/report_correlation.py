"""`report correlation`: which per-customer figures move together (Spearman), as a heatmap, with
the strongest relations that are not noise spelled out in words."""

from __future__ import annotations

import asyncio

from crm_store.analysis import CustomerFigures
from handlers.messages import Field, ListItem, Reply
from handlers.report_charts import correlation_png, no_data_png
from handlers.report_kinds import ReportKind, ReportRequest, register
from insight.correlation import ALPHA, MIN_N, MIN_RHO, Correlations, Relation, spearman, strongest

# Figure -> (its name on the chart, "customers with ..." when high, what they do when it is high,
# and when it is low).
WORDS: dict[str, tuple[str, str, str, str]] = {
    "sentiment": ("sentiment", "more positive sentiment", "speak more positively", "speak more negatively"),
    "csat": ("CSAT", "higher CSAT", "give higher CSAT", "give lower CSAT"),
    "loyalty": ("loyalty", "higher loyalty scores", "score higher on loyalty", "score lower on loyalty"),
    "orders": ("orders", "more orders", "order more often", "order less often"),
    "revenue": ("revenue", "more revenue", "spend more", "spend less"),
    "tickets": ("tickets", "more tickets", "file more tickets", "file fewer tickets"),
    "first_response": (
        "first response",
        "slower first responses",
        "wait longer for a first answer",
        "get faster first answers",
    ),
}
# Related by construction (revenue is orders times their size; the loyalty score is computed
# from orders, revenue, sentiment, CSAT and tickets): on the heatmap, never reported as findings.
BY_CONSTRUCTION = frozenset(
    frozenset(pair)
    for pair in (
        ("orders", "revenue"),
        *(("loyalty", other) for other in ("orders", "revenue", "sentiment", "csat", "tickets")),
    )
)


def sentence(relation: Relation) -> str:
    """ "customers with slower first responses give lower CSAT: rho = -0.41, n = 312, p < 0.001"."""
    order = list(WORDS)
    cause, effect = sorted((relation.a, relation.b), key=order.index, reverse=True)
    _, _, up, down = WORDS[effect]
    subject = WORDS[cause][1]
    p = relation.p_adjusted
    p_text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return (
        f"customers with {subject} {up if relation.rho > 0 else down}: "
        f"rho = {relation.rho:+.2f}, n = {relation.n}, {p_text}"
    )


def _pair_line(relation: Relation) -> str:
    a, b = WORDS[relation.a][0], WORDS[relation.b][0]
    return f"{a} ~ {b}: {relation.rho:+.2f} (n = {relation.n})"


async def correlation(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        figures: CustomerFigures = await tx.analysis.customer_figures(
            request.since, request.until, owner=request.owner_filter
        )
    title = request.title("correlation")
    active = len(figures.customer_id)
    if active < MIN_N:
        text = (
            f"No data: {active} customer{'s' if active != 1 else ''} active in the {request.period_words}; "
            f"relations need at least {MIN_N} to tell from noise."
        )
        return Reply(title=title, text=text, image=no_data_png(title, text), image_name="correlation.png")
    found: Correlations = await asyncio.to_thread(spearman, figures.columns)
    findings = strongest(found, top=3, skip=BY_CONSTRUCTION)
    image = await asyncio.to_thread(
        lambda: correlation_png(
            title=title, names=[WORDS[name][0] for name in found.names], rho=found.rho, n=found.n
        )
    )
    computed = [r for r in found.relations if r.rho == r.rho]  # not NaN
    skipped = len(found.relations) - len(computed)
    bar = f"n ≥ {MIN_N}, Holm-corrected p < {ALPHA}, |rho| ≥ {MIN_RHO}"
    lead = (
        "The strongest relations between what customers do and how they feel:"
        if findings
        else f"No relation passes the bar ({bar}): nothing here is distinguishable from noise."
    )
    return Reply(
        title=title,
        text=lead,
        fields=(Field("Customers", str(active)),),
        items=tuple(ListItem(sentence(r)) for r in findings),
        context=(
            "Spearman rho per pair, over the customers with both figures: "
            + ("; ".join(_pair_line(r) for r in computed) or "none computed")
            + (f"; {skipped} pairs have too few customers with both figures" if skipped else "")
            + f". A relation is named when {bar}. Related by construction and never named: orders "
            "and revenue, and loyalty with orders, revenue, sentiment, CSAT and tickets (the score "
            "is computed from them). Together is not because: a relation is not a cause."
        ),
        image=image,
        image_name="correlation.png",
    )


KIND = register(
    ReportKind(
        "correlation",
        correlation,
        "which customer figures move together (Spearman heatmap), strongest relations in words",
        default_days=365,
    )
)
