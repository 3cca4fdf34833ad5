"""Every message key the code uses is translated in every catalog, with the same placeholders,
and renders as Telegram HTML that parses; plural forms name their counting parameter; the
catalogs speak the notice's words, one label for each plan, need and figure."""

from __future__ import annotations

import re
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import po_path
from handlers.actions import Msg
from models.checkins import Need
from tests.harness import LANGUAGES, ROOT, catalogs

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


def _key(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple) else message.id)


def forms(language: str) -> dict[str, tuple[str, ...]]:
    """Each key's text, as its plural forms (one form for a message that counts nothing)."""
    return {
        _key(m): tuple(map(str, m.string)) if isinstance(m.string, tuple) else (str(m.string),)
        for m in catalog(language)
        if m.id
    }


def translations(language: str) -> dict[str, str]:
    """Each key's text, its plural forms one per line."""
    return {key: "\n".join(texts) for key, texts in forms(language).items()}


def counted(language: str) -> dict[str, str]:
    """The counting parameter of each key that has plural forms."""
    return {_key(m): str(m.id[1]) for m in catalog(language) if m.id and isinstance(m.id, tuple)}


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


# Plural forms -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_plural_forms_count_with_the_same_parameter_in_every_language(language: str) -> None:
    default = counted("zh_Hans")
    assert counted(language) == default
    assert "checkin.again_in_days" in default
    entries = forms(language)
    wanted = catalog(language).num_plurals
    for key, parameter in default.items():
        assert len(entries[key]) == wanted, key
        # The count shows in the text, at least where it is more than one.
        assert "{" + parameter + "}" in entries[key][-1], key


def test_english_counts_agree_with_their_numbers() -> None:
    english = Msg("checkin.again_in_days", days=1), Msg("checkin.again_in_days", days=3)
    assert [catalogs().render("en", m) for m in english] == ["In 1 day", "In 3 days"]
    assert catalogs().render("zh_Hans", english[0]) == "1 天后"
    caption = Msg("stats.export_caption", rows=1)
    assert catalogs().render("en", caption) == "The Excel workbook, 1 row."


def test_chinese_numbers_have_no_western_thousands_separators() -> None:
    caption = Msg("stats.export_caption", rows=2800)
    assert catalogs().render("zh_Hans", caption) == "Excel 台账，共 2800 行。"
    assert "2800" in catalogs().render("zh_Hant", caption)
    assert catalogs().render("en", caption) == "The Excel workbook, 2,800 rows."


# The notice's words ---------------------------------------------------------------------------

# Other names once given to the same plan, figure or person, and the informal "你".
BANNED: dict[str, tuple[str, ...]] = {
    # 留守 calls up left-behind children and old people; the rest are other names for 在本地过年.
    "zh_Hans": ("留守", "留在本地", "节日留下", "留下过年", "留企过年", "留岗", "回老家过年",
                "返回日期", "返回：", "回来上班", "职工自报", "联络人", "你"),
    "zh_Hant": ("留守", "留在本地", "節日留下", "留下過年", "留企過年", "留崗", "回老家過年",
                "返回日期", "返回：", "回來上班", "職工自報", "聯絡人", "你"),
    "en": ("left-behind", "staying over the holiday", "time(s)"),
}  # fmt: skip
# 工人 on its own (务工人员 contains it): a worker is 务工人员.
WORKER_WORD = {"zh_Hans": re.compile("(?<!务)工人"), "zh_Hant": re.compile("(?<!務)工人")}
# Each plan and figure has one label, its catalog key's; the messages that name it use it.
ONE_LABEL: dict[str, tuple[str, ...]] = {
    "plan.stay": (
        "checkin.ask_needs", "report.ask_staying", "report.ask_on_duty", "report.figures",
        "report.tally", "report.rule.staying", "report.rule.gone_home", "report.rule.on_duty",
        "stats.picture", "stats.town_line", "stats.gap_line", "stats.trend_caption",
        "chart.title", "export.col.staying", "export.col.said_staying", "nominations.figures",
        "nominate.ask_summary", "nominate.selected_notice", "enrol.consent",
    ),
    "plan.return": ("report.tally", "stats.gap_line", "export.col.said_gone_home"),
    "plan.undecided": (
        "report.figures", "report.tally", "stats.picture", "stats.town_line",
        "export.col.undecided", "export.col.said_undecided",
    ),
    "export.col.gone_home": (
        "report.figures", "report.ask_gone_home", "report.rule.gone_home", "stats.picture",
        "stats.town_line", "stats.gap_line", "stats.trend_caption", "chart.title",
    ),
    "export.col.on_duty": (
        "report.figures", "report.ask_on_duty", "report.rule.on_duty", "stats.picture",
        "stats.town_line", "stats.trend_caption", "chart.title",
    ),
    "export.col.new_arrivals": ("report.figures", "stats.picture", "stats.town_line"),
    "export.col.depart": ("checkin.line.depart", "checkin.ask_return",
                          "error.date.return_before_departure"),
    "export.col.return": ("checkin.line.return", "checkin.line.return_unknown",
                          "error.date.return_before_departure"),
    "role.worker": ("report.tally", "roster.text", "request.card.reply", "request.answer_sent",
                    "org.enterprise_card"),
}  # fmt: skip
EMOJI = re.compile(r"^[^\w]+", re.UNICODE)


def label(language: str, key: str) -> str:
    """A label's words, without the emoji a button carries, as they read in a sentence."""
    return EMOJI.sub("", translations(language)[key]).strip().casefold()


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_catalog_uses_the_banned_words(language: str) -> None:
    found = [
        (key, word)
        for key, text in translations(language).items()
        for word in BANNED[language]
        if word.casefold() in text.casefold()
    ]
    assert not found, found
    worker = WORKER_WORD.get(language)
    if worker is not None:
        assert not [k for k, t in translations(language).items() if worker.search(t)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_one_label_for_each_plan_and_figure(language: str) -> None:
    texts = translations(language)
    for concept, keys in ONE_LABEL.items():
        words = label(language, concept)
        astray = [key for key in keys if words not in texts[key].casefold()]
        assert not astray, f"{language}: {keys} should say {words!r}: {astray}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_need_and_its_request_have_one_label(language: str) -> None:
    texts = translations(language)
    for need in Need:
        assert texts[f"need.{need.value}"] == texts[f"request.category.{need.value}"], need


def test_the_staying_plan_is_the_notices_words() -> None:
    assert label("zh_Hans", "plan.stay") == "在本地过年"
    assert label("zh_Hant", "plan.stay") == "在本地過年"
    assert label("zh_Hans", "export.col.return") == "返岗日期"
    assert label("zh_Hans", "role.worker") == "务工人员"
    assert "联系人" in translations("zh_Hans")["role.contact"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_what_workers_read_has_no_slash_commands(language: str) -> None:
    texts = translations(language)
    for key in ("letter.body", "event.notice", "event.reminder"):
        assert re.search(r"(?<![<\w])/[a-z]", texts[key]) is None, key
