"""A printable A4 poster of an enterprise's worker invite: its QR code and a few words.

PNG at print resolution or PDF (vector QR code), chosen by the file's suffix. The words come
from the catalogs (Simplified Chinese unless asked otherwise): the enterprise, how to scan,
the address to type when scanning fails, the campaign's phone numbers and the unit that
issues it. The QR code opens the enterprise's invite on the web channel when the district
has a public web address (it opens in WeChat and any phone browser: Telegram needs a VPN in
mainland China), else the bot in Telegram.

A poster never prints empty boxes: it is drawn with an installed font that has a glyph for
every character on it (Chinese fonts are looked for by family and by file, then any
installed font that draws Chinese), or not made at all, with one line saying how to install
one (NoFont).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import segno
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as VectorPath

from bot.i18n import Catalogs
from handlers.actions import N_, Msg, Raw

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
# Font files whose names say they hold Chinese, for fonts matplotlib's cache does not know yet
# (its cache lists no font collections, .ttc, which is how most Chinese fonts come).
CJK_FILE_HINTS = (
    "notosanscjk",
    "notoserifcjk",
    "sourcehan",
    "wqy",
    "droidsansfallback",
    "uming",
    "ukai",
    "simhei",
    "simsun",
    "msyh",
    "pingfang",
)
# Characters a font must draw to be taken for Chinese: Simplified and Traditional.
CJK_SAMPLE = "外地务工人员春节登记扫码返岗過年鄉聯繫"
# Matplotlib's own font, for a poster in English of an enterprise with a Latin name.
LATIN_FAMILY = "DejaVu Sans"
INSTALL_HINT = "install a Chinese font (Debian/Ubuntu: apt install fonts-noto-cjk) and try again"
# Where the QR code sits: its side, and how far its top is below the page's top (inches).
QR_SIZE, QR_TOP = 4.4, 3.9
RED = "#c8102e"
# Path codes of one closed rectangle.
SQUARE = [int(VectorPath.MOVETO), *[int(VectorPath.LINETO)] * 3, int(VectorPath.CLOSEPOLY)]


class NoFont(Exception):
    """No installed font draws every character of the text; the message says how to fix it."""


@dataclass(frozen=True)
class PosterText:
    """The poster's words, already in the chosen language."""

    title: str
    enterprise: str
    scan: str
    campaign: str
    link: str
    phones: str = ""
    issuer: str = ""

    def characters(self) -> str:
        """Every character the poster prints."""
        parts = (self.title, self.enterprise, self.scan, self.campaign, self.link)
        return "".join((*parts, self.phones, self.issuer))


def poster_link(bot_link: str, web_base_url: str, code: str) -> str:
    """Where the QR code points: the invite on the web channel when the district has a public
    web address (web.public_base_url), else the bot's Telegram link."""
    return f"{web_base_url.rstrip('/')}/j/{code}" if web_base_url else bot_link


def poster_text(
    catalogs: Catalogs,
    language: str,
    *,
    enterprise: str,
    campaign: str,
    link: str,
    web: bool = False,
    phones: Sequence[str] = (),
    issuer: str = "",
) -> PosterText:
    """The poster's words from the catalogs; `web` says the link opens the web channel (in
    WeChat or any browser) rather than Telegram."""

    def text(message: Msg) -> str:
        return catalogs.label(language, message)

    separator = text(Msg("ui.list_separator"))
    scan = N_("poster.scan_web") if web else N_("poster.scan")
    opens = N_("poster.link_web") if web else N_("poster.link")
    return PosterText(
        title=text(Msg("poster.title")),
        enterprise=enterprise,
        scan=text(Msg(scan)),
        campaign=text(Msg("poster.campaign", campaign=Raw(campaign))) if campaign else "",
        link=text(Msg(opens, link=Raw(link))),
        phones=text(Msg("poster.phones", phones=Raw(separator.join(phones)))) if phones else "",
        issuer=text(Msg("poster.issued_by", issuer=Raw(issuer))) if issuer else "",
    )


@dataclass(frozen=True)
class Font:
    """An installed font face: its file, its face in a collection, its family name."""

    path: Path
    index: int
    family: str

    def properties(self, size: float, bold: bool = False) -> FontProperties:
        """Matplotlib's handle on the family (its bold face where one is installed)."""
        return FontProperties(family=self.family, size=size, weight="bold" if bold else "normal")

    def missing(self, text: str) -> str:
        """The characters of the text this font has no glyph for, each once, in order."""
        face = _face(self.path, self.index)
        gone = dict.fromkeys(
            ch for ch in text if not ch.isspace() and face.get_char_index(ord(ch)) == 0
        )
        return "".join(gone)


@cache
def _face(path: Path, index: int) -> FT2Font:
    return FT2Font(str(path), face_index=index)


def _draws_chinese(entry: font_manager.FontEntry) -> bool:
    try:
        face = _face(Path(entry.fname), entry.index)
    except (OSError, RuntimeError):
        return False
    return all(face.get_char_index(ord(ch)) for ch in CJK_SAMPLE)


@cache
def find_cjk_font() -> Font | None:
    """An installed font that draws Chinese, or None: the known families best first, then
    any installed font that has the glyphs."""
    manager = font_manager.fontManager
    known = {entry.fname for entry in manager.ttflist}
    for name in sorted(font_manager.findSystemFonts()):
        if name not in known and any(hint in Path(name).name.lower() for hint in CJK_FILE_HINTS):
            # Registered by family, each face of a collection included, for FontProperties.
            manager.addfont(name)
    entries = [entry for entry in manager.ttflist if entry.weight in ("normal", 400)]
    by_family = {entry.name: entry for entry in reversed(entries)}
    for family in CJK_FAMILIES:
        found = by_family.get(family)
        if found is not None and _draws_chinese(found):
            return Font(Path(found.fname), found.index, family)
    for entry in entries:
        if _draws_chinese(entry):
            return Font(Path(entry.fname), entry.index, entry.name)
    return None


def latin_font() -> Font:
    """Matplotlib's own font, which every installation has."""
    path = font_manager.findfont(FontProperties(family=LATIN_FAMILY), fallback_to_default=False)
    return Font(Path(path), 0, LATIN_FAMILY)


def font_for(text: str) -> Font:
    """The font to draw the text with: a Chinese font when one is installed, else the Latin
    one; NoFont when it would leave any character an empty box."""
    font = find_cjk_font() or latin_font()
    missing = font.missing(text)
    if missing:
        shown = "".join(missing[:10])
        raise NoFont(f"no installed font draws {shown!r} ({font.family} lacks it): {INSTALL_HINT}")
    return font


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


def render_poster(out: Path, link: str, text: PosterText, *, font: Font | None = None) -> Font:
    """Draw the poster into `out` (.png at 300 dpi, or .pdf) with the font (by default the
    one font_for finds: NoFont, and no file, rather than empty boxes); returns the font."""
    font = font or font_for(text.characters())
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
        return font.properties(size, bold)

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
    write(height - 2.75, text.enterprise, 28 if len(text.enterprise) <= 14 else 20, 28)

    left, bottom = (width - QR_SIZE) / 2, height - QR_TOP - QR_SIZE
    patch, _ = _qr_patch(link, left, bottom, QR_SIZE)
    canvas.add_patch(patch)

    write(bottom - 0.5, text.scan, 18, 44)
    write(bottom - 1.15, text.link, 10, 80, color="#444444")
    if text.phones:
        write(1.75, text.phones, 14, 50)
    if text.issuer:
        write(1.25, text.issuer, 14, 50, bold=True)
    if text.campaign:
        canvas.add_patch(Rectangle((0, 0), width, 0.9, color=RED, lw=0))
        write(0.45, text.campaign, 18, 40, color="white")

    figure.savefig(
        out,
        format=suffix[1:],
        dpi=PRINT_DPI,
        facecolor="white",
        metadata={"Title": text.title} if suffix == ".pdf" else None,
    )
    return font
