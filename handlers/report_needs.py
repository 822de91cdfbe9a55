"""`report needs`: what customers ask for and complain about, as topics found in tickets,
feedback and interactions, each labelled by its top words, with counts per month and sentiment."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from crm_store.analysis import TextPoint
from handlers.messages import Field, ListItem, Reply
from handlers.report_charts import needs_png, no_data_png
from handlers.report_kinds import ReportKind, ReportRequest, register
from insight.topics import K_RANGE, MIN_TEXTS, find_topics

# More texts than this in the period: topics and counts come from a random sample of this many.
SAMPLE_TEXTS = 50_000


@dataclass(frozen=True, slots=True)
class TopicFigures:
    label: str
    count: int
    sentiment: float | None
    scored: int  # texts with a sentiment score
    monthly: tuple[int, ...]


def _month(point: TextPoint, request: ReportRequest) -> str:
    return point.at.astimezone(request.tz).strftime("%Y-%m")


def _months(request: ReportRequest) -> list[str]:
    first = request.since.astimezone(request.tz).date().replace(day=1)
    last = request.until.astimezone(request.tz).date()
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def analyse(
    points: list[TextPoint], request: ReportRequest
) -> tuple[list[TopicFigures], list[str], str] | None:
    """Topics with their figures (largest first), the months, and how k was chosen; None when
    the texts are too few. CPU work: run it off the event loop."""
    model = find_topics([p.text for p in points])
    if model is None:
        return None
    months = _months(request)
    column = {m: i for i, m in enumerate(months)}
    found = []
    for t, topic in enumerate(model.topics):
        mine = [p for p, a in zip(points, model.assignment, strict=True) if a == t]
        scores = [p.sentiment for p in mine if p.sentiment is not None]
        monthly = [0] * len(months)
        for p in mine:
            month = _month(p, request)
            if month in column:
                monthly[column[month]] += 1
        found.append(
            TopicFigures(
                label=topic.label,
                count=len(mine),
                sentiment=sum(scores) / len(scores) if scores else None,
                scored=len(scores),
                monthly=tuple(monthly),
            )
        )
    found.sort(key=lambda f: -f.count)
    how = (
        f"{model.k} topics, chosen by silhouette among {K_RANGE[0]}-{max(model.silhouette)} "
        f"({model.silhouette[model.k]:.2f}; near 0 would mean the texts hardly fall into topics)"
    )
    return found, months, how


async def needs(request: ReportRequest) -> Reply:
    async with request.store.read() as tx:
        points = await tx.analysis.texts(request.since, request.until, owner=request.owner_filter)
    title = request.title("needs")
    read = len(points)
    if read > SAMPLE_TEXTS:  # a report answers in seconds: topics and counts from a fair sample
        points = random.Random(0).sample(points, SAMPLE_TEXTS)
    result = await asyncio.to_thread(analyse, points, request)
    if result is None:
        text = (
            f"No data: {len(points)} text{'s' if len(points) != 1 else ''} from customers in the "
            f"{request.period_words}, too few to find topics in (at least {MIN_TEXTS} with words)."
        )
        return Reply(title=title, text=text, image=no_data_png(title, text), image_name="needs.png")
    topics, months, how = result
    image = await asyncio.to_thread(
        lambda: needs_png(
            title=title,
            labels=[t.label for t in topics],
            counts=[t.count for t in topics],
            sentiment=[t.sentiment for t in topics],
            months=months,
            monthly=[t.monthly for t in topics],
        )
    )
    sources = {s: sum(1 for p in points if p.source == s) for s in ("ticket", "feedback", "interaction")}
    assigned = sum(t.count for t in topics)
    return Reply(
        title=title,
        text="What customers ask for and complain about: topics in tickets, feedback and logged "
        "interactions, each named by its top words.",
        fields=(
            Field("Texts", f"{len(points)} ({', '.join(f'{n} {s}s' for s, n in sources.items())})"),
            *(() if read == len(points) else (Field("Sampled from", f"{read} texts in the period"),)),
            Field("Topics", str(len(topics))),
            Field("Without a topic", str(len(points) - assigned)),
        ),
        items=tuple(
            ListItem(
                f"{i + 1}. {t.label}: {t.count} texts, sentiment "
                + ("n/a" if t.sentiment is None else f"{t.sentiment:+.2f} (over {t.scored})"),
                detail="per month: " + " · ".join(f"{m} {n}" for m, n in zip(months, t.monthly, strict=True)),
            )
            for i, t in enumerate(topics)
        ),
        context=f"TF-IDF and NMF; {how}.",
        image=image,
        image_name="needs.png",
    )


KIND = register(
    ReportKind(
        "needs", needs, "topics customers raise, with counts per month and sentiment", default_days=180
    )
)
