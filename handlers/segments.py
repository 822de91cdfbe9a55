"""Segment commands: `segments` (the table and its chart), `segment <name>` (members, a page at a
time), `find segment:<name>`, the card's segment line, `report segments` and the digest's
segment moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from crm_store.segments import SegmentMove, SegmentRecord
from crm_store.store import Store
from handlers import actions
from handlers.charts import segments_png
from handlers.common import describe
from handlers.context import Context
from handlers.errors import NotFound, UsageError, UserError
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import format_money, one_line
from handlers.registry import Area, ButtonVerb, Command
from handlers.report_kinds import ReportKind, ReportRequest, register
from handlers.segment_filter import NOT_YET, SegmentFilter, resolve_segment
from insight.segment_features import FEATURES

SEGMENTS_USAGE = "segments"
SEGMENT_USAGE = "segment <name>"
PAGE = 10
SEARCH_POOL = 50
MORE_VERB = "segment-more"
# Short labels for the chart's columns, in FEATURES order.
LABELS = {
    "recency_days": "days since order",
    "frequency": "orders",
    "monetary": "revenue",
    "tenure_days": "tenure",
    "aov": "basket",
    "breadth": "products",
    "sentiment": "sentiment",
    "csat": "CSAT",
    "open_tickets": "open tickets",
    "breached_tickets": "breached",
    "loyalty": "loyalty",
}


def key_figures(segment: SegmentRecord) -> str:
    """The segment's medians in a rep's words ("last order 8 days ago, 14 orders, $1,680 spent")."""
    median = segment.figures.get("median", {})

    def get(name: str) -> float:
        return float(median.get(name, 0.0))

    if get("frequency") < 0.5:
        parts = ["no orders"]
    else:
        parts = [
            f"last order {get('recency_days'):.0f} days ago",
            f"{get('frequency'):.0f} order{'' if round(get('frequency')) == 1 else 's'}",
            f"{format_money(round(get('monetary')))} spent",
            f"{format_money(round(get('aov')))} a basket",
        ]
    parts += [f"CSAT {get('csat'):.1f}", f"loyalty {get('loyalty'):.0f}"]
    return "Median: " + ", ".join(parts)


def _share(size: int, total: int) -> str:
    return f"{size / total:.0%}" if total else "0%"


def segment_item(segment: SegmentRecord, total: int) -> ListItem:
    return ListItem(
        text=f"{segment.name} · {segment.size:,} customers ({_share(segment.size, total)})",
        detail=f"{segment.description}. {key_figures(segment)}.",
        buttons=(Button("Members", actions.encode("segment", segment.id)),),
    )


async def overview(
    store: Store, tz: ZoneInfo, until: datetime, *, title: str, moves_since: datetime | None = None
) -> Reply:
    """The segments table with its chart; with ``moves_since``, who moved since then (to ``until``)."""
    async with store.read() as tx:
        live = await tx.segments.live()
        moves = await tx.segments.moves_between(moves_since, until) if moves_since is not None else []
    if not live:
        return Reply(text=NOT_YET)
    total = sum(s.size for s in live)
    first = live[0].figures
    chosen = f"k = {first.get('k', len(live))}"
    if first.get("silhouette") is not None:
        chosen += f", silhouette {float(first['silhouette']):.2f}"
    computed = max(s.computed_at for s in live).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    sizes = "; ".join(f"{s.name} {s.size:,} ({_share(s.size, total)})" for s in live)
    z = [[float(v) for v in s.z()] for s in live]
    profiles = "; ".join(
        f"{s.name}: "
        + ", ".join(f"{LABELS[f]} {v:+.1f}" for f, v in zip(FEATURES, row, strict=True) if abs(v) >= 0.5)
        for s, row in zip(live, z, strict=True)
    )
    items = [segment_item(s, total) for s in live]
    items += [move_item(m) for m in moves]
    return Reply(
        title=title,
        text=f"{total:,} customers in {len(live)} segments (computed {computed}; {chosen}).\n"
        f"Sizes: {sizes}.\nWhat sets each apart (z-scores against the book, |z| ≥ 0.5): {profiles}.",
        items=tuple(items),
        context="Segments are KMeans clusters of recency, frequency, spend, tenure, basket, product "
        "breadth, sentiment, CSAT, tickets and loyalty; names follow what sets each centre apart.",
        image=segments_png(
            [s.name for s in live],
            [s.size for s in live],
            [LABELS[f] for f in FEATURES],
            z,
            title="Customer segments: sizes and profiles",
        ),
        image_name="segments.png",
    )


async def segments(ctx: Context) -> Reply:
    if ctx.args.strip():
        raise UsageError(
            "`segments` takes no arguments; `segment <name>` lists one's members.", usage=SEGMENTS_USAGE
        )
    return await overview(ctx.store, ctx.tz, ctx.now() + timedelta(seconds=1), title="Customer segments")


async def report(request: ReportRequest) -> Reply:
    """`report segments [days]`: the table, chart, and the moves of the last ``days`` days."""
    return await overview(
        request.store,
        request.tz,
        request.until,
        title=f"Segments report, moves over the {request.period_words}",
        moves_since=request.since,
    )


register(ReportKind("segments", report, "segment sizes and profiles, and who moved between segments"))


async def members_page(ctx: Context, segment: SegmentRecord, offset: int) -> Reply:
    """One page of the members the actor may see, with a "More" button while there are more."""
    scope = ctx.scope.owner_filter
    async with ctx.store.read() as tx:
        count = await tx.segments.member_count(segment.id, visible_to_rep=scope)
        found = await tx.segments.members(segment.id, limit=PAGE, offset=offset, visible_to_rep=scope)
    whose = " in your book" if scope is not None else ""
    if not found:
        text = f"No customers{whose} in {segment.name}." if offset == 0 else "No more customers."
        return Reply(title=segment.name, text=text)
    shown = f"{offset + 1}–{offset + len(found)} of {count:,}"
    more = offset + len(found) < count
    return Reply(
        title=f"{segment.name}: {count:,} customer{'s' if count != 1 else ''}{whose}",
        text=f"{segment.description}. {key_figures(segment)}.\nShowing {shown}.",
        items=tuple(
            ListItem(
                text=describe(c),
                detail=" · ".join(x for x in (c.email, c.phone, c.status) if x),
                buttons=(Button("Show", actions.encode("show", c.id)),),
            )
            for c in found
        ),
        buttons=(Button("More", actions.encode(MORE_VERB, f"{segment.id}.{offset + len(found)}")),)
        if more
        else (),
    )


async def segment(ctx: Context) -> Reply:
    ref = ctx.args.strip()
    if not ref:
        raise UsageError("Which segment?", usage=SEGMENT_USAGE)
    return await members_page(ctx, await resolve_segment(ctx.store, ref), 0)


async def more(ctx: Context) -> Reply:
    """The "More" button: the next page (``<segment id>.<offset>``)."""
    head, _, tail = ctx.args.partition(".")
    if not head.isdecimal() or not tail.isdecimal():
        raise UserError("That page is not one I made.")
    return await members_page(ctx, await resolve_segment(ctx.store, f"#{head}"), int(tail))


async def find_in_segment(ctx: Context, wanted: SegmentFilter) -> Reply:
    """`find segment:<name> [text]`: the segment's members, or those matching ``text``."""
    found = await resolve_segment(ctx.store, wanted.ref)
    if not wanted.rest:
        return await members_page(ctx, found, 0)
    candidates = await ctx.services.lookup.search(
        wanted.rest, limit=SEARCH_POOL, min_score=55, scope=ctx.scope
    )
    async with ctx.store.read() as tx:
        inside = await tx.segments.members_among(found.id, [c.customer.id for c in candidates])
    hits = [c.customer for c in candidates if c.customer.id in inside]
    if not hits:
        raise NotFound(f"No customer in {found.name} matches {one_line(wanted.rest, 60)!r}.")
    return Reply(
        title=f"{found.name}: customers matching {one_line(wanted.rest, 60)!r}",
        text=f"{len(hits)} found.",
        items=tuple(
            ListItem(
                text=describe(c),
                detail=" · ".join(x for x in (c.email, c.phone, c.status) if x),
                buttons=(Button("Show", actions.encode("show", c.id)),),
            )
            for c in hits[:PAGE]
        ),
    )


def segment_field(found: SegmentRecord | None) -> Field | None:
    """The card's line: "Segment: Champions — ordered recently and often, ..."."""
    if found is None:
        return None
    return Field("Segment", f"{found.name} — {found.description}")


def move_item(move: SegmentMove) -> ListItem:
    return ListItem(
        f"Segment change: {move.customers:,} customer{'s' if move.customers != 1 else ''} moved "
        f"{move.from_name} → {move.to_name}"
    )


COMMANDS = (
    Command(
        "segments",
        segments,
        SEGMENTS_USAGE,
        "Customer segments: sizes, what sets each apart, and a chart.",
        "segments",
        audience="manager",
    ),
    Command(
        "segment",
        segment,
        SEGMENT_USAGE,
        "The customers in one segment, a page at a time.",
        "segment champions",
        needs_args=True,
    ),
)
BUTTONS = (
    ButtonVerb("segment", "staff", command="segment #{}"),
    ButtonVerb(MORE_VERB, "staff", press=more),
)
AREA = Area(COMMANDS, BUTTONS)
