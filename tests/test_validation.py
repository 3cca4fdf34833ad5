"""Tests for handlers.validation: what users type on cheap phones, friendly and hostile."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.validation import (
    Invalid,
    clean,
    has_control_chars,
    normalize_shared_phone,
    parse_count,
    parse_date,
    parse_mobile,
    parse_name,
    parse_note,
    parse_org_search,
    parse_place,
)

LONG = "a" * 4096
LONG_CJK = "张" * 4096
RLO = "\u202e"
ZWJ = "\u200d"
NUL = "\x00"
HTML = "<b>x</b>"
SQL = "'; DROP TABLE x; --"
FAMILY = "👨\u200d👩\u200d👧"

EMPTY = Invalid("error.text.empty")
CONTROL = Invalid("error.text.control_chars")


# --- Invalid --------------------------------------------------------------------------


def test_invalid_defaults_to_no_params() -> None:
    assert Invalid("k").params == {}
    assert Invalid("k") == Invalid("k", {})


def test_invalid_params_are_a_read_only_copy() -> None:
    params: dict[str, object] = {"max": 3}
    refusal = Invalid("k", params)
    params["max"] = 4
    assert refusal.params == {"max": 3}
    with pytest.raises(TypeError):
        refusal.params["max"] = 5  # type: ignore[index]


# --- clean ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("   ", ""),
        ("  张三  ", "张三"),
        ("李  \t 四", "李 四"),
        ("李\u3000四", "李 四"),  # ideographic space
        ("a\u00a0b", "a b"),  # no-break space
        ("１２３", "123"),
        ("ＡＢＣ", "ABC"),
        ("a\n\nb", "a\n\nb"),  # newlines are kept
        ("a \n b", "a \n b"),
        ("\n a \n", "a"),
        ("\t\tx\t\t", "x"),
        ("e\u0301", "é"),  # composed
    ],
)
def test_clean(raw: str, expected: str) -> None:
    assert clean(raw) == expected


def test_clean_long_input() -> None:
    assert clean(" " + LONG + " ") == LONG


# --- has_control_chars ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "allow_newlines", "expected"),
    [
        ("", False, False),
        ("张三 Li Wei", False, False),
        ("emoji 😀👍🏽", False, False),
        ("flag 🇨🇳", False, False),
        (HTML, False, False),
        (SQL, False, False),
        ("a\nb", False, True),
        ("a\nb", True, False),
        ("a\tb", False, True),
        ("a\tb", True, False),
        ("a\rb", True, True),
        (NUL, False, True),
        (NUL, True, True),
        ("\x1b[31m", True, True),  # ANSI escape
        ("\x7f", True, True),
        ("\x85", True, True),  # C1 control
        ("ab" + RLO + "cd", True, True),
        ("\u202a", False, True),
        ("\u202b", False, True),
        ("\u202c", False, True),
        ("\u202d", False, True),
        ("\u200e", False, True),  # LRM
        ("\u200f", False, True),  # RLM
        ("\u2066", False, True),
        ("\u2067", False, True),
        ("\u2068", False, True),
        ("\u2069", False, True),
        ("\u200b", False, True),  # zero-width space
        ("\u200c", False, True),  # ZWNJ
        ("a" + ZWJ + "b", True, True),
        (FAMILY, True, True),  # ZWJ emoji sequences count too
        ("\ufeffhello", False, True),  # BOM
        ("\u00ad", False, True),  # soft hyphen, Cf
        ("\ue000", False, True),  # private use
        ("\U000f0000", False, True),  # supplementary private use
        ("\ud800", False, True),  # lone surrogate
        (LONG, False, False),
        (LONG + NUL, False, True),
    ],
)
def test_has_control_chars(text: str, allow_newlines: bool, expected: bool) -> None:
    assert has_control_chars(text, allow_newlines=allow_newlines) is expected


def test_has_control_chars_defaults_to_refusing_newlines() -> None:
    assert has_control_chars("a\nb") is True


# --- parse_name -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张三", "张三"),
        ("  张三  ", "张三"),
        ("李 四", "李 四"),
        ("李\u3000\u3000四", "李 四"),
        ("阿卜杜拉·艾力", "阿卜杜拉·艾力"),
        ("阿卜杜拉•艾力", "阿卜杜拉•艾力"),
        ("阿卜杜拉・艾力", "阿卜杜拉・艾力"),
        ("阿卜杜拉\uff65艾力", "阿卜杜拉・艾力"),  # half-width katakana middle dot
        ("Li Wei", "Li Wei"),
        ("O'Brien", "O'Brien"),
        ("O’Brien", "O’Brien"),
        ("J. Smith", "J. Smith"),
        ("Jean-Luc", "Jean-Luc"),
        ("Ｌｉ Ｗｅｉ", "Li Wei"),  # full-width Latin
        ("José", "José"),
        ("Jose\u0301", "José"),
        ("ئابدۇللا", "ئابدۇللا"),  # Uyghur, Arabic script
        ("Нурлан", "Нурлан"),
        ("x" * 30, "x" * 30),
        ("张" * 30, "张" * 30),
    ],
)
def test_parse_name_accepts(raw: str, expected: str) -> None:
    assert parse_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", EMPTY),
        ("   \t\u3000 ", EMPTY),
        ("\n", EMPTY),
        ("张\n三", CONTROL),
        ("张" + NUL + "三", CONTROL),
        (RLO + "张三", CONTROL),
        ("张" + ZWJ + "三", CONTROL),
        ("\u200b张三", CONTROL),
        ("\ufeff张三", CONTROL),
        (NUL * 4096, CONTROL),
        ("张", Invalid("error.name.too_short", {"min": 2})),
        ("a", Invalid("error.name.too_short", {"min": 2})),
        ("1", Invalid("error.name.too_short", {"min": 2})),  # length before letters
        ("x" * 31, Invalid("error.name.too_long", {"max": 30})),
        (LONG, Invalid("error.name.too_long", {"max": 30})),
        (LONG_CJK, Invalid("error.name.too_long", {"max": 30})),
        ("12345", Invalid("error.name.no_letters")),
        ("１２３４５", Invalid("error.name.no_letters")),
        ("---", Invalid("error.name.no_letters")),
        ("😀😀", Invalid("error.name.no_letters")),
        ("99999999999999999999", Invalid("error.name.no_letters")),
        ("-5", Invalid("error.name.no_letters")),
        ("张3", Invalid("error.name.bad_chars")),
        ("张三😀", Invalid("error.name.bad_chars")),
        (HTML, Invalid("error.name.bad_chars")),
        (SQL, Invalid("error.name.bad_chars")),
        ("li@wei", Invalid("error.name.bad_chars")),
        ("li_wei", Invalid("error.name.bad_chars")),
        ("张三（老板）", Invalid("error.name.bad_chars")),
        ("2月30日", Invalid("error.name.bad_chars")),
    ],
)
def test_parse_name_refuses(raw: str, expected: Invalid) -> None:
    assert parse_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "min_len", "max_len", "expected"),
    [
        ("张", 1, 30, "张"),
        ("张三", 3, 30, Invalid("error.name.too_short", {"min": 3})),
        ("张三丰", 2, 2, Invalid("error.name.too_long", {"max": 2})),
        ("李 四", 3, 3, "李 四"),
    ],
)
def test_parse_name_limits(raw: str, min_len: int, max_len: int, expected: str | Invalid) -> None:
    assert parse_name(raw, min_len=min_len, max_len=max_len) == expected


# --- parse_mobile ---------------------------------------------------------------------

PHONE_INVALID = Invalid("error.phone.invalid")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        (" 13812345678 ", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("138\u30001234\u30005678", "13812345678"),
        ("(138) 1234-5678", "13812345678"),
        ("（138）1234－5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("＋８６ １３８１２３４５６７８", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("0086 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("86 138 1234 5678", "13812345678"),
        ("19912345678", "19912345678"),
        ("", EMPTY),
        ("   ", EMPTY),
        ("1381234567", PHONE_INVALID),  # 10 digits
        ("138123456789", PHONE_INVALID),  # 12 digits
        ("12812345678", PHONE_INVALID),  # second digit 2
        ("23812345678", PHONE_INVALID),
        ("+1 555 123 4567", PHONE_INVALID),
        ("+86", PHONE_INVALID),
        ("---", PHONE_INVALID),
        ("861381234567", PHONE_INVALID),  # 12 digits: "86" is not stripped
        ("+86 86 13812345678", PHONE_INVALID),
        ("13812345678 ext 1", PHONE_INVALID),
        ("138.1234.5678", PHONE_INVALID),
        ("1381234567８x", PHONE_INVALID),
        ("١٣٨١٢٣٤٥٦٧٨", PHONE_INVALID),  # Arabic-Indic digits are not ASCII digits
        ("138" + ZWJ + "12345678", PHONE_INVALID),
        (RLO + "13812345678", PHONE_INVALID),
        ("13812345678" + NUL, PHONE_INVALID),
        ("13812345678\n", "13812345678"),
        (HTML, PHONE_INVALID),
        (SQL, PHONE_INVALID),
        ("😀", PHONE_INVALID),
        ("-5", PHONE_INVALID),
        ("99999999999999999999", PHONE_INVALID),
        ("1" * 4096, PHONE_INVALID),
    ],
)
def test_parse_mobile(raw: str, expected: str | Invalid) -> None:
    assert parse_mobile(raw) == expected


# --- normalize_shared_phone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8613812345678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("13812345678", "13812345678"),
        ("+13812345678", "13812345678"),
        ("8612812345678", "+8612812345678"),  # 86 + not a mainland mobile
        ("861381234567", "+861381234567"),  # 12 digits
        ("447700900123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("85261234567", "+85261234567"),  # Hong Kong
        ("１３８１２３４５６７８", "13812345678"),
        ("", ""),
        ("+", ""),
    ],
)
def test_normalize_shared_phone(raw: str, expected: str) -> None:
    assert normalize_shared_phone(raw) == expected


# --- parse_place ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("深圳", "深圳"),
        ("  东莞市 ", "东莞市"),
        ("喀什地区 疏附县", "喀什地区 疏附县"),
        ("伊犁哈萨克自治州·伊宁", "伊犁哈萨克自治州·伊宁"),
        ("Xi'an", "Xi'an"),
        ("Xi’an", "Xi’an"),
        ("Ürümqi", "Ürümqi"),
        ("阿克苏(温宿)", "阿克苏(温宿)"),
        ("阿克苏（温宿）", "阿克苏(温宿)"),  # NFKC turns full-width brackets into ASCII
        ("Wu-han", "Wu-han"),
        ("北", "北"),
        ("北" * 20, "北" * 20),
        ("", EMPTY),
        (" \u3000 ", EMPTY),
        ("深圳" + NUL, CONTROL),
        (RLO + "深圳", CONTROL),
        ("深" + ZWJ + "圳", CONTROL),
        ("深\n圳", CONTROL),
        ("北" * 21, Invalid("error.place.too_long", {"max": 20})),
        (LONG, Invalid("error.place.too_long", {"max": 20})),
        ("12345", Invalid("error.place.no_letters")),
        ("-5", Invalid("error.place.no_letters")),
        ("99999999999999999999", Invalid("error.place.no_letters")),
        ("9" * 21, Invalid("error.place.too_long", {"max": 20})),
        ("😀", Invalid("error.place.no_letters")),
        ("()", Invalid("error.place.no_letters")),
        ("深圳😀", Invalid("error.place.bad_chars")),
        ("深圳1区", Invalid("error.place.bad_chars")),
        ("St. Louis", Invalid("error.place.bad_chars")),
        ("深圳•宝安", Invalid("error.place.bad_chars")),
        (HTML, Invalid("error.place.bad_chars")),
        (SQL, Invalid("error.place.bad_chars")),
        ("2月30日", Invalid("error.place.bad_chars")),
    ],
)
def test_parse_place(raw: str, expected: str | Invalid) -> None:
    assert parse_place(raw) == expected


@pytest.mark.parametrize(
    ("raw", "max_len", "expected"),
    [
        ("乌鲁木齐", 4, "乌鲁木齐"),
        ("乌鲁木齐市", 4, Invalid("error.place.too_long", {"max": 4})),
    ],
)
def test_parse_place_limit(raw: str, max_len: int, expected: str | Invalid) -> None:
    assert parse_place(raw, max_len=max_len) == expected


# --- parse_note -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("明天回老家", "明天回老家"),
        ("  line one\nline two  ", "line one\nline two"),
        ("a\n\n\nb", "a\n\n\nb"),
        ("a\r\nb", "a\nb"),
        ("col1\tcol2", "col1\tcol2"),
        ("a   b", "a   b"),  # inner spaces are not collapsed
        ("\n\n text \n\n", "text"),
        ("安全到家 😀👍🏽🇨🇳", "安全到家 😀👍🏽🇨🇳"),
        ("❤️", "❤️"),  # heart + variation selector (a mark, not a control)
        ("电话１３８", "电话１３８"),  # a note is kept as typed
        ("工资（十二月）３２００元，至今没发！", "工资（十二月）３２００元，至今没发！"),
        (HTML, HTML),
        (SQL, SQL),
        ("2月30日", "2月30日"),
        ("-5", "-5"),
        ("99999999999999999999", "99999999999999999999"),
        ("x" * 500, "x" * 500),
        ("", EMPTY),
        (" \n\t\u3000 ", EMPTY),
        ("a" + NUL + "b", CONTROL),
        ("a\rb", CONTROL),
        ("ab" + RLO + "cd", CONTROL),
        ("a" + ZWJ + "b", CONTROL),
        ("\u200bhidden", CONTROL),
        ("\x1b[2J", CONTROL),
        ("x" * 501, Invalid("error.note.too_long", {"max": 500, "length": 501})),
        (LONG, Invalid("error.note.too_long", {"max": 500, "length": 4096})),
        ("😀" * 4096, Invalid("error.note.too_long", {"max": 500, "length": 4096})),
    ],
)
def test_parse_note(raw: str, expected: str | Invalid) -> None:
    assert parse_note(raw) == expected


@pytest.mark.parametrize(
    ("raw", "max_len", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, Invalid("error.note.too_long", {"max": 3, "length": 4})),
        (" abc \n", 3, "abc"),  # length counted after stripping
    ],
)
def test_parse_note_limit(raw: str, max_len: int, expected: str | Invalid) -> None:
    assert parse_note(raw, max_len=max_len) == expected


# --- parse_date -----------------------------------------------------------------------

TODAY = date(2026, 12, 28)
FORMAT = Invalid("error.date.format")
YEAR_RANGE = Invalid("error.date.year_out_of_range")


def no_such_day(text: str) -> Invalid:
    return Invalid("error.date.no_such_day", {"text": text})


@pytest.mark.parametrize(
    ("raw", "today", "expected"),
    [
        # full dates with a year
        ("2027-01-05", TODAY, date(2027, 1, 5)),
        ("2027/01/05", TODAY, date(2027, 1, 5)),
        ("2027.01.05", TODAY, date(2027, 1, 5)),
        ("2027-1-5", TODAY, date(2027, 1, 5)),
        ("2027 - 1 - 5", TODAY, date(2027, 1, 5)),
        ("２０２７／１／５", TODAY, date(2027, 1, 5)),
        ("２０２７－０１－０５", TODAY, date(2027, 1, 5)),
        ("20270105", TODAY, date(2027, 1, 5)),
        ("２０２７０１０５", TODAY, date(2027, 1, 5)),
        ("2027年1月5日", TODAY, date(2027, 1, 5)),
        ("2027年01月05号", TODAY, date(2027, 1, 5)),
        ("2027年1月5號", TODAY, date(2027, 1, 5)),
        ("2027年1月5", TODAY, date(2027, 1, 5)),
        ("2027 年 1 月 5 日", TODAY, date(2027, 1, 5)),
        ("  2027年1月5日  ", TODAY, date(2027, 1, 5)),
        ("2025-01-01", TODAY, date(2025, 1, 1)),  # today.year - 1
        ("2028-12-31", TODAY, date(2028, 12, 31)),  # today.year + 2
        ("2028-02-29", TODAY, date(2028, 2, 29)),
        # year-less: closest year to today
        ("1/3", TODAY, date(2027, 1, 3)),
        ("12/20", TODAY, date(2026, 12, 20)),
        ("12-20", TODAY, date(2026, 12, 20)),
        ("12.20", TODAY, date(2026, 12, 20)),
        ("1 / 3", TODAY, date(2027, 1, 3)),
        ("01/03", TODAY, date(2027, 1, 3)),
        ("１／３", TODAY, date(2027, 1, 3)),
        ("1月3日", TODAY, date(2027, 1, 3)),
        ("1月3号", TODAY, date(2027, 1, 3)),
        ("1月3號", TODAY, date(2027, 1, 3)),
        ("1月3", TODAY, date(2027, 1, 3)),
        ("1 月 3 日", TODAY, date(2027, 1, 3)),
        ("１２月２８日", TODAY, date(2026, 12, 28)),
        ("6/28", TODAY, date(2027, 6, 28)),  # 182 days ahead vs 183 behind
        ("6/29", TODAY, date(2026, 6, 29)),  # 182 days behind vs 183 ahead
        ("2月5日", date(2027, 1, 20), date(2027, 2, 5)),
        ("1/19", date(2027, 1, 20), date(2027, 1, 19)),
        ("12/31", date(2027, 1, 20), date(2026, 12, 31)),
        ("3/15", date(2027, 9, 14), date(2028, 3, 15)),  # 183 days either way: the future
        ("2/29", date(2027, 12, 1), date(2028, 2, 29)),
        ("2/29", date(2025, 3, 1), date(2024, 2, 29)),
        ("2月29日", date(2029, 1, 1), date(2028, 2, 29)),
        # words
        ("今天", TODAY, TODAY),
        ("today", TODAY, TODAY),
        ("Today", TODAY, TODAY),
        (" TODAY ", TODAY, TODAY),
        ("明天", TODAY, date(2026, 12, 29)),
        ("tomorrow", TODAY, date(2026, 12, 29)),
        ("TOMORROW", TODAY, date(2026, 12, 29)),
        ("后天", TODAY, date(2026, 12, 30)),
        ("後天", TODAY, date(2026, 12, 30)),
        ("后天", date(2026, 12, 31), date(2027, 1, 2)),
    ],
)
def test_parse_date_accepts(raw: str, today: date, expected: date) -> None:
    assert parse_date(raw, today) == expected


@pytest.mark.parametrize(
    ("raw", "today", "expected"),
    [
        ("", TODAY, EMPTY),
        ("  \u3000 ", TODAY, EMPTY),
        ("2月30日", TODAY, no_such_day("2月30日")),
        ("２月３０日", TODAY, no_such_day("2月30日")),
        ("2027-13-01", TODAY, no_such_day("2027-13-01")),
        ("2027-00-10", TODAY, no_such_day("2027-00-10")),
        ("2027-02-29", TODAY, no_such_day("2027-02-29")),
        ("2027年4月31日", TODAY, no_such_day("2027年4月31日")),
        ("20270230", TODAY, no_such_day("20270230")),
        ("4/31", TODAY, no_such_day("4/31")),
        ("13/1", TODAY, no_such_day("13/1")),
        ("0/5", TODAY, no_such_day("0/5")),
        ("5/0", TODAY, no_such_day("5/0")),
        ("1  /  32", TODAY, no_such_day("1 / 32")),  # reported as cleaned
        ("2/29", TODAY, no_such_day("2/29")),  # no leap year in 2025..2027
        ("2024-01-01", TODAY, YEAR_RANGE),
        ("2029-01-01", TODAY, YEAR_RANGE),
        ("1999年1月1日", TODAY, YEAR_RANGE),
        ("12345678", TODAY, YEAR_RANGE),
        ("0000-13-45", TODAY, YEAR_RANGE),
        ("5", TODAY, FORMAT),
        ("20", TODAY, FORMAT),
        ("2027", TODAY, FORMAT),
        ("202701", TODAY, FORMAT),
        ("2027-01", TODAY, FORMAT),
        ("2027-01/05", TODAY, FORMAT),  # mixed separators
        ("27-01-05", TODAY, FORMAT),
        ("1/3/", TODAY, FORMAT),
        ("123/4", TODAY, FORMAT),
        ("1月", TODAY, FORMAT),
        ("1月3日（周日）", TODAY, FORMAT),
        ("yesterday", TODAY, FORMAT),
        ("大后天", TODAY, FORMAT),
        ("-5", TODAY, FORMAT),
        ("99999999999999999999", TODAY, FORMAT),
        ("1" * 4096, TODAY, FORMAT),
        (LONG, TODAY, FORMAT),
        ("😀", TODAY, FORMAT),
        ("1/3" + ZWJ, TODAY, FORMAT),
        (RLO + "1/3", TODAY, FORMAT),
        ("1/3" + NUL, TODAY, FORMAT),
        (HTML, TODAY, FORMAT),
        (SQL, TODAY, FORMAT),
        ("١/٣", TODAY, FORMAT),  # Arabic-Indic digits
    ],
)
def test_parse_date_refuses(raw: str, today: date, expected: Invalid) -> None:
    assert parse_date(raw, today) == expected


# --- parse_count ----------------------------------------------------------------------

NOT_A_NUMBER = Invalid("error.number.not_a_number")
NEGATIVE = Invalid("error.number.negative")
WHOLE = Invalid("error.number.whole")


def too_big(maximum: int) -> Invalid:
    return Invalid("error.number.too_big", {"max": maximum})


@pytest.mark.parametrize(
    ("raw", "maximum", "expected"),
    [
        ("0", 10, 0),
        ("5", 10, 5),
        ("10", 10, 10),
        (" 7 ", 10, 7),
        ("007", 10, 7),
        ("000", 10, 0),
        ("１２３", 1000, 123),
        ("1,234", 10_000, 1234),
        ("1，234", 10_000, 1234),
        ("１，２３４", 10_000, 1234),
        ("12,345,678", 99_999_999, 12_345_678),
        ("0" * 5000 + "7", 10, 7),
        ("11", 10, too_big(10)),
        ("1,234", 1000, too_big(1000)),
        ("99999999999999999999", 10**6, too_big(10**6)),
        ("9" * 5000, 10**6, too_big(10**6)),
        ("1" * 4096, 10**6, too_big(10**6)),
        ("1" + ",000" * 2000, 10**6, too_big(10**6)),
        ("99999999999999999999", 10**20, 99_999_999_999_999_999_999),
        ("100000000000000000000", 10**20, 10**20),
        ("100000000000000000001", 10**20, too_big(10**20)),
        ("0", 0, 0),
        ("1", 0, too_big(0)),
        ("", 10, EMPTY),
        ("   ", 10, EMPTY),
        ("-5", 10, NEGATIVE),
        ("－５", 10, NEGATIVE),
        ("- 5", 10, NEGATIVE),
        ("−5", 10, NEGATIVE),  # U+2212 minus sign
        ("-1,234", 10_000, NEGATIVE),
        ("-3.5", 10, NEGATIVE),
        ("-99999999999999999999", 10, NEGATIVE),
        ("3.5", 10, WHOLE),
        ("3,5", 10, WHOLE),
        ("３．５", 10, WHOLE),
        (".5", 10, WHOLE),
        ("1,234.5", 10_000, WHOLE),
        ("12,34", 10_000, WHOLE),
        ("abc", 10, NOT_A_NUMBER),
        ("十", 10, NOT_A_NUMBER),
        ("1e3", 10_000, NOT_A_NUMBER),
        ("3个", 10, NOT_A_NUMBER),
        ("1,23,456", 10**6, NOT_A_NUMBER),
        ("1,2345,6", 10**6, NOT_A_NUMBER),
        (",123", 1000, WHOLE),
        ("123,", 1000, NOT_A_NUMBER),
        ("1 234", 10_000, NOT_A_NUMBER),
        ("+5", 10, NOT_A_NUMBER),
        ("--5", 10, NOT_A_NUMBER),
        ("-", 10, NOT_A_NUMBER),
        ("3.", 10, NOT_A_NUMBER),
        ("1.2.3", 10, NOT_A_NUMBER),
        ("٣", 10, NOT_A_NUMBER),  # Arabic-Indic digit
        ("5" + ZWJ, 10, NOT_A_NUMBER),
        (RLO + "5", 10, NOT_A_NUMBER),
        ("5" + NUL, 10, NOT_A_NUMBER),
        ("😀", 10, NOT_A_NUMBER),
        (HTML, 10, NOT_A_NUMBER),
        (SQL, 10, NOT_A_NUMBER),
        ("2月30日", 10, NOT_A_NUMBER),
        (LONG, 10, NOT_A_NUMBER),
        ("1," * 2048, 10, NOT_A_NUMBER),
        ("1,000" * 1000, 10, NOT_A_NUMBER),
    ],
)
def test_parse_count(raw: str, maximum: int, expected: int | Invalid) -> None:
    assert parse_count(raw, maximum=maximum) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("中铁18局", "中铁18局"),  # digits, as enterprise names have them
        ("3号仓库", "3号仓库"),
        ("A&B建材", "A&B建材"),
        ("18", "18"),  # part of a name need not hold a letter
        ("  城建  一 ", "城建 一"),
        ("", EMPTY),
        ("a" + NUL, CONTROL),
        ("城建😀", Invalid("error.org_name.bad_chars")),
        ("x" * 65, Invalid("error.org_name.too_long", {"max": 64})),
    ],
)
def test_parse_org_search(raw: str, expected: str | Invalid) -> None:
    assert parse_org_search(raw, max_len=64) == expected
