"""`report loyalty`: the latest run's score distribution, and movement between bands since a run
at least N days older (a transition table); the most at-risk customers listed as before."""

from __future__ import annotations

import asyncio

from handlers.loyalty import AT_RISK_MEANS, risk_item
from handlers.messages import Field, Reply
from handlers.report_charts import loyalty_png, no_data_png
from handlers.report_kinds import ReportKind, ReportRequest, register

TOP_AT_RISK = 5
EDGES = tuple(float(x) for x in range(0, 101, 10))
# Score bands (lower bound inclusive). Under 40 is where the churn curve passes 50% (theta).
BANDS = (("low", 0.0), ("middle", 40.0), ("high", 70.0))
NEW = "not scored"


def band_of(score: float) -> int:
    return max(i for i, (_, low) in enumerate(BANDS) if score >= low)


def band_names() -> list[str]:
    """ "low (under 40)", "middle (40-69)", "high (70+)"."""
    names = []
    for i, (name, low) in enumerate(BANDS):
        if i == 0:
            names.append(f"{name} (under {BANDS[1][1]:.0f})")
        elif i == len(BANDS) - 1:
            names.append(f"{name} ({low:.0f}+)")
        else:
            names.append(f"{name} ({low:.0f}-{BANDS[i + 1][1] - 1:.0f})")
    return names


def transitions(then: dict[int, float], now: dict[int, float]) -> list[list[int]]:
    """Rows: band then (the last row: not scored then); columns: band now."""
    table = [[0] * len(BANDS) for _ in range(len(BANDS) + 1)]
    for customer_id, score in now.items():
        before = then.get(customer_id)
        table[len(BANDS) if before is None else band_of(before)][band_of(score)] += 1
    return table


async def loyalty(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        spread = await tx.loyalty.distribution(visible_to_rep=request.owner_filter)
        risky = await tx.loyalty.at_risk(limit=TOP_AT_RISK, visible_to_rep=request.owner_filter)
        runs = await tx.analysis.loyalty_runs(days_back=request.days, owner=request.owner_filter)
    title = f"Loyalty report, bands against {request.days} day{'s' if request.days != 1 else ''} earlier"
    fields = (
        Field("Customers scored", str(int(spread["customers"]))),
        Field("Mean score", f"{spread['mean_score']:.1f}"),
        Field("At risk", str(int(spread["at_risk"]))),
    )
    items = tuple(risk_item(s) for s in risky)
    context = f"{AT_RISK_MEANS}; the {TOP_AT_RISK} most at risk are listed (`at-risk` lists more)."
    if runs.latest is None or not runs.scores:
        text = "No data: no loyalty scores yet; they are computed nightly (or `crm-bot loyalty recompute`)."
        return Reply(
            title=title,
            text=text,
            fields=fields,
            items=items,
            context=context,
            image=no_data_png(title, text),
            image_name="loyalty.png",
        )
    counts = [0] * (len(EDGES) - 1)
    for score in runs.scores.values():
        counts[min(int(score // 10), len(counts) - 1)] += 1
    names = band_names()
    table = None if runs.earlier is None else transitions(runs.earlier_scores, runs.scores)
    lines = [
        f"Scores in the {runs.latest} run, by 10 points from 0: " + " · ".join(str(n) for n in counts),
    ]
    if table is None:
        moves_title = f"No run {request.days} days before {runs.latest}"
        lines.append(
            f"No loyalty run is {request.days} or more days older than {runs.latest}, so there is no "
            "movement to show yet (runs are kept, so it appears once the history is long enough)."
        )
    else:
        moves_title = f"Band moves, {runs.earlier} → {runs.latest}"
        up = sum(table[i][j] for i in range(len(BANDS)) for j in range(len(BANDS)) if j > i)
        down = sum(table[i][j] for i in range(len(BANDS)) for j in range(len(BANDS)) if j < i)
        stayed = sum(table[i][i] for i in range(len(BANDS)))
        lines.append(
            f"Since {runs.earlier}: {up} moved up a band, {down} moved down, {stayed} stayed, "
            f"{sum(table[-1])} were not scored then."
        )
        for name, row in zip([*names, NEW], table, strict=True):
            lines.append(
                f"then {name} → now " + ", ".join(f"{b}: {n}" for b, n in zip(names, row, strict=True))
            )
    image = await asyncio.to_thread(
        lambda: loyalty_png(
            title=title,
            edges=EDGES,
            counts=counts,
            bands_from=[*names, NEW],
            bands_to=names,
            moves=table,
            moves_title=moves_title,
        )
    )
    return Reply(
        title=title,
        text="\n".join(lines),
        fields=fields,
        items=items,
        context=context,
        image=image,
        image_name="loyalty.png",
    )


KIND = register(
    ReportKind(
        "loyalty", loyalty, "loyalty score distribution and band movement since N days ago (default 30)"
    )
)
