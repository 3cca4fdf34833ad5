"""The printable poster: a real A4 PNG at print resolution and a PDF, with the invite's QR code
where the module grid says, and words from the catalogs."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import segno
from matplotlib.image import imread

from bot import poster
from tests.harness import catalogs

LINK = "https://t.me/district_bot?start=AbCdEfGhIjKl"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def words(language: str = "zh_Hans") -> poster.PosterText:
    return poster.poster_text(
        catalogs(), language, enterprise="唐山城建一公司", campaign="留企过年", link=LINK
    )


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_the_words_come_from_the_catalogs() -> None:
    hans, hant, en = words("zh_Hans"), words("zh_Hant"), words("en")
    assert hans.title == catalogs().plain("zh_Hans", "poster.title")
    assert "Telegram" in hans.scan and "Telegram" in en.scan
    assert hans.title != hant.title != en.title
    assert hans.enterprise == "唐山城建一公司"
    assert "留企过年" in hans.campaign and LINK in hans.link


def test_a_png_poster_is_a4_at_print_resolution(tmp_path: Path) -> None:
    out = tmp_path / "poster.png"
    poster.render_poster(out, LINK, words(), font=poster.find_cjk_font())
    width, height = png_size(out)
    assert abs(width - 2480) <= 2 and abs(height - 3508) <= 2
    assert out.stat().st_size > 20_000


def test_the_png_carries_the_qr_code_module_for_module(tmp_path: Path) -> None:
    out = tmp_path / "poster.png"
    poster.render_poster(out, LINK, words(), font=None)
    image = imread(out)
    grid = [list(row) for row in segno.make(LINK, error="m").matrix_iter(scale=1, border=4)]
    # The layout in render_poster: a 4.6 inch square whose top is 4.2 inches from the top.
    size, top = 4.6, 4.2
    left = (poster.A4_INCHES[0] - size) / 2
    step = size / len(grid)
    mismatches = 0
    for y, row in enumerate(grid):
        for x, dark in enumerate(row):
            px = int((left + (x + 0.5) * step) * poster.PRINT_DPI)
            py = int((top + (y + 0.5) * step) * poster.PRINT_DPI)
            brightness = float(image[py, px][:3].mean())
            mismatches += int((brightness < 0.5) != bool(dark))
    assert mismatches == 0


def test_a_pdf_poster_is_one_a4_page(tmp_path: Path) -> None:
    out = tmp_path / "poster.pdf"
    poster.render_poster(out, LINK, words("en"), font=None)
    data = out.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    box = re.search(rb"/MediaBox \[ *0 0 ([\d.]+) ([\d.]+) *\]", data)
    assert box is not None
    assert abs(float(box.group(1)) - 595.3) < 1 and abs(float(box.group(2)) - 841.9) < 1


def test_without_a_chinese_font_the_poster_is_still_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poster, "find_cjk_font", lambda: None)
    out = tmp_path / "poster.png"
    # pytest turns warnings into errors here: a missing glyph must not warn its way out.
    font = poster.make_poster(
        out, catalogs(), "zh_Hans", enterprise="城建一公司", campaign="留企过年", link=LINK
    )
    assert font is None and png_size(out)[0] > 2000


def test_with_a_chinese_font_when_one_is_installed(tmp_path: Path) -> None:
    font = poster.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    out = tmp_path / "poster.pdf"
    assert (
        poster.make_poster(
            out, catalogs(), "zh_Hant", enterprise="城建一公司", campaign="留企过年", link=LINK
        )
        == font
    )
    assert out.read_bytes().startswith(b"%PDF-")


def test_only_png_and_pdf(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png or \.pdf"):
        poster.render_poster(tmp_path / "poster.jpg", LINK, words())


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("请用 Telegram 扫描二维码登记", 12, ["请用", "Telegram 扫", "描二维码登记"]),
        ("Scan with Telegram to register", 12, ["Scan with", "Telegram to", "register"]),
        ("短", 10, ["短"]),
    ],
)
def test_wrap_counts_a_chinese_character_as_two_columns(
    text: str, width: int, lines: list[str]
) -> None:
    assert poster.wrap(text, width).split("\n") == lines
