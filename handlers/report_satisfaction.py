"""`report satisfaction`: CSAT and sentiment distributions (histograms) and their weekly trend."""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.messages import Field, ListItem, Reply
from handlers.report_charts import no_data_png, satisfaction_png
from handlers.report_kinds import ReportKind, ReportRequest, register

NEGATIVE = -0.2  # a message scoring under this counts as negative (as in the digest)
POSITIVE = 0.2
SENTIMENT_EDGES = tuple(round(-1 + 0.2 * i, 1) for i in range(11))  # ten buckets of 0.2


def week_of(moment: datetime, tz: ZoneInfo) -> date:
    """The Monday (in the reader's zone) of the week ``moment`` falls in."""
    day = moment.astimezone(tz).date()
    return day - timedelta(days=day.weekday())


def _bucket(score: float) -> int:
    """The bucket [a, b) holding ``score`` (the last one holds +1.0 too)."""
    return min(max(bisect_right(SENTIMENT_EDGES, score) - 1, 0), len(SENTIMENT_EDGES) - 2)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


async def satisfaction(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        ratings = await tx.analysis.ratings(request.since, request.until, owner=request.owner_filter)
        said = await tx.analysis.sentiments(request.since, request.until, owner=request.owner_filter)
    title = request.title("satisfaction")
    if not ratings and not said:
        text = f"No data: no CSAT ratings and no sentiment recorded in the {request.period_words}."
        return Reply(
            title=title,
            text=text,
            fields=(
                Field("CSAT", "no ratings"),
                Field("Ratings", "0"),
                Field("Mean sentiment", "n/a"),
                Field("Negative messages", "0"),
            ),
            image=no_data_png(title, text),
            image_name="satisfaction.png",
        )
    csat_counts = [0] * 5
    for _, rating in ratings:
        csat_counts[rating - 1] += 1
    tone_counts = [0] * (len(SENTIMENT_EDGES) - 1)
    for _, score in said:
        tone_counts[_bucket(score)] += 1
    first, last = (
        week_of(request.since, request.tz),
        week_of(request.until - timedelta(microseconds=1), request.tz),
    )
    weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    rated_by_week: dict[date, list[float]] = defaultdict(list)
    said_by_week: dict[date, list[float]] = defaultdict(list)
    for at, rating in ratings:
        rated_by_week[week_of(at, request.tz)].append(rating)
    for at, score in said:
        said_by_week[week_of(at, request.tz)].append(score)
    weekly_csat = [_mean(rated_by_week[w]) for w in weeks]
    weekly_tone = [_mean(said_by_week[w]) for w in weeks]
    scores = [s for _, s in said]
    csat = _mean([float(r) for _, r in ratings])
    tone = _mean(scores)
    negatives = sum(1 for s in scores if s < NEGATIVE)
    positives = sum(1 for s in scores if s >= POSITIVE)
    image = await asyncio.to_thread(
        lambda: satisfaction_png(
            title=title,
            csat_counts=csat_counts,
            sentiment_edges=SENTIMENT_EDGES,
            sentiment_counts=tone_counts,
            weeks=weeks,
            weekly_csat=weekly_csat,
            weekly_sentiment=weekly_tone,
        )
    )
    buckets = " · ".join(
        f"{a:+.1f}…{b:+.1f}: {n}"
        for a, b, n in zip(SENTIMENT_EDGES, SENTIMENT_EDGES[1:], tone_counts, strict=False)
    )
    return Reply(
        title=title,
        text=(
            "Customer satisfaction from ticket ratings and the tone of what customers said.\n"
            f"CSAT ratings: {' · '.join(f'{i + 1}★ {n}' for i, n in enumerate(csat_counts))}\n"
            f"Sentiment: {negatives} negative, {len(scores) - negatives - positives} neutral, "
            f"{positives} positive; by bucket {buckets}"
        ),
        fields=(
            Field("CSAT", "no ratings" if csat is None else f"{csat:.2f}/5"),
            Field("Ratings", str(len(ratings))),
            Field("Mean sentiment", "n/a" if tone is None else f"{tone:+.2f}"),
            Field("Negative messages", str(negatives)),
        ),
        items=tuple(
            ListItem(
                f"Week of {w:%d %b}: CSAT "
                + ("–" if c is None else f"{c:.2f} ({len(rated_by_week[w])})")
                + ", sentiment "
                + ("–" if s is None else f"{s:+.2f} ({len(said_by_week[w])})")
            )
            for w, c, s in zip(weeks, weekly_csat, weekly_tone, strict=True)
        ),
        context="Weekly figures: the mean, with how many ratings or messages it is over in brackets. "
        f"Negative: sentiment under {NEGATIVE:+.1f}; positive: {POSITIVE:+.1f} and over.",
        image=image,
        image_name="satisfaction.png",
    )


KIND = register(
    ReportKind(
        "satisfaction", satisfaction, "CSAT and sentiment: distributions and weekly trend", default_days=90
    )
)
