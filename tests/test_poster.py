"""The printable poster: a real A4 PNG at print resolution and a PDF, with the invite's QR code
where the module grid says, words from the catalogs, and never an empty box: drawn with a
font that has every glyph, or refused. The poster in docs/ is made here."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
import segno
from matplotlib.image import imread

from bot import poster
from tests.harness import ROOT, catalogs

LINK = "https://t.me/district_bot?start=AbCdEfGhIjKl"
WEB = "https://outreach.example.gov.cn"
ISSUER = "示例区人力资源和社会保障局"
PHONES = ("0315-0000001", "0315-0000002")
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
    size, top = poster.QR_SIZE, poster.QR_TOP
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


def test_without_a_chinese_font_no_poster_of_empty_boxes_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poster, "find_cjk_font", lambda: None)
    out = tmp_path / "poster.png"
    with pytest.raises(poster.NoFont, match=r"apt install fonts-noto-cjk") as refused:
        poster.render_poster(out, LINK, words())
    assert "\n" not in str(refused.value), "one line"
    assert not out.exists()
    # In English, an enterprise with a Latin name needs no Chinese font.
    english = poster.poster_text(
        catalogs(), "en", enterprise="Tangshan Steel", campaign="", link=LINK
    )
    font = poster.render_poster(out, LINK, english)
    assert font.family == poster.LATIN_FAMILY and png_size(out)[0] > 2000


def cjk_font() -> poster.Font:
    font = poster.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk)")
    return font


def test_a_chinese_font_is_found_and_draws_chinese() -> None:
    font = cjk_font()
    assert font.missing(poster.CJK_SAMPLE) == ""
    assert font.missing("务工𠀀") == "𠀀", "a character no font has is caught"
    assert poster.latin_font().missing("务工 ok") == "务工"


def test_the_poster_carries_every_glyph_the_issuer_the_phones_and_the_web_address() -> None:
    """Rendered with the found font, every character has its glyph (matplotlib would warn of
    a missing one, and warnings fail the tests); saved to docs/ to be looked at."""
    font = cjk_font()
    link = poster.poster_link(LINK, WEB + "/", "AbCdEfGhIjKl")
    assert link == f"{WEB}/j/AbCdEfGhIjKl", "the web channel's invite path"
    assert poster.poster_link(LINK, "", "AbCdEfGhIjKl") == LINK
    text = poster.poster_text(
        catalogs(),
        "zh_Hans",
        enterprise="唐山城建一公司",
        campaign="留企过年",
        link=link,
        web=True,
        phones=PHONES,
        issuer=ISSUER,
    )
    assert "微信" in text.scan and "Telegram" not in text.scan
    assert link in text.link and "浏览器" in text.link
    assert all(phone in text.phones for phone in PHONES) and ISSUER in text.issuer
    assert font.missing(text.characters()) == ""
    out = ROOT / "docs" / "poster.png"
    out.parent.mkdir(exist_ok=True)
    poster.render_poster(out, link, text, font=font)
    width, height = png_size(out)
    assert abs(width - 2480) <= 2 and abs(height - 3508) <= 2
    # The QR code on the page reads back as the web address.
    image = imread(out)
    grid = [list(row) for row in segno.make(link, error="m").matrix_iter(scale=1, border=4)]
    step = poster.QR_SIZE / len(grid)
    left = (poster.A4_INCHES[0] - poster.QR_SIZE) / 2
    for y, row in enumerate(grid):
        for x, dark in enumerate(row):
            px = int((left + (x + 0.5) * step) * poster.PRINT_DPI)
            py = int((poster.QR_TOP + (y + 0.5) * step) * poster.PRINT_DPI)
            assert (float(image[py, px][:3].mean()) < 0.5) == bool(dark)


def test_with_a_chinese_font_when_one_is_installed(tmp_path: Path) -> None:
    font = cjk_font()
    out = tmp_path / "poster.pdf"
    assert poster.render_poster(out, LINK, words("zh_Hant")) == font
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
