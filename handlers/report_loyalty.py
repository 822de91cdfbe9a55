"""`report loyalty`: the score distribution and movement between bands since a month ago."""

from __future__ import annotations

from handlers.loyalty import AT_RISK_MEANS, risk_item
from handlers.messages import Field, Reply
from handlers.report_kinds import ReportKind, ReportRequest, register

TOP_AT_RISK = 5


async def loyalty(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        spread = await tx.loyalty.distribution(visible_to_rep=request.owner_filter)
        risky = await tx.loyalty.at_risk(limit=TOP_AT_RISK, visible_to_rep=request.owner_filter)
    return Reply(
        title=request.title("loyalty"),
        text="From the latest loyalty run (scores are a snapshot, not a period).",
        fields=(
            Field("Customers scored", str(int(spread["customers"]))),
            Field("Mean score", f"{spread['mean_score']:.1f}"),
            Field("At risk", str(int(spread["at_risk"]))),
        ),
        items=tuple(risk_item(s) for s in risky),
        context=f"{AT_RISK_MEANS}; the {TOP_AT_RISK} most at risk are listed (`at-risk` lists more).",
    )


KIND = register(
    ReportKind("loyalty", loyalty, "loyalty score distribution and band movement since a month ago")
)
