"""Checks free text typed by users (names, phones, places, notes, dates, counts).
Each parser returns the cleaned value, or an `Invalid` naming a gettext catalog key."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from types import MappingProxyType

from handlers import lunar

__all__ = [
    "Invalid",
    "clean",
    "has_control_chars",
    "normalize_shared_phone",
    "parse_count",
    "parse_date",
    "parse_message_text",
    "parse_mobile",
    "parse_moment",
    "parse_name",
    "parse_note",
    "parse_org_name",
    "parse_org_search",
    "parse_place",
    "parse_time",
]


@dataclass(frozen=True)
class Invalid:
    """Why a piece of typed input was refused: a catalog key and its parameters."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A read-only copy, so a refusal cannot be changed after it was made.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


# --- text -----------------------------------------------------------------------------

_BLANKS = re.compile(r"[ \t]+")
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
# All of these are Cf today; listed so a Unicode update cannot let them through.
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)


def clean(raw: str) -> str:
    """NFKC-normalise, strip, and collapse runs of spaces and tabs into one space."""
    return _BLANKS.sub(" ", unicodedata.normalize("NFKC", raw).strip())


def has_control_chars(text: str, *, allow_newlines: bool = False) -> bool:
    """Whether the text holds control, format, private-use or surrogate characters."""
    for ch in text:
        if allow_newlines and ch in "\n\t":
            continue
        if ch in _INVISIBLE or unicodedata.category(ch) in _CONTROL_CATEGORIES:
            return True
    return False


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _only(text: str, extra: str) -> bool:
    """Whether every character is a letter, a combining mark, a space or one of `extra`."""
    return all(ch == " " or ch in extra or unicodedata.category(ch)[0] in "LM" for ch in text)


_NAME_PUNCTUATION = "·•.-'’・"
_PLACE_PUNCTUATION = "·-'’()（）"


def parse_name(raw: str, *, min_len: int = 2, max_len: int = 30) -> str | Invalid:
    """A person's name (Chinese, Uyghur, Latin...), cleaned, or why it was refused."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    if has_control_chars(text):
        return Invalid("error.text.control_chars")
    if len(text) < min_len:
        return Invalid("error.name.too_short", {"min": min_len})
    if len(text) > max_len:
        return Invalid("error.name.too_long", {"max": max_len})
    if not any(_is_letter(ch) for ch in text):
        return Invalid("error.name.no_letters")
    if not _only(text, _NAME_PUNCTUATION):
        return Invalid("error.name.bad_chars")
    return text


def parse_place(raw: str, *, max_len: int = 20) -> str | Invalid:
    """A city or county name, cleaned, or why it was refused."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    if has_control_chars(text):
        return Invalid("error.text.control_chars")
    if len(text) > max_len:
        return Invalid("error.place.too_long", {"max": max_len})
    if not any(_is_letter(ch) for ch in text):
        return Invalid("error.place.no_letters")
    if not _only(text, _PLACE_PUNCTUATION):
        return Invalid("error.place.bad_chars")
    return text


def parse_note(raw: str, *, max_len: int = 500) -> str | Invalid:
    """A free-text note (newlines and emoji allowed), or why it was refused.

    Kept as written (NFC only): NFKC would turn a worker's full-width Chinese punctuation
    and digits into ASCII in what the employer or staff read."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").strip()
    if not text:
        return Invalid("error.text.empty")
    if has_control_chars(text, allow_newlines=True):
        return Invalid("error.text.control_chars")
    if len(text) > max_len:
        return Invalid("error.note.too_long", {"max": max_len, "length": len(text)})
    return text


# --- phones ---------------------------------------------------------------------------

_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_SEPARATORS = re.compile(r"[\s()-]+")
_NON_DIGITS = re.compile(r"[^0-9]+")


def parse_mobile(raw: str) -> str | Invalid:
    """A mainland China mobile number as its 11 digits, or why it was refused."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return Invalid("error.text.empty")
    number = _PHONE_SEPARATORS.sub("", text)
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    if _MAINLAND_MOBILE.fullmatch(number):
        return number
    return Invalid("error.phone.invalid")


def normalize_shared_phone(raw: str) -> str:
    """A phone shared from Telegram: 11 digits if a mainland mobile, else "+" and digits."""
    digits = _NON_DIGITS.sub("", unicodedata.normalize("NFKC", raw))
    if not digits:
        return ""
    if len(digits) == 13 and digits.startswith("86") and _MAINLAND_MOBILE.fullmatch(digits[2:]):
        return digits[2:]
    if _MAINLAND_MOBILE.fullmatch(digits):
        return digits
    return "+" + digits


# --- dates ----------------------------------------------------------------------------

_DAY_SUFFIX = "[日号號]"
_FULL_DATES = (
    re.compile(r"([0-9]{4}) ?([-/.]) ?([0-9]{1,2}) ?\2 ?([0-9]{1,2})"),
    re.compile(r"([0-9]{4})()([0-9]{2})([0-9]{2})"),
    re.compile(rf"([0-9]{{4}}) ?年() ?([0-9]{{1,2}}) ?月 ?([0-9]{{1,2}})(?: ?{_DAY_SUFFIX})?"),
)
_SHORT_DATES = (
    re.compile(r"([0-9]{1,2}) ?[-/.] ?([0-9]{1,2})"),
    re.compile(rf"([0-9]{{1,2}}) ?月 ?([0-9]{{1,2}})(?: ?{_DAY_SUFFIX})?"),
)
_RELATIVE_DAYS = {
    "今天": 0,
    "today": 0,
    "明天": 1,
    "tomorrow": 1,
    "后天": 2,
    "後天": 2,
}


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nearest_date(month: int, day: int, today: date) -> date | None:
    """The date with this month and day closest to today; ties go to the future."""
    best: tuple[tuple[int, bool], date] | None = None
    for year in (today.year - 1, today.year, today.year + 1):
        candidate = _make_date(year, month, day)
        if candidate is None:
            continue
        rank = (abs((candidate - today).days), candidate < today)
        if best is None or rank < best[0]:
            best = (rank, candidate)
    return None if best is None else best[1]


def parse_date(raw: str, today: date) -> date | Invalid:
    """A date in a common Chinese or numeric form, or as the lunar calendar says it (腊月二十五,
    初八, 除夕: see handlers/lunar.py), or why it was refused."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    offset = _RELATIVE_DAYS.get(text.casefold())
    if offset is not None:
        return today + timedelta(days=offset)
    for pattern in _FULL_DATES:
        match = pattern.fullmatch(text)
        if match is not None:
            year, month, day = int(match[1]), int(match[3]), int(match[4])
            if not today.year - 1 <= year <= today.year + 2:
                return Invalid("error.date.year_out_of_range")
            found = _make_date(year, month, day)
            return Invalid("error.date.no_such_day", {"text": text}) if found is None else found
    for pattern in _SHORT_DATES:
        match = pattern.fullmatch(text)
        if match is not None:
            found = _nearest_date(int(match[1]), int(match[2]), today)
            return Invalid("error.date.no_such_day", {"text": text}) if found is None else found
    said = lunar.parse(text, today)
    if isinstance(said, lunar.NotALunarDay):
        return Invalid(said.key, {"text": text})
    return Invalid("error.date.format") if said is None else said


# --- times of day --------------------------------------------------------------------

_TIMES = (
    re.compile(r"([0-9]{1,2}) ?[:：.] ?([0-9]{2})"),
    re.compile(r"([0-9]{1,2}) ?[点點时時](?: ?([0-9]{1,2}) ?分?)?"),
    re.compile(r"([0-9]{1,2}) ?[点點时時] ?(半)"),
)


def parse_time(raw: str) -> time | Invalid:
    """A time of day such as 9:00, 09:30, 9点, 9点30 or 9点半 (24-hour clock)."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    for pattern in _TIMES:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        hour = int(match[1])
        minute = 30 if match[2] == "半" else int(match[2] or 0)
        if hour > 23 or minute > 59:
            return Invalid("error.time.no_such_time", {"text": text})
        return time(hour, minute)
    return Invalid("error.time.format")


def parse_moment(raw: str, today: date) -> tuple[date, time] | Invalid:
    """A date and a time of day in one message ("1月25日 9:00", "明天 15:30")."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    head, _, tail = text.rpartition(" ")
    if not head:
        return Invalid("error.moment.format")
    day = parse_date(head, today)
    if isinstance(day, Invalid):
        return day
    at = parse_time(tail)
    if isinstance(at, Invalid):
        return at
    return day, at


# --- messages to many people ------------------------------------------------------------


def parse_message_text(raw: str, *, max_len: int) -> str | Invalid:
    """Text staff send to many people: not empty, within Telegram's length, no hidden controls."""
    text = raw.strip()
    if not text:
        return Invalid("error.text.empty")
    if has_control_chars(text, allow_newlines=True):
        return Invalid("error.text.control_chars")
    if len(text) > max_len:
        return Invalid("error.text.too_long", {"max": max_len, "length": len(text)})
    return text


# --- numbers --------------------------------------------------------------------------

_WHOLE = re.compile(r"[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+")
_NEGATIVE = re.compile(r"[-−] ?[0-9][0-9,.]*")
_DECIMAL = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)[.,][0-9]+")


def parse_count(raw: str, *, maximum: int) -> int | Invalid:
    """A whole number from 0 to maximum, or why it was refused."""
    text = clean(raw).replace("，", ",")
    if not text:
        return Invalid("error.text.empty")
    if _WHOLE.fullmatch(text) is None:
        if _NEGATIVE.fullmatch(text) is not None:
            return Invalid("error.number.negative")
        if _DECIMAL.fullmatch(text) is not None:
            return Invalid("error.number.whole")
        return Invalid("error.number.not_a_number")
    digits = text.replace(",", "").lstrip("0") or "0"
    # Compare lengths first: int() refuses strings over ~4300 digits, and it is cheaper.
    if len(digits) > len(str(max(maximum, 0))) or int(digits) > maximum:
        return Invalid("error.number.too_big", {"max": maximum})
    return int(digits)


# --- organisations --------------------------------------------------------------------

_ORG_SYMBOLS = "&+"  # NFKC has already made a full-width ＆ plain


def _org_characters(text: str) -> bool:
    return all(
        ch == " " or ch in _ORG_SYMBOLS or unicodedata.category(ch)[0] in "LMNP" for ch in text
    )


def parse_org_search(raw: str, *, max_len: int) -> str | Invalid:
    """Part of an enterprise or town name to look for ("18局", "A&B"), or why refused."""
    text = clean(raw)
    if not text:
        return Invalid("error.text.empty")
    if has_control_chars(text):
        return Invalid("error.text.control_chars")
    if len(text) > max_len:
        return Invalid("error.org_name.too_long", {"max": max_len})
    if not _org_characters(text):
        return Invalid("error.org_name.bad_chars")
    return text


def parse_org_name(raw: str, *, max_len: int) -> str | Invalid:
    """An enterprise or town name (digits and punctuation allowed), cleaned, or why refused."""
    text = parse_org_search(raw, max_len=max_len)
    if isinstance(text, Invalid):
        return text
    if not any(_is_letter(ch) for ch in text):
        return Invalid("error.org_name.no_letters")
    return text
