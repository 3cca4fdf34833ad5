"""Bulk import of enterprises from the district's sheet (XLSX, or CSV in UTF-8 or GBK).

Columns: enterprise, town, contact name, contact phone, with English or Chinese headers.
Every row is checked first, against the sheet and the database; if any row is wrong
nothing is imported and the bad rows are listed with the reason. Otherwise towns are created
as needed and each new enterprise gets its standing worker invite, all in the caller's one
transaction.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import validation
from models import organisation
from models.organisation import (
    CONTACT_NAME_LENGTH,
    ENTERPRISE_NAME_LENGTH,
    TOWN_NAME_LENGTH,
    Town,
)

ENTERPRISE, TOWN, CONTACT_NAME, CONTACT_PHONE = "enterprise", "town", "contact name", "phone"
# Header spellings seen in district sheets, compared after normalising (see _header_key).
HEADERS: dict[str, tuple[str, ...]] = {
    ENTERPRISE: (
        "enterprise", "enterprisename", "company", "companyname", "employer", "name",
        "企业", "企业名称", "单位", "单位名称", "用人单位", "企业/单位名称", "企业(单位)名称",
        "企業", "企業名稱", "單位", "單位名稱", "用人單位", "企業/單位名稱",
    ),
    TOWN: (
        "town", "townname", "subdistrict", "town/subdistrict",
        "镇", "街道", "镇/街道", "镇街", "镇(街道)", "乡镇", "所属镇街", "所属镇/街道", "镇/办事处",
        "鎮", "鎮/街道", "鎮街", "所屬鎮街", "鄉鎮", "鎮/辦事處",
    ),
    CONTACT_NAME: (
        "contact", "contactname", "contactperson",
        "联系人", "联系人姓名", "聯繫人", "聯絡人", "聯繫人姓名", "聯絡人姓名",
    ),
    CONTACT_PHONE: (
        "contactphone", "phone", "mobile", "telephone", "tel", "phonenumber",
        "联系电话", "电话", "手机", "手机号", "手机号码", "联系人电话", "联系方式",
        "聯繫電話", "聯絡電話", "電話", "手機", "手機號碼",
    ),
}  # fmt: skip
REQUIRED = (ENTERPRISE, TOWN)
HEADER_SEARCH_ROWS = 5
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".txt")
# Reasons a validator gives, in words for the operator reading the command line.
REASONS = {
    "error.text.empty": "is empty",
    "error.text.control_chars": "contains invisible or control characters",
    "error.org_name.too_long": "is longer than {max} characters",
    "error.org_name.no_letters": "has no letters",
    "error.org_name.bad_chars": "contains symbols or emoji",
    "error.name.too_short": "is shorter than {min} characters",
    "error.name.too_long": "is longer than {max} characters",
    "error.name.no_letters": "has no letters",
    "error.name.bad_chars": "may hold only letters, spaces and · - '",
    "error.phone.invalid": "is not a mainland mobile number (11 digits, 1[3-9]...)",
}


class SheetError(Exception):
    """The file cannot be read as a sheet of enterprises (format, encoding, headers)."""


@dataclass(frozen=True)
class Row:
    """One data row of the sheet, cleaned and checked on its own."""

    number: int
    enterprise: str
    town: str
    contact_name: str | None = None
    contact_phone: str | None = None


@dataclass(frozen=True)
class Problem:
    """Why a row of the sheet cannot be imported (its row number as the spreadsheet shows)."""

    row: int
    reason: str


@dataclass
class Outcome:
    """What an import did, or the problems that stopped it."""

    problems: list[Problem] = field(default_factory=list)
    enterprises_created: int = 0
    towns_created: int = 0
    already_present: int = 0
    contacts_updated: int = 0

    @property
    def ok(self) -> bool:
        """Whether the sheet was imported."""
        return not self.problems


# Reading the file ---------------------------------------------------------------------------


def read_table(path: Path) -> list[tuple[int, list[str]]]:
    """The sheet's non-blank rows as (row number, cells as text), from XLSX or CSV."""
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(path)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path.read_bytes())
    if suffix == ".xls":
        raise SheetError("old .xls files are not read; save the sheet as .xlsx or .csv")
    raise SheetError(f"unknown file type {suffix or '(none)'}; give an .xlsx or .csv file")


def _read_xlsx(path: Path) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged file
        raise SheetError(f"cannot open {path.name} as an Excel workbook: {error}") from None
    try:
        sheet = book.worksheets[0]
        rows = [
            (number, [_cell_text(v) for v in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()
    return [(n, cells) for n, cells in rows if any(cells)]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    # Excel keeps a typed phone number as a number; 13812345678.0 must read as the digits.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GBK as Chinese Excel writes it."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312, so it reads all three.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise SheetError("the CSV file is neither UTF-8 nor GBK; save it as UTF-8") from None


def _read_csv(data: bytes) -> list[tuple[int, list[str]]]:
    text = decode(data)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text[:4096], delimiters=",;\t"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows = [(number, [c.strip() for c in cells]) for number, cells in enumerate(reader, start=1)]
    return [(n, cells) for n, cells in rows if any(cells)]


# Checking each row --------------------------------------------------------------------------


def _header_key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in "*_-:：")


def match_columns(header: Sequence[str]) -> dict[str, int]:
    """Which cell of a header row holds which field, for the headers it recognises."""
    wanted = {_header_key(alias): name for name, aliases in HEADERS.items() for alias in aliases}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        name = wanted.get(_header_key(cell))
        if name is not None and name not in found:
            found[name] = index
    return found


def _find_header(
    table: Sequence[tuple[int, list[str]]],
) -> tuple[dict[str, int], Sequence[tuple[int, list[str]]]]:
    # Sheets often carry a title line or two above the header row: look a little way down.
    for index, (_, cells) in enumerate(table[:HEADER_SEARCH_ROWS]):
        found = match_columns(cells)
        if all(name in found for name in REQUIRED):
            return found, table[index + 1 :]
    missing = [name for name in REQUIRED if name not in match_columns(table[0][1])]
    raise SheetError(
        f"no {' or '.join(missing)} column in the header row; expected headers such as "
        "企业名称, 镇/街道, 联系人, 联系电话 (or enterprise, town, contact name, contact phone)"
    )


def _why(invalid: validation.Invalid) -> str:
    reason = REASONS.get(invalid.key, invalid.key)
    return reason.format(**invalid.params)


def _optional(
    text: str, parse: Callable[[str], str | validation.Invalid]
) -> str | validation.Invalid | None:
    return parse(text) if validation.clean(text) else None


def check_row(number: int, fields: dict[str, str]) -> Row | list[str]:
    """One data row, cleaned, or the reasons it is wrong (each field is checked)."""
    enterprise = validation.parse_org_name(
        fields.get(ENTERPRISE, ""), max_len=ENTERPRISE_NAME_LENGTH
    )
    town = validation.parse_org_name(fields.get(TOWN, ""), max_len=TOWN_NAME_LENGTH)
    # The contact is optional; when given it must be right.
    contact_name = _optional(
        fields.get(CONTACT_NAME, ""),
        lambda text: validation.parse_name(text, max_len=CONTACT_NAME_LENGTH),
    )
    contact_phone = _optional(fields.get(CONTACT_PHONE, ""), validation.parse_mobile)
    if (
        isinstance(enterprise, str)
        and isinstance(town, str)
        and not isinstance(contact_name, validation.Invalid)
        and not isinstance(contact_phone, validation.Invalid)
    ):
        return Row(number, enterprise, town, contact_name, contact_phone)
    reasons: list[str] = []
    for label, value in (
        ("enterprise name", enterprise),
        ("town name", town),
        ("contact name", contact_name),
        (f"contact phone {fields.get(CONTACT_PHONE, '')!r}", contact_phone),
    ):
        if isinstance(value, validation.Invalid):
            reasons.append(f"{label} {_why(value)}")
    return reasons


def parse_rows(table: Sequence[tuple[int, list[str]]]) -> tuple[list[Row], list[Problem]]:
    """Check every row on its own and against the others (duplicates within the sheet)."""
    if not table:
        raise SheetError("the sheet is empty")
    where, data = _find_header(table)
    if not data:
        raise SheetError("the sheet has a header but no enterprises")
    rows: list[Row] = []
    problems: list[Problem] = []
    first_seen: dict[str, int] = {}
    for number, cells in data:
        fields = {name: cells[i] if i < len(cells) else "" for name, i in where.items()}
        checked = check_row(number, fields)
        reasons = checked if isinstance(checked, list) else []
        name = validation.parse_org_name(fields[ENTERPRISE], max_len=ENTERPRISE_NAME_LENGTH)
        if isinstance(name, str):
            if name in first_seen:
                reasons.append(f"enterprise {name!r} is already on row {first_seen[name]}")
            else:
                first_seen[name] = number
        if reasons:
            problems.append(Problem(number, "; ".join(reasons)))
        elif isinstance(checked, Row):
            rows.append(checked)
    return rows, problems


# Checking against the database, then writing ------------------------------------------------


async def check_against_database(session: AsyncSession, rows: Iterable[Row]) -> list[Problem]:
    """Rows that clash with what is stored: an enterprise in another town, or deactivated."""
    rows = list(rows)
    existing = await organisation.find_enterprises(session, [r.enterprise for r in rows])
    towns = {t.id: t for t in await organisation.list_towns(session)}
    towns_by_name = {t.name: t for t in towns.values()}
    problems: list[Problem] = []
    for row in rows:
        town = towns_by_name.get(row.town)
        if town is not None and not town.active:
            problems.append(Problem(row.number, f"town {row.town!r} is deactivated"))
            continue
        enterprise = existing.get(row.enterprise)
        if enterprise is None:
            continue
        stored_town = towns.get(enterprise.town_id)
        if stored_town is None or stored_town.name != row.town:
            where = stored_town.name if stored_town else "?"
            problems.append(
                Problem(row.number, f"enterprise {row.enterprise!r} already exists in {where!r}")
            )
        elif not enterprise.active:
            problems.append(
                Problem(row.number, f"enterprise {row.enterprise!r} exists but is deactivated")
            )
    return problems


def load(path: Path) -> tuple[list[Row], list[Problem]]:
    """Read the sheet and check its rows on their own (no database): good rows, and problems."""
    return parse_rows(read_table(path))


async def import_rows(
    session: AsyncSession, rows: Sequence[Row], now: datetime, problems: Iterable[Problem] = ()
) -> Outcome:
    """Check the rows against the database and, if no row at all is wrong, write them."""
    clashes = await check_against_database(session, rows)
    wrong = sorted([*problems, *clashes], key=lambda p: p.row)
    if wrong:
        return Outcome(problems=wrong)
    outcome = Outcome()
    existing = await organisation.find_enterprises(session, [r.enterprise for r in rows])
    towns: dict[str, Town] = {t.name: t for t in await organisation.list_towns(session)}
    for row in rows:
        town = towns.get(row.town)
        if town is None:
            town = towns[row.town] = await organisation.add_town(session, row.town)
            outcome.towns_created += 1
        enterprise = existing.get(row.enterprise)
        if enterprise is None:
            await organisation.add_enterprise_with_invite(
                session,
                row.enterprise,
                town,
                now,
                contact_name=row.contact_name,
                contact_phone=row.contact_phone,
            )
            outcome.enterprises_created += 1
            continue
        # Importing the same sheet again is harmless; newer contact details win.
        outcome.already_present += 1
        changed = False
        if row.contact_name and row.contact_name != enterprise.contact_name:
            enterprise.contact_name, changed = row.contact_name, True
        if row.contact_phone and row.contact_phone != enterprise.contact_phone:
            enterprise.contact_phone, changed = row.contact_phone, True
        outcome.contacts_updated += int(changed)
    await session.flush()
    return outcome


async def import_file(session: AsyncSession, path: Path, now: datetime) -> Outcome:
    """Read, check and (only if every row is good) import a sheet of enterprises."""
    rows, problems = load(path)
    return await import_rows(session, rows, now, problems)
