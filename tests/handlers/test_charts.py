"""The digest's trend chart, drawn from plain data: a figure with data, and "no data" when a
period (or one of its panels) has nothing to draw, never an empty axis."""

from __future__ import annotations

from datetime import date, timedelta

from matplotlib.figure import Figure

from handlers.charts import trend_figure, trend_png

DAYS = [date(2026, 11, 20) + timedelta(days=n) for n in range(3)]


def _texts(figure: Figure) -> list[str]:
    """Every text drawn: figure-level, and inside each panel."""
    found = [t.get_text() for t in figure.texts]
    for axes in figure.axes:
        found += [t.get_text() for t in axes.texts]
    return found


def test_a_period_with_data_draws_both_panels() -> None:
    figure = trend_figure(DAYS, [0.5, None, -0.2], [1, 0, 2], [0, 1, 1], title="Daily digest")
    top, bottom = figure.axes
    assert len(top.lines[-1].get_xdata()) == 2  # the silent day is a gap, not a zero
    assert len(bottom.patches) == 6  # opened and resolved bars per day
    assert not [t for t in _texts(figure) if "no " in t.lower()]


def test_an_empty_period_says_no_data_instead_of_drawing_empty_axes() -> None:
    for days, sentiment, zeros in (([], [], []), (DAYS, [None] * 3, [0] * 3)):
        figure = trend_figure(days, sentiment, zeros, zeros, title="Daily digest")
        assert figure.axes == []
        assert any(t.startswith("No data") for t in _texts(figure)), _texts(figure)
    assert trend_png([], [], [], [], title="t").startswith(b"\x89PNG\r\n\x1a\n")


def test_a_silent_panel_says_what_is_missing() -> None:
    no_sentiment = trend_figure(DAYS, [None] * 3, [1, 0, 0], [0, 0, 1], title="t")
    assert "no sentiment recorded" in _texts(no_sentiment)
    no_tickets = trend_figure(DAYS, [0.1, 0.2, None], [0] * 3, [0] * 3, title="t")
    assert "no tickets opened or resolved" in _texts(no_tickets)
    assert len(no_tickets.axes[1].patches) == 0


def test_segments_chart_draws_sizes_and_profiles() -> None:
    import io

    from matplotlib.image import imread

    from handlers.charts import segments_png

    png = segments_png(
        ["Champions", "Leads"], [120, 300], ["orders", "CSAT"], [[1.5, 0.4], [-1.2, 0.0]], title="Segments"
    )
    height, width = imread(io.BytesIO(png)).shape[:2]
    assert (width, height) == (1100, 270)
    empty = segments_png([], [], ["orders"], [], title="Segments")
    assert empty[:8] == b"\x89PNG\r\n\x1a\n"
