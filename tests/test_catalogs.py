"""Every message key the code uses is translated in every catalog, with the same placeholders,
and renders as Telegram HTML that parses."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import po_path
from tests.harness import LANGUAGES, ROOT

KEYWORDS = {"Msg": None, "say": None, "N_": None, "Invalid": None}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
TELEGRAM_TAGS = {"b", "i", "u", "s", "code", "pre", "a", "tg-spoiler", "blockquote"}


@cache
def used_keys() -> frozenset[str]:
    """Keys marked in the code."""
    found: set[str] = set()
    for folder in ("handlers", "bot"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


@cache
def catalog(language: str) -> Catalog:
    with Path(po_path(ROOT / "locales", language)).open("rb") as source:
        return read_po(source, locale=language)


def translations(language: str) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog(language) if m.id}


def test_the_code_uses_a_sensible_number_of_keys() -> None:
    assert len(used_keys()) > 150
    assert "checkin.ask_plan" in used_keys() and "error.date.no_such_day" in used_keys()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_is_translated(language: str) -> None:
    entries = translations(language)
    missing = sorted(k for k in used_keys() if not entries.get(k, "").strip())
    assert not missing, f"{language} lacks {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_dead_entries(language: str) -> None:
    unused = sorted(set(translations(language)) - used_keys())
    assert not unused, f"{language} has entries no code uses: {unused}"


@pytest.mark.parametrize("language", ["zh_Hant", "en"])
def test_placeholders_match_the_default_language(language: str) -> None:
    default = translations("zh_Hans")
    for key, text in translations(language).items():
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(default[key])), key


class _TagChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self.problems.append(f"<{tag}> is not Telegram HTML")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


@pytest.mark.parametrize("language", LANGUAGES)
def test_messages_are_well_formed_telegram_html(language: str) -> None:
    for key, text in translations(language).items():
        checker = _TagChecker()
        checker.feed(text)
        checker.close()
        assert not checker.problems and not checker.stack, (key, checker.problems)
        assert re.search(r"&(?!amp;|lt;|gt;|quot;)", text) is None, f"bare & in {key}"


def test_simplified_and_traditional_differ_where_they_should() -> None:
    hans, hant = translations("zh_Hans"), translations("zh_Hant")
    assert hans["checkin.ask_plan"] != hant["checkin.ask_plan"]
    assert "後" in hant["checkin.again_in_days"]
