"""`report satisfaction`: CSAT and sentiment distributions and their weekly trend."""

from __future__ import annotations

from handlers.digests import daily_series
from handlers.messages import Field, Reply
from handlers.report_kinds import ReportKind, ReportRequest, register


async def satisfaction(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        figures = await tx.reports.period(request.since, request.until)
    _, sentiment, _, _ = daily_series(figures, request.tz)
    values = [s for s in sentiment if s is not None]
    negatives = sum(1 for _, s in figures.sentiment_points if s < -0.2)
    return Reply(
        title=request.title("satisfaction"),
        text="Customer satisfaction from ticket ratings and the tone of what customers said.",
        fields=(
            Field("CSAT", "no ratings" if figures.csat is None else f"{figures.csat:.2f}/5"),
            Field("Ratings", str(figures.csat_count)),
            Field("Mean sentiment", "n/a" if not values else f"{sum(values) / len(values):+.2f}"),
            Field("Negative messages", str(negatives)),
        ),
    )


KIND = register(
    ReportKind("satisfaction", satisfaction, "CSAT and sentiment: distributions and weekly trend")
)
