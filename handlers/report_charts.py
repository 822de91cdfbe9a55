"""The analysis reports' charts, drawn from plain data as PNG bytes sized for Slack (1000 x 600 px),
in the style of handlers.charts: Agg, no pyplot, and a panel with nothing to draw says so."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_PX, HEIGHT_PX, DPI = 1000, 600, 100
_GREY = "#757575"
_GREEN = "#2e7d32"
_BLUE = "#1565c0"
_LIGHT = "#9e9e9e"


def _figure() -> Figure:
    # Imported here: matplotlib adds a third of a second to every start, and most never draw.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI)  # no tight bbox: the size stays exact
    return out.getvalue()


def _empty(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", color=_GREY, transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


def no_data_png(title: str, text: str) -> bytes:
    """A chart that says there is nothing to draw, instead of empty axes."""
    figure = _figure()
    figure.suptitle(title)
    figure.text(0.5, 0.5, text, ha="center", va="center", color=_GREY, fontsize="large")
    return _png(figure)


def satisfaction_png(
    *,
    title: str,
    csat_counts: Sequence[int],  # ratings 1..5
    sentiment_edges: Sequence[float],
    sentiment_counts: Sequence[int],
    weeks: Sequence[date],
    weekly_csat: Sequence[float | None],
    weekly_sentiment: Sequence[float | None],
) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    figure.suptitle(title)
    grid = figure.add_gridspec(2, 2, width_ratios=(1, 1.4))
    ratings, tones, trend = (
        figure.add_subplot(grid[0, 0]),
        figure.add_subplot(grid[1, 0]),
        figure.add_subplot(grid[:, 1]),
    )
    ratings.set_title("CSAT ratings", fontsize="medium")
    if sum(csat_counts):
        ratings.bar(range(1, 6), csat_counts, color=_BLUE)
        ratings.set_xticks(range(1, 6))
        ratings.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _empty(ratings, "no ratings")
    tones.set_title("Sentiment of what customers said", fontsize="medium")
    if sum(sentiment_counts):
        widths = [b - a for a, b in pairwise(sentiment_edges)]
        colors = ["#c62828" if a < -0.2 else _GREEN if a >= 0.2 else _LIGHT for a in sentiment_edges[:-1]]
        tones.bar(sentiment_edges[:-1], sentiment_counts, widths, align="edge", color=colors)
        tones.set_xlim(-1, 1)
        tones.yaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        _empty(tones, "no sentiment recorded")
    trend.set_title("Weekly trend", fontsize="medium")
    xs = list(range(len(weeks)))
    csat_points = [(x, v) for x, v in zip(xs, weekly_csat, strict=True) if v is not None]
    tone_points = [(x, v) for x, v in zip(xs, weekly_sentiment, strict=True) if v is not None]
    if csat_points or tone_points:
        trend.set_ylabel("CSAT (1-5)", color=_BLUE)
        trend.set_ylim(0.9, 5.1)
        if csat_points:
            trend.plot(*zip(*csat_points, strict=True), marker="o", color=_BLUE, label="CSAT")
        other = trend.twinx()
        other.set_ylabel("sentiment (-1 to +1)", color=_GREEN)
        other.set_ylim(-1.05, 1.05)
        other.axhline(0, color="#bbbbbb", linewidth=0.8)
        if tone_points:
            other.plot(*zip(*tone_points, strict=True), marker="s", color=_GREEN, label="sentiment")
        trend.set_xlim(-0.5, len(xs) - 0.5)
        step = max(1, len(xs) // 10)
        trend.set_xticks(
            xs[::step], [w.strftime("%d %b") for w in weeks][::step], rotation=45, fontsize="small"
        )
        trend.set_xlabel("week starting")
    else:
        _empty(trend, "nothing rated or said")
    figure.tight_layout()
    return _png(figure)


def loyalty_png(
    *,
    title: str,
    edges: Sequence[float],
    counts: Sequence[int],
    bands_from: Sequence[str],
    bands_to: Sequence[str],
    moves: Sequence[Sequence[int]] | None,  # rows: band then, columns: band now
    moves_title: str,
) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    figure.suptitle(title)
    spread, table = figure.subplots(1, 2, gridspec_kw={"width_ratios": (1.2, 1)})
    spread.set_title("Scores in the latest run", fontsize="medium")
    widths = [b - a for a, b in pairwise(edges)]
    spread.bar(edges[:-1], counts, widths, align="edge", color=_BLUE, edgecolor="white")
    spread.set_xlim(edges[0], edges[-1])
    spread.set_xlabel("loyalty score")
    spread.set_ylabel("customers")
    spread.yaxis.set_major_locator(MaxNLocator(integer=True))
    table.set_title(moves_title, fontsize="medium")
    if moves is None:
        _empty(table, "no run a month older to compare with")
    else:
        import numpy as np

        grid = np.asarray(moves, dtype=float)
        table.imshow(grid, cmap="Blues", aspect="auto")
        top = grid.max() or 1.0
        for i in range(grid.shape[0]):
            for j in range(grid.shape[1]):
                shade = "white" if grid[i, j] > top * 0.6 else "black"
                table.text(j, i, f"{int(grid[i, j])}", ha="center", va="center", color=shade)
        table.set_xticks(range(len(bands_to)), bands_to, fontsize="small")
        table.set_yticks(range(len(bands_from)), bands_from, fontsize="small")
        table.set_xlabel("band now")
        table.set_ylabel("band then")
    figure.tight_layout()
    return _png(figure)


def needs_png(
    *,
    title: str,
    labels: Sequence[str],
    counts: Sequence[int],
    sentiment: Sequence[float | None],
    months: Sequence[str],
    monthly: Sequence[Sequence[int]],  # topic x month
) -> bytes:
    from matplotlib import colormaps

    figure = _figure()
    figure.suptitle(title)
    bars, trend = figure.subplots(1, 2, gridspec_kw={"width_ratios": (1.3, 1)})
    cmap = colormaps["RdYlGn"]
    ys = list(range(len(labels)))[::-1]  # the first topic on top
    colors = [_LIGHT if s is None else cmap((s + 1) / 2) for s in sentiment]
    bars.barh(ys, counts, color=colors, edgecolor=_GREY)
    bars.set_yticks(ys, [f"{i + 1}. {label}" for i, label in enumerate(labels)], fontsize="small")
    bars.set_xlabel("texts (colour: mean sentiment, red negative, green positive)")
    bars.set_title("Topics", fontsize="medium")
    for y, n, s in zip(ys, counts, sentiment, strict=True):
        bars.text(n, y, f" {n}" + ("" if s is None else f" ({s:+.2f})"), va="center", fontsize="small")
    bars.set_xlim(0, max(counts) * 1.35 if counts and max(counts) else 1)
    trend.set_title("Texts per month", fontsize="medium")
    xs = list(range(len(months)))
    for i, row in enumerate(monthly):
        trend.plot(xs, row, marker="o", label=f"{i + 1}")
    trend.set_xticks(xs, months, rotation=45 if len(xs) > 4 else 0, fontsize="small")
    trend.set_ylim(bottom=0)
    trend.legend(title="topic", fontsize="small", loc="upper left")
    figure.tight_layout()
    return _png(figure)


def correlation_png(*, title: str, names: Sequence[str], rho: Any, n: Any) -> bytes:
    import numpy as np

    figure = _figure()
    figure.suptitle(title)
    axes = figure.add_subplot(1, 1, 1)
    grid = np.ma.masked_invalid(np.asarray(rho, dtype=float))
    image = axes.imshow(grid, cmap="RdBu", vmin=-1, vmax=1)
    axes.set_facecolor("#eeeeee")  # not computed: too few customers with both figures
    for i in range(len(names)):
        for j in range(len(names)):
            if i == j:
                continue
            value = rho[i][j]
            text = f"n={int(n[i][j])}" if np.isnan(value) else f"{value:+.2f}"
            shade = "white" if not np.isnan(value) and abs(value) > 0.6 else "black"
            axes.text(j, i, text, ha="center", va="center", fontsize="small", color=shade)
    axes.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axes.set_yticks(range(len(names)), names)
    figure.colorbar(image, ax=axes, label="Spearman rho")
    figure.tight_layout()
    return _png(figure)


def campaign_png(
    *,
    title: str,
    days: Sequence[int],
    send_per_customer: Sequence[float],
    control_per_customer: Sequence[float] | None,
    sent: Sequence[int],
    replies: Sequence[int],
) -> bytes:
    """A campaign over its days: cumulative revenue per customer, send arm against the control
    group (top); messages sent and replies each day (bottom)."""
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.set_title(title)
    top.set_ylabel("revenue per customer")
    top.plot(days, send_per_customer, color=_BLUE, label="received it")
    if control_per_customer is not None:
        top.plot(days, control_per_customer, color=_LIGHT, linestyle="--", label="control group")
    top.legend(loc="upper left", fontsize="small")
    bottom.set_ylabel("per day")
    if any(sent) or any(replies):
        width = 0.4
        bottom.bar([d - width / 2 for d in days], sent, width, label="sent", color=_BLUE)
        bottom.bar([d + width / 2 for d in days], replies, width, label="replies", color=_GREEN)
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.legend(loc="upper right", fontsize="small")
    else:
        _empty(bottom, "nothing sent yet, no replies")
    bottom.set_xlabel("days since sending started")
    figure.tight_layout()
    return _png(figure)
