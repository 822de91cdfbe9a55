"""The digest's trend chart: daily sentiment and tickets opened/resolved, as PNG bytes (Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NO_DATA = "No data: no sentiment recorded, no tickets opened or resolved"
NO_SENTIMENT = "no sentiment recorded"
NO_TICKETS = "no tickets opened or resolved"
_GREY = "#757575"


def trend_figure(
    days: Sequence[date],
    sentiment: Sequence[float | None],
    opened: Sequence[int],
    resolved: Sequence[int],
    *,
    title: str,
) -> Figure:
    """A two-panel chart; a period with nothing to draw says so instead of showing empty axes,
    and so does a panel with nothing to draw. The Figure API with the Agg canvas needs no
    display and no pyplot global state, so it is safe on a server thread."""
    # Imported here: matplotlib adds a third of a second to every start, and most never draw.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    points = [(x, s) for x, s in enumerate(sentiment) if s is not None]
    any_tickets = any(opened) or any(resolved)
    if not points and not any_tickets:
        figure.suptitle(title)
        figure.text(0.5, 0.5, NO_DATA, ha="center", va="center", color=_GREY)
        return figure
    top, bottom = figure.subplots(2, 1, sharex=True)
    labels = [d.strftime("%d %b") for d in days]
    xs = list(range(len(days)))
    top.set_title(title)
    top.set_ylabel("sentiment")
    if points:
        top.axhline(0, color="#bbbbbb", linewidth=0.8)
        top.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#2e7d32")
        top.set_ylim(-1.05, 1.05)
    else:
        top.text(0.5, 0.5, NO_SENTIMENT, ha="center", va="center", color=_GREY, transform=top.transAxes)
        top.set_yticks([])
    bottom.set_ylabel("tickets")
    if any_tickets:
        width = 0.4
        bottom.bar([x - width / 2 for x in xs], opened, width, label="opened", color="#1565c0")
        bottom.bar([x + width / 2 for x in xs], resolved, width, label="resolved", color="#9e9e9e")
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))  # tickets come whole
        bottom.legend(loc="upper left", fontsize="small")
    else:
        bottom.text(0.5, 0.5, NO_TICKETS, ha="center", va="center", color=_GREY, transform=bottom.transAxes)
        bottom.set_yticks([])
    bottom.set_xlim(-0.5, len(xs) - 0.5)
    bottom.set_xticks(xs, labels, rotation=45 if len(xs) > 8 else 0, fontsize="small")
    figure.tight_layout()
    return figure


def trend_png(
    days: Sequence[date],
    sentiment: Sequence[float | None],
    opened: Sequence[int],
    resolved: Sequence[int],
    *,
    title: str,
) -> bytes:
    """``trend_figure`` as PNG bytes."""
    out = io.BytesIO()
    trend_figure(days, sentiment, opened, resolved, title=title).savefig(out, format="png")
    return out.getvalue()


# -- forecast (issue 11) --------------------------------------------------------------------


def revenue_forecast_png(
    months: Sequence[date],
    actual: Sequence[float],
    forecast: Sequence[tuple[date, float, float, float]],
    *,
    title: str,
    unit: str = "$",
) -> bytes:
    """Monthly revenue as bars, and the forecast's months as lighter bars (stacked on what a
    month already has) with their 90% interval as error bars. ``forecast``: (month, expected,
    low, high)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_title(title)
    labels = sorted({*months, *(f[0] for f in forecast)})
    position = {m: i for i, m in enumerate(labels)}
    have = dict(zip(months, actual, strict=True))
    axes.bar([position[m] for m in months], list(actual), 0.7, color="#1565c0", label="revenue")
    bottoms = [have.get(m, 0.0) for m, *_ in forecast]
    xs = [position[m] for m, *_ in forecast]
    expected = [f[1] for f in forecast]
    axes.bar(xs, expected, 0.7, bottom=bottoms, color="#90caf9", label="forecast")
    tops = [b + e for b, e in zip(bottoms, expected, strict=True)]
    lower = [max(t - (b + f[2]), 0.0) for t, b, f in zip(tops, bottoms, forecast, strict=True)]
    upper = [max((b + f[3]) - t, 0.0) for t, b, f in zip(tops, bottoms, forecast, strict=True)]
    axes.errorbar(
        xs, tops, yerr=[lower, upper], fmt="none", ecolor="#424242", capsize=3, label="90% interval"
    )
    axes.set_ylabel(f"revenue ({unit})")
    axes.set_xticks(
        range(len(labels)),
        [m.strftime("%b %y") for m in labels],
        rotation=45 if len(labels) > 8 else 0,
        fontsize="small",
    )
    axes.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    return _png(figure)


# -- segments (issue 11) ----------------------------------------------------------------------


def segments_png(
    names: Sequence[str],
    sizes: Sequence[int],
    features: Sequence[str],
    z: Sequence[Sequence[float]],
    *,
    title: str,
) -> bytes:
    """Segment sizes (bars) beside each centre's z-scores against the book (a heatmap, red
    below the book, blue above, each cell labelled with its value)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 1.6 + 0.55 * max(len(names), 1)), dpi=100)
    FigureCanvasAgg(figure)
    if not names:
        figure.suptitle(title)
        figure.text(0.5, 0.5, "No segments yet", ha="center", va="center", color=_GREY)
        return _png(figure)
    bars, heat = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
    ys = list(range(len(names)))
    bars.barh(ys, sizes, color="#1565c0")
    bars.set_yticks(ys, list(names), fontsize="small")
    bars.invert_yaxis()
    bars.set_xlabel("customers")
    for y, size in zip(ys, sizes, strict=True):
        bars.text(size, y, f" {size:,}", va="center", fontsize="x-small")
    bars.set_xlim(0, max(sizes) * 1.3 if max(sizes) else 1)
    image = heat.imshow(z, cmap="RdBu", vmin=-2.5, vmax=2.5, aspect="auto")
    heat.set_xticks(range(len(features)), list(features), rotation=35, ha="right", fontsize="small")
    heat.set_yticks(ys, [""] * len(ys))
    for y, row in enumerate(z):
        for x, value in enumerate(row):
            heat.text(x, y, f"{value:+.1f}", ha="center", va="center", fontsize="x-small")
    figure.colorbar(image, ax=heat, label="z-score vs the book", fraction=0.04)
    figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)


def _png(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
