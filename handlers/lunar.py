"""Dates as people say them around the Spring Festival: the lunar calendar (农历).

Reads 腊月二十五, 正月初八, 初八, 闰六月初一, 除夕, 春节, 元宵 into calendar dates, and names a
calendar date by its lunar month and day (正月十五) for the person to check what the bot
understood. The conversion itself is the lunardate library's (1900-2099).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from lunardate import LunarDate

from handlers.actions import N_, Msg

# Month names as people say them: 正月 is the first, 冬月 the eleventh, 腊月 the twelfth.
_MONTHS = {
    "正": 1, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
    "九": 9, "十": 10, "十一": 11, "冬": 11, "十二": 12, "腊": 12, "臘": 12,
}  # fmt: skip
_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_PREFIX = "(?:农历|農曆|阴历|陰曆)?"
_MONTH = "(?P<leap>[闰閏])?(?P<month>十一|十二|正|冬|腊|臘|[一二三四五六七八九十])月"
_NINE = "[一二三四五六七八九]"
_DAY = f"(?P<day>初(?:{_NINE}|十)|[十廿]{_NINE}|二十{_NINE}?|三十|卅|十|[0-9]{{1,2}})"
_MONTH_DAY = re.compile(f"{_PREFIX}{_MONTH}{_DAY}")
_DAY_ONLY = re.compile(f"{_PREFIX}(?P<day>初(?:{_NINE}|十))")
_EVE = frozenset({"除夕", "大年三十", "年三十", "大年夜"})
_NEW_YEAR = frozenset({"春节", "春節", "大年初一", "过年", "過年"})
_LANTERN = frozenset({"元宵", "元宵节", "元宵節"})
# How far back the festival is still "this year's" when reading 除夕, 春节 or 元宵: a worker
# back at work on 正月十六 who types 元宵 means the one just past, not next year's.
_FESTIVAL_LOOKBACK = timedelta(days=20)

# Spelled out, one key each, so that the catalogs' extraction sees every one.
MONTH_NAMES: tuple[str, ...] = (
    N_("lunar.month.1"), N_("lunar.month.2"), N_("lunar.month.3"), N_("lunar.month.4"),
    N_("lunar.month.5"), N_("lunar.month.6"), N_("lunar.month.7"), N_("lunar.month.8"),
    N_("lunar.month.9"), N_("lunar.month.10"), N_("lunar.month.11"), N_("lunar.month.12"),
)  # fmt: skip
DAY_NAMES: tuple[str, ...] = (
    N_("lunar.day.1"), N_("lunar.day.2"), N_("lunar.day.3"), N_("lunar.day.4"),
    N_("lunar.day.5"), N_("lunar.day.6"), N_("lunar.day.7"), N_("lunar.day.8"),
    N_("lunar.day.9"), N_("lunar.day.10"), N_("lunar.day.11"), N_("lunar.day.12"),
    N_("lunar.day.13"), N_("lunar.day.14"), N_("lunar.day.15"), N_("lunar.day.16"),
    N_("lunar.day.17"), N_("lunar.day.18"), N_("lunar.day.19"), N_("lunar.day.20"),
    N_("lunar.day.21"), N_("lunar.day.22"), N_("lunar.day.23"), N_("lunar.day.24"),
    N_("lunar.day.25"), N_("lunar.day.26"), N_("lunar.day.27"), N_("lunar.day.28"),
    N_("lunar.day.29"), N_("lunar.day.30"),
)  # fmt: skip


@dataclass(frozen=True)
class LunarDay:
    """A day of the lunar calendar."""

    year: int
    month: int
    day: int
    leap: bool = False


@dataclass(frozen=True)
class NotALunarDay:
    """Text that names a lunar day the calendar does not have (why, as a catalog key)."""

    key: str


def of(day: date) -> LunarDay:
    """The lunar day a calendar date falls on."""
    lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
    return LunarDay(lunar.year, lunar.month, lunar.day, lunar.is_leap_month)


def solar(lunar: LunarDay) -> date | None:
    """The calendar date of a lunar day, or None when that year has no such day."""
    try:
        found: date = LunarDate(lunar.year, lunar.month, lunar.day, lunar.leap).to_solar_date()
    except ValueError:
        return None
    return found


def new_year(lunar_year: int) -> date:
    """正月初一 of a lunar year."""
    found = solar(LunarDay(lunar_year, 1, 1))
    assert found is not None, "every lunar year has a first day"
    return found


def name(day: date) -> Msg:
    """The lunar month and day of a date, as people say it (正月十五, 闰六月初一)."""
    lunar = of(day)
    month = Msg(MONTH_NAMES[lunar.month - 1])
    if lunar.leap:
        month = Msg("lunar.leap", month=month)
    return Msg("lunar.date", month=month, day=Msg(DAY_NAMES[lunar.day - 1]))


def with_lunar(day: date) -> Msg:
    """A date with its lunar day beside it: 2027年2月20日（正月十五）."""
    return Msg("date.with_lunar", date=day, lunar=name(day))


def festival(today: date) -> date:
    """正月初一 of the Spring Festival in hand: the coming one, or one just past."""
    year = of(today).year
    for candidate in (new_year(year), new_year(year + 1)):
        if candidate + _FESTIVAL_LOOKBACK >= today:
            return candidate
    return new_year(year + 1)


def parse(text: str, today: date) -> date | NotALunarDay | None:
    """The date a lunar expression names, relative to today; None when the text is not one.

    A month and day (腊月二十五) is the occurrence nearest to today, ties going ahead; a day
    alone (初八) is the next one from today; 除夕, 春节 and 元宵 are those of the festival in
    hand. Chinese numerals without 日 or 号 read as lunar: that is how dates are said.
    """
    if text in _EVE:
        return festival(today) - timedelta(days=1)
    if text in _NEW_YEAR:
        return festival(today)
    if text in _LANTERN:
        return festival(today) + timedelta(days=14)
    match = _MONTH_DAY.fullmatch(text)
    if match is not None:
        return _month_day(
            _MONTHS[match["month"]], _day_number(match["day"]), bool(match["leap"]), today
        )
    match = _DAY_ONLY.fullmatch(text)
    if match is not None:
        return _next_day_of_month(_day_number(match["day"]), today)
    return None


def _day_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text in ("卅", "三十"):
        return 30
    if text == "十":
        return 10
    if text.startswith("初"):
        rest = text[1:]
        return 10 if rest == "十" else _DIGITS[rest]
    if text.startswith(("廿", "二十")):
        rest = text.removeprefix("廿").removeprefix("二十")
        return 20 + (_DIGITS[rest] if rest else 0)
    return 10 + _DIGITS[text[1:]]  # 十一 ... 十九


def _month_day(month: int, day: int, leap: bool, today: date) -> date | NotALunarDay:
    if not 1 <= day <= 30:
        return NotALunarDay(N_("error.date.lunar_no_such_day"))
    this_year = of(today).year
    # The year is chosen by the month (its 29th exists every year), then the day is checked
    # in that year: 腊月三十 in a year whose 腊月 has 29 days is refused, not moved a year on.
    best: tuple[tuple[int, bool], int] | None = None
    for year in (this_year - 1, this_year, this_year + 1):
        anchor = solar(LunarDay(year, month, min(day, 29), leap))
        if anchor is None:
            continue
        rank = (abs((anchor - today).days), anchor < today)
        if best is None or rank < best[0]:
            best = (rank, year)
    if best is None:
        return NotALunarDay(N_("error.date.no_leap_month"))
    found = solar(LunarDay(best[1], month, day, leap))
    return found if found is not None else NotALunarDay(N_("error.date.lunar_no_such_day"))


def _next_day_of_month(day: int, today: date) -> date:
    """The first date from today on that is the given day of its lunar month."""
    candidate = today
    while of(candidate).day != day:
        candidate += timedelta(days=1)
    return candidate
