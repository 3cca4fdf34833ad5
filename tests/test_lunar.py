"""Lunar dates as people say them, across the 2027 Spring Festival (正月初一 is 2027-02-06)
and a leap month, and the lunar name shown beside a date."""

from __future__ import annotations

from datetime import date

import pytest

from handlers import lunar
from handlers.validation import Invalid, parse_date
from tests.harness import catalogs

TODAY = date(2027, 1, 20)  # 腊月十三 of the lunar year 2026


@pytest.mark.parametrize(
    ("said", "today", "meant"),
    [
        ("腊月二十五", TODAY, date(2027, 2, 1)),
        ("腊月廿八", TODAY, date(2027, 2, 4)),
        ("十二月二十八", TODAY, date(2027, 2, 4)),
        ("農曆臘月二十五", TODAY, date(2027, 2, 1)),
        ("腊月29", TODAY, date(2027, 2, 5)),
        ("除夕", TODAY, date(2027, 2, 5)),
        ("大年三十", TODAY, date(2027, 2, 5)),
        ("春节", TODAY, date(2027, 2, 6)),
        ("大年初一", TODAY, date(2027, 2, 6)),
        ("正月初一", TODAY, date(2027, 2, 6)),
        ("正月初八", TODAY, date(2027, 2, 13)),
        ("农历正月十五", TODAY, date(2027, 2, 20)),
        ("元宵", TODAY, date(2027, 2, 20)),
        ("元宵節", TODAY, date(2027, 2, 20)),
        ("正月十六", TODAY, date(2027, 2, 21)),
        ("二月初二", TODAY, date(2027, 3, 9)),
        # A day alone is the next one: 腊月初八 is past, so 初八 is 正月初八.
        ("初八", TODAY, date(2027, 2, 13)),
        ("初十", TODAY, date(2027, 2, 15)),
        # A month and day is the occurrence nearest today, in either direction.
        ("冬月初一", TODAY, date(2026, 12, 9)),
        # After the festival, 元宵 and 除夕 are still this festival's, 初八 the next month's.
        ("元宵", date(2027, 2, 18), date(2027, 2, 20)),
        ("除夕", date(2027, 2, 18), date(2027, 2, 5)),
        ("初八", date(2027, 2, 18), date(2027, 3, 15)),
        # Next season, 除夕 is the eve of 2028-01-26.
        ("除夕", date(2027, 12, 1), date(2028, 1, 25)),
        # Leap months: 2025 had a leap sixth month, 2028 has a leap fifth.
        ("闰六月初一", date(2025, 7, 1), date(2025, 7, 25)),
        ("六月初一", date(2025, 7, 1), date(2025, 6, 25)),
        ("閏五月十五", date(2028, 6, 1), date(2028, 7, 7)),
        ("初一", date(2025, 7, 1), date(2025, 7, 25)),
    ],
)
def test_lunar_dates_are_read(said: str, today: date, meant: date) -> None:
    assert parse_date(said, today) == meant


@pytest.mark.parametrize(
    ("said", "today", "why"),
    [
        # The 腊月 before the 2027 festival has 29 days: no 腊月三十, and no moving a year on.
        ("腊月三十", TODAY, "error.date.lunar_no_such_day"),
        ("正月32", TODAY, "error.date.lunar_no_such_day"),
        ("闰五月初一", TODAY, "error.date.no_leap_month"),
        ("闰六月初一", date(2028, 6, 1), "error.date.no_leap_month"),
        ("腊月", TODAY, "error.date.format"),
        ("十五", TODAY, "error.date.format"),
        ("农历", TODAY, "error.date.format"),
        ("初十一", TODAY, "error.date.format"),
    ],
)
def test_impossible_lunar_dates_are_explained(said: str, today: date, why: str) -> None:
    found = parse_date(said, today)
    assert isinstance(found, Invalid) and found.key == why
    if why != "error.date.format":
        assert found.params == {"text": said}


def test_calendar_dates_still_read_as_before() -> None:
    assert parse_date("2月5日", TODAY) == date(2027, 2, 5)
    assert parse_date("2027-02-20", TODAY) == date(2027, 2, 20)
    assert parse_date("明天", TODAY) == date(2027, 1, 21)


LUNAR_SHOWN = [
    (date(2027, 2, 20), "2027年2月20日（正月十五）", "（正月十五）", "(lunar month 1, day 15)"),
    (date(2027, 2, 5), "2027年2月5日（腊月廿九）", "（臘月廿九）", "(lunar month 12, day 29)"),
    (date(2027, 1, 20), "2027年1月20日（腊月十三）", "（臘月十三）", "(lunar month 12, day 13)"),
    (date(2026, 12, 9), "2026年12月9日（冬月初一）", "（冬月初一）", "(lunar month 11, day 1)"),
    (
        date(2025, 7, 25),
        "2025年7月25日（闰六月初一）",
        "（閏六月初一）",
        "(leap lunar month 6, day 1)",
    ),
]


@pytest.mark.parametrize(("day", "hans", "hant", "en"), LUNAR_SHOWN)
def test_a_date_is_shown_with_its_lunar_day(day: date, hans: str, hant: str, en: str) -> None:
    shown = lunar.with_lunar(day)
    assert catalogs().render("zh_Hans", shown) == hans
    assert catalogs().render("zh_Hant", shown).endswith(hant)
    assert catalogs().render("en", shown).endswith(en)


def test_the_festival_in_hand() -> None:
    assert lunar.festival(TODAY) == date(2027, 2, 6)
    assert lunar.festival(date(2027, 2, 25)) == date(2027, 2, 6), "still this one at 正月二十"
    assert lunar.festival(date(2027, 4, 1)) == date(2028, 1, 26)
    assert lunar.new_year(2028) == date(2028, 1, 26)
