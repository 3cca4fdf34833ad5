"""Bulk import of enterprises from XLSX and CSV (UTF-8, UTF-8 with BOM, GBK): every row is
checked first, and nothing is imported if any row is wrong."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import importer
from bot.importer import Outcome, SheetError
from models import organisation
from models.base import Base
from models.db import create_sessionmaker
from models.invites import Invite, InviteKind
from models.organisation import Enterprise, Town
from tests.harness import CAMPAIGN_NOW

CHINESE_HEADER = ["企业名称", "镇/街道", "联系人", "联系电话"]
GOOD_ROWS: list[list[Any]] = [
    ["城建一公司", "开发区", "陈经理", "13812345678"],
    ["钢铁二厂", "南堡镇", "刘主任", "139 1234 5678"],
    ["唐山（第三）建筑工程有限公司", "开发区", "", ""],
]


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def write_csv(path: Path, rows: list[list[Any]], encoding: str) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


async def run_import(db: AsyncEngine, path: Path) -> Outcome:
    async with create_sessionmaker(db)() as session, session.begin():
        return await importer.import_file(session, path, CAMPAIGN_NOW)


async def count(db: AsyncEngine, model: type[Base]) -> int:
    async with create_sessionmaker(db)() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def counts(db: AsyncEngine) -> tuple[int, int, int]:
    return (await count(db, Town), await count(db, Enterprise), await count(db, Invite))


async def test_a_good_xlsx_sheet_is_imported(db: AsyncEngine, tmp_path: Path) -> None:
    # A title line above the header, and a phone number Excel stored as a number.
    rows = [["2027年春节留企过年企业名单"], CHINESE_HEADER, *GOOD_ROWS, []]
    rows[3] = ["钢铁二厂", "南堡镇", "刘主任", 13912345678]
    outcome = await run_import(db, write_xlsx(tmp_path / "企业名单.xlsx", rows))
    assert outcome.problems == []
    assert (outcome.enterprises_created, outcome.towns_created) == (3, 2)
    assert await counts(db) == (2, 3, 3)

    async with create_sessionmaker(db)() as session:
        listed = {e.name: (e, t) for e, t in await organisation.list_enterprises(session)}
        steel, town = listed["钢铁二厂"]
        assert (town.name, steel.contact_name, steel.contact_phone) == (
            "南堡镇",
            "刘主任",
            "13912345678",
        )
        bracketed, _ = listed["唐山(第三)建筑工程有限公司"]
        assert (bracketed.contact_name, bracketed.contact_phone) == (None, None)
        kinds = list(await session.scalars(select(Invite.kind)))
        assert kinds == [InviteKind.WORKER] * 3


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
async def test_csv_in_utf8_bom_or_gbk(db: AsyncEngine, tmp_path: Path, encoding: str) -> None:
    path = write_csv(tmp_path / "list.csv", [CHINESE_HEADER, *GOOD_ROWS], encoding)
    outcome = await run_import(db, path)
    assert outcome.ok and outcome.enterprises_created == 3
    async with create_sessionmaker(db)() as session:
        names = {e.name for e, _ in await organisation.list_enterprises(session)}
    assert "钢铁二厂" in names and "城建一公司" in names


def test_english_and_traditional_headers_in_any_order(tmp_path: Path) -> None:
    english = write_csv(
        tmp_path / "en.csv",
        [
            ["Contact phone", "Town", "Enterprise", "Contact name"],
            ["13812345678", "A", "B", "陈经理"],
        ],
        "utf-8",
    )
    rows, problems = importer.load(english)
    assert problems == []
    assert rows == [importer.Row(2, "B", "A", "陈经理", "13812345678")]
    traditional = write_csv(
        tmp_path / "hant.csv", [["企業名稱", "鎮/街道"], ["城建一公司", "開發區"]], "utf-8"
    )
    assert importer.load(traditional)[0][0].town == "開發區"


async def test_any_bad_row_imports_nothing(db: AsyncEngine, tmp_path: Path) -> None:
    rows = [
        CHINESE_HEADER,
        *GOOD_ROWS,
        ["", "开发区", "", ""],
        ["水泥厂", "开发区", "王五", "12345"],
        ["城建一公司", "开发区", "", ""],
        ["企" * 129, "镇😀", "", ""],
        ["石灰厂", "开发区", "x", "13812345678"],
    ]
    path = write_xlsx(tmp_path / "bad.xlsx", rows)
    outcome = await run_import(db, path)
    assert not outcome.ok
    assert [(p.row, p.reason) for p in outcome.problems] == [
        (5, "enterprise name is empty"),
        (6, "contact phone '12345' is not a mainland mobile number (11 digits, 1[3-9]...)"),
        (7, "enterprise '城建一公司' is already on row 2"),
        (8, "enterprise name is longer than 128 characters; town name contains symbols or emoji"),
        (9, "contact name is shorter than 2 characters"),
    ]
    assert await counts(db) == (0, 0, 0), "the good rows were not imported either"


async def test_an_enterprise_in_another_town_imports_nothing(
    db: AsyncEngine, tmp_path: Path
) -> None:
    async with create_sessionmaker(db)() as session, session.begin():
        town = await organisation.get_or_create_town(session, "南堡镇")
        await organisation.add_enterprise_with_invite(session, "城建一公司", town, CAMPAIGN_NOW)
        closed = await organisation.add_town(session, "古冶区")
        await organisation.deactivate_town(session, closed)
    before = await counts(db)
    rows = [CHINESE_HEADER, *GOOD_ROWS, ["焦化厂", "古冶区", "", ""]]
    outcome = await run_import(db, write_csv(tmp_path / "x.csv", rows, "utf-8"))
    assert [(p.row, p.reason) for p in outcome.problems] == [
        (2, "enterprise '城建一公司' already exists in '南堡镇'"),
        (5, "town '古冶区' is deactivated"),
    ]
    assert await counts(db) == before


async def test_importing_the_same_sheet_again_is_harmless(db: AsyncEngine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "list.csv", [CHINESE_HEADER, *GOOD_ROWS], "utf-8")
    await run_import(db, path)
    rows = [CHINESE_HEADER, ["城建一公司", "开发区", "张新", "13700000000"], *GOOD_ROWS[1:]]
    again = await run_import(db, write_csv(tmp_path / "again.csv", rows, "utf-8"))
    assert (again.enterprises_created, again.already_present, again.contacts_updated) == (0, 3, 1)
    assert await counts(db) == (2, 3, 3)
    async with create_sessionmaker(db)() as session:
        enterprise = await organisation.find_enterprise(session, "城建一公司")
        assert enterprise is not None and enterprise.contact_name == "张新"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("list.xls", b"\xd0\xcf\x11\xe0", "old .xls"),
        ("list.pdf", b"%PDF", "unknown file type"),
        ("list.xlsx", b"not a zip", "cannot open"),
        ("list.csv", b"", "empty"),
        ("list.csv", "名称,地址\n城建一公司,开发区\n".encode(), "no enterprise or town column"),
        ("list.csv", "企业名称,镇/街道\n".encode(), "no enterprises"),
        ("list.csv", b"\xff\xfe\x00\xd8\x00", "neither UTF-8 nor GBK"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SheetError, match=message):
        importer.load(path)


def test_semicolon_and_tab_separated_files(tmp_path: Path) -> None:
    for separator in (";", "\t"):
        path = tmp_path / "list.csv"
        path.write_text(f"企业名称{separator}镇/街道\n城建一公司{separator}开发区\n", "utf-8")
        [row], problems = importer.load(path)
        assert (row.enterprise, row.town, problems) == ("城建一公司", "开发区", [])
