"""A printable A4 poster of an enterprise's worker invite: its QR code and a few words.

PNG at print resolution or PDF (vector QR code), chosen by the file's suffix. The words come
from the catalogs (Simplified Chinese unless asked otherwise). Chinese needs a CJK font;
without one installed (Debian: fonts-noto-cjk) the poster is still made, with a warning.
"""

from __future__ import annotations

import logging
import unicodedata
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as VectorPath

from bot.i18n import Catalogs
from handlers.actions import Msg, Raw

log = logging.getLogger(__name__)

A4_INCHES = (210 / 25.4, 297 / 25.4)
PRINT_DPI = 300
SUFFIXES = (".png", ".pdf")
# Families with Chinese glyphs, best first (Noto Sans CJK is Debian's fonts-noto-cjk).
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
# Font files whose names say they hold Chinese, for fonts matplotlib's cache does not know yet.
CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback")
RED = "#c8102e"
# Path codes of one closed rectangle.
SQUARE = [int(VectorPath.MOVETO), *[int(VectorPath.LINETO)] * 3, int(VectorPath.CLOSEPOLY)]


@dataclass(frozen=True)
class PosterText:
    """The poster's words, already in the chosen language."""

    title: str
    enterprise: str
    scan: str
    campaign: str
    link: str


def poster_text(
    catalogs: Catalogs, language: str, *, enterprise: str, campaign: str, link: str
) -> PosterText:
    """The poster's words from the catalogs."""

    def text(message: Msg) -> str:
        return catalogs.label(language, message)

    return PosterText(
        title=text(Msg("poster.title")),
        enterprise=enterprise,
        scan=text(Msg("poster.scan")),
        campaign=text(Msg("poster.campaign", campaign=Raw(campaign))) if campaign else "",
        link=text(Msg("poster.link", link=Raw(link))),
    )


@cache
def find_cjk_font() -> Path | None:
    """An installed font file with Chinese glyphs, or None."""
    by_name = {entry.name: entry.fname for entry in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in by_name:
            return Path(by_name[family])
    for name in sorted(font_manager.findSystemFonts()):
        if any(hint in Path(name).name.lower() for hint in CJK_FILE_HINTS):
            return Path(name)
    return None


def wrap(text: str, width: int) -> str:
    """Break text into lines of at most `width` columns (a Chinese character is two)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0
        for word in _words(paragraph):
            size = _columns(word)
            if line and used + size > width:
                lines.append(line.rstrip())
                line, used = word.lstrip(), _columns(word.lstrip())
            else:
                line, used = line + word, used + size
        lines.append(line.rstrip())
    return "\n".join(lines)


def _words(text: str) -> list[str]:
    # Each Chinese character may end a line; Latin words stay whole with their leading space.
    words: list[str] = []
    for ch in text:
        wide = unicodedata.east_asian_width(ch) in "WF"
        if wide or not words or ch == " " or _columns(words[-1][-1]) == 2:
            words.append(ch)
        else:
            words[-1] += ch
    return words


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _qr_patch(link: str, left: float, bottom: float, size: float) -> tuple[PathPatch, int]:
    """The QR code as one vector shape (crisp in a PDF), each dark run a rectangle."""
    rows = [list(row) for row in segno.make(link, error="m").matrix_iter(scale=1, border=4)]
    modules = len(rows)
    step = size / modules
    vertices: list[tuple[float, float]] = []
    codes: list[int] = []
    for y, row in enumerate(rows):
        x = 0
        while x < modules:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < modules and row[x]:
                x += 1
            x0, x1 = left + start * step, left + x * step
            y1 = bottom + size - y * step
            y0 = y1 - step
            vertices += [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
            codes += SQUARE
    patch = PathPatch(VectorPath(vertices, codes), facecolor="black", edgecolor="none", lw=0)
    return patch, modules


def render_poster(out: Path, link: str, text: PosterText, *, font: Path | None = None) -> None:
    """Draw the poster into `out` (.png at 300 dpi, or .pdf)."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"poster file must end in {' or '.join(SUFFIXES)}, not {suffix!r}")
    width, height = A4_INCHES
    figure = Figure(figsize=(width, height), facecolor="white")
    canvas = figure.add_axes((0, 0, 1, 1))
    canvas.set_xlim(0, width)
    canvas.set_ylim(0, height)
    canvas.set_axis_off()

    def font_of(size: float, bold: bool = False) -> FontProperties:
        if font is not None:
            return FontProperties(fname=str(font), size=size)
        return FontProperties(family="DejaVu Sans", size=size, weight="bold" if bold else None)

    def write(
        y: float, words: str, size: float, columns: int, color: str = "black", bold: bool = False
    ) -> None:
        canvas.text(
            width / 2,
            y,
            wrap(words, columns),
            ha="center",
            va="center",
            linespacing=1.3,
            color=color,
            fontproperties=font_of(size, bold),
        )

    # A red band with the title, as notices in the district look.
    canvas.add_patch(Rectangle((0, height - 2.1), width, 2.1, color=RED, lw=0))
    write(height - 1.05, text.title, 34, 28, color="white", bold=True)
    write(height - 3.05, text.enterprise, 28 if len(text.enterprise) <= 14 else 20, 28)

    size = 4.6
    left, bottom = (width - size) / 2, height - 4.2 - size
    patch, _ = _qr_patch(link, left, bottom, size)
    canvas.add_patch(patch)

    write(bottom - 0.8, text.scan, 20, 30)
    write(bottom - 1.75, text.link, 10, 70, color="#444444")
    if text.campaign:
        canvas.add_patch(Rectangle((0, 0), width, 0.9, color=RED, lw=0))
        write(0.45, text.campaign, 18, 40, color="white")

    with warnings.catch_warnings():
        # Without a CJK font every Chinese character warns once; the caller was told already.
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*missing from font", category=UserWarning)
        figure.savefig(
            out,
            format=suffix[1:],
            dpi=PRINT_DPI,
            facecolor="white",
            metadata={"Title": text.title} if suffix == ".pdf" else None,
        )


def make_poster(
    out: Path,
    catalogs: Catalogs,
    language: str,
    *,
    enterprise: str,
    campaign: str,
    link: str,
) -> Path | None:
    """Write the enterprise's poster; returns the CJK font used (None: no Chinese font)."""
    font = find_cjk_font()
    if font is None and language.startswith("zh"):
        log.warning("no Chinese font installed: the poster's Chinese will not show")
    render_poster(
        out,
        link,
        poster_text(catalogs, language, enterprise=enterprise, campaign=campaign, link=link),
        font=font,
    )
    return font
