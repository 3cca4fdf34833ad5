"""The trend chart: staying, gone home and on duty over the days, as a PNG for /trend.

Drawn on a bare matplotlib Figure with the Agg canvas: no pyplot, so no global state and
nothing left open between charts. Words come from the catalogs in the reader's language.
Days on which not every enterprise due reported are shaded and their points hollow: their
figures hold the last reports carried forward (沿用), as /stats counts them.

The poster's font rule holds here too: never an empty box. Chinese is drawn with the font
bot.poster finds (Debian: fonts-noto-cjk); without one the chart is labelled in English,
and a town name the font cannot draw is left out, with one log line saying what to install.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, DayLocator
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Patch
from matplotlib.ticker import Locator, MaxNLocator

from bot.i18n import Catalogs
from bot.poster import INSTALL_HINT, Font, find_cjk_font, latin_font
from handlers.actions import N_, Msg
from models.stats import DayTotals, Totals

log = logging.getLogger(__name__)

FALLBACK_LANGUAGE = "en"
SIZE_INCHES = (9.0, 5.0)
DPI = 120
# A marker on each day while the days are few enough to tell apart.
MARKERS_UP_TO = 31
# A tick on every day while they fit.
DAILY_TICKS_UP_TO = 10
MIN_HEIGHT = 5
INCOMPLETE_SHADE = "#e6e6e6"
# (label, figure of Totals, colour): the legend's order.
SERIES: tuple[tuple[str, str, str], ...] = (
    (N_("export.col.staying"), "staying", "#c8102e"),
    (N_("export.col.gone_home"), "gone_home", "#1f5fa8"),
    (N_("export.col.on_duty"), "on_duty", "#2e8b3d"),
)


def _words(catalogs: Catalogs, language: str) -> dict[str, str]:
    keys = [
        N_("chart.title"),
        N_("chart.axis.day"),
        N_("chart.axis.people"),
        N_("chart.no_data"),
        N_("chart.incomplete"),
        *(key for key, _, _ in SERIES),
    ]
    return {key: catalogs.label(language, Msg(key)) for key in keys}


def chart_font() -> Font:
    """The installed Chinese font, else matplotlib's own."""
    return find_cjk_font() or latin_font()


def chart_language(catalogs: Catalogs, language: str, font: Font) -> str:
    """The language the chart is labelled in: the reader's, or English when the font lacks
    a glyph of the reader's words."""
    if not font.missing("".join(_words(catalogs, language).values())):
        return language
    log.warning("the trend chart is in English: %s", INSTALL_HINT)
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
    font = chart_font()
    words = _words(catalogs, chart_language(catalogs, language, font))

    def font_of(size: float) -> FontProperties:
        return font.properties(size)

    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    title = words[N_("chart.title")]
    if scope and not font.missing(scope):
        # A $ would start matplotlib's mathematical notation.
        title += "\n" + scope.replace("$", r"\$")
    axes.set_title(title, fontproperties=font_of(14))
    axes.set_xlabel(words[N_("chart.axis.day")], fontproperties=font_of(11))
    axes.set_ylabel(words[N_("chart.axis.people")], fontproperties=font_of(11))
    x = np.array([day.day for day in days], dtype="datetime64[D]")
    marker = "o" if len(days) <= MARKERS_UP_TO else None
    incomplete = [i for i, day in enumerate(days) if not day.complete]
    half = np.timedelta64(12, "h")
    for i in incomplete:
        axes.axvspan(x[i] - half, x[i] + half, color=INCOMPLETE_SHADE, lw=0, zorder=0)
    for key, figure_name, colour in SERIES:
        y = [_figure(day.totals, figure_name) for day in days]
        axes.plot(x, y, label=words[key], color=colour, linewidth=2, marker=marker, markersize=4)
        if marker and incomplete:
            # Hollow points: those days hold carried figures, not every enterprise's own.
            axes.plot(
                x[incomplete],
                [y[i] for i in incomplete],
                linestyle="none",
                marker=marker,
                markersize=6,
                markerfacecolor="white",
                markeredgecolor=colour,
            )
    if days:
        # Half a day of room at both ends, so that a single day is a point, not a range.
        axes.set_xlim(x[0] - half, x[-1] + half)
        # Ticks fall on whole days, never on hours (matplotlib.dates is not annotated).
        locator: Locator = (
            DayLocator()  # type: ignore[no-untyped-call]
            if len(days) <= DAILY_TICKS_UP_TO
            else AutoDateLocator(minticks=3, maxticks=10)  # type: ignore[no-untyped-call]
        )
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(DateFormatter("%m-%d"))  # type: ignore[no-untyped-call]
        handles, labels = axes.get_legend_handles_labels()
        if incomplete:
            handles.append(Patch(color=INCOMPLETE_SHADE))
            labels.append(words[N_("chart.incomplete")])
        axes.legend(handles, labels, prop=font_of(10), loc="best")
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
