"""The trend chart: staying, gone home and on duty over the days, as a PNG for /trend.

Drawn on a bare matplotlib Figure with the Agg canvas: no pyplot, so no global state and
nothing left open between charts. Words come from the catalogs in the reader's language;
Chinese needs a CJK font (Debian: fonts-noto-cjk, or fonts-wqy-microhei), and without one
the chart is labelled in English rather than with empty boxes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import Locator, MaxNLocator

from bot.i18n import Catalogs
from bot.poster import find_cjk_font
from handlers.actions import N_, Msg
from models.stats import DayTotals, Totals

FALLBACK_LANGUAGE = "en"
SIZE_INCHES = (9.0, 5.0)
DPI = 120
# A marker on each day while the days are few enough to tell apart.
MARKERS_UP_TO = 31
# A tick on every day while they fit.
DAILY_TICKS_UP_TO = 10
MIN_HEIGHT = 5
# (label, figure of Totals, colour): the legend's order.
SERIES: tuple[tuple[str, str, str], ...] = (
    (N_("export.col.staying"), "staying", "#c8102e"),
    (N_("export.col.gone_home"), "gone_home", "#1f5fa8"),
    (N_("export.col.on_duty"), "on_duty", "#2e8b3d"),
)


def _plain(text: str) -> bool:
    """Whether matplotlib's own font (DejaVu Sans) draws every character of the text."""
    return all(ord(ch) < 0x0530 for ch in text)


def _words(catalogs: Catalogs, language: str) -> dict[str, str]:
    keys = [
        N_("chart.title"),
        N_("chart.axis.day"),
        N_("chart.axis.people"),
        N_("chart.no_data"),
        *(key for key, _, _ in SERIES),
    ]
    return {key: catalogs.label(language, Msg(key)) for key in keys}


def chart_language(catalogs: Catalogs, language: str, font: Path | None) -> str:
    """The language the chart is labelled in: the reader's, or English when the reader's
    words need a font that is not installed."""
    if font is not None or all(_plain(text) for text in _words(catalogs, language).values()):
        return language
    return FALLBACK_LANGUAGE


def trend_png(
    days: Sequence[DayTotals],
    *,
    catalogs: Catalogs,
    language: str,
    scope: str | None = None,
) -> bytes:
    """A PNG line chart of staying, gone home and on duty per day; `scope` (a town's name,
    say) is shown under the title when it can be drawn."""
    font = find_cjk_font()
    words = _words(catalogs, chart_language(catalogs, language, font))

    def font_of(size: float) -> FontProperties:
        if font is not None:
            return FontProperties(fname=str(font), size=size)
        return FontProperties(size=size)

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    title = words[N_("chart.title")]
    if scope and (font is not None or _plain(scope)):
        # A $ would start matplotlib's mathematical notation.
        title += "\n" + scope.replace("$", r"\$")
    axes.set_title(title, fontproperties=font_of(14))
    axes.set_xlabel(words[N_("chart.axis.day")], fontproperties=font_of(11))
    axes.set_ylabel(words[N_("chart.axis.people")], fontproperties=font_of(11))
    x = np.array([day.day for day in days], dtype="datetime64[D]")
    marker = "o" if len(days) <= MARKERS_UP_TO else None
    for key, figure_name, colour in SERIES:
        y = [_figure(day.totals, figure_name) for day in days]
        axes.plot(x, y, label=words[key], color=colour, linewidth=2, marker=marker, markersize=4)
    if days:
        # Half a day of room at both ends, so that a single day is a point, not a range.
        half = np.timedelta64(12, "h")
        axes.set_xlim(x[0] - half, x[-1] + half)
        # Ticks fall on whole days, never on hours (matplotlib.dates is not annotated).
        locator: Locator = (
            DayLocator()  # type: ignore[no-untyped-call]
            if len(days) <= DAILY_TICKS_UP_TO
            else AutoDateLocator(minticks=3, maxticks=10)  # type: ignore[no-untyped-call]
        )
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
        axes.legend(prop=font_of(10), loc="best")
    else:
        axes.text(
            0.5,
            0.5,
            words[N_("chart.no_data")],
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontproperties=font_of(12),
        )
        axes.set_xticks([])
        axes.set_yticks([])
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    # From zero, and a few people high even when nobody is counted.
    axes.set_ylim(0, max(axes.get_ylim()[1], MIN_HEIGHT))
    axes.grid(alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


def _figure(totals: Totals, name: str) -> int:
    value = getattr(totals, name)
    assert isinstance(value, int)
    return value
