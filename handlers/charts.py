"""The digest's trend chart: daily sentiment and tickets opened/resolved, as PNG bytes (Agg)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def trend_png(
    days: Sequence[date],
    sentiment: Sequence[float | None],
    opened: Sequence[int],
    resolved: Sequence[int],
    *,
    title: str,
) -> bytes:
    """A two-panel chart; the Figure API with the Agg canvas needs no display and no pyplot
    global state, so it is safe on a server thread."""
    figure = Figure(figsize=(7, 4.2), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    labels = [d.strftime("%d %b") for d in days]
    xs = list(range(len(days)))
    points = [(x, s) for x, s in zip(xs, sentiment, strict=True) if s is not None]
    top.axhline(0, color="#bbbbbb", linewidth=0.8)
    if points:
        top.plot([p[0] for p in points], [p[1] for p in points], marker="o", color="#2e7d32")
    top.set_ylim(-1.05, 1.05)
    top.set_ylabel("sentiment")
    top.set_title(title)
    width = 0.4
    bottom.bar([x - width / 2 for x in xs], opened, width, label="opened", color="#1565c0")
    bottom.bar([x + width / 2 for x in xs], resolved, width, label="resolved", color="#9e9e9e")
    bottom.set_ylabel("tickets")
    bottom.legend(loc="upper left", fontsize="small")
    bottom.set_xticks(xs, labels, rotation=45 if len(xs) > 8 else 0, fontsize="small")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
