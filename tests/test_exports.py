"""The Excel export and the trend chart: a small district written to a workbook and read back
with openpyxl (sheets, headers, real dates, masked phones, frozen and filtered headers, the
summary against models.stats.trend, one town only, the audit entry), the command line, memory
that stays flat over 20,000 workers, and the chart as a real PNG in Chinese and English."""

from __future__ import annotations

import asyncio
import io
import sys
import tracemalloc
from contextlib import redirect_stdout
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from matplotlib.image import imread
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import charts, exports, poster
from bot.cli import main as outreach
from handlers.actions import Msg, text_to_json
from handlers.phone import mask_phone
from handlers.picture import picture_message
from models import audit, nominations, organisation, reports, stats
from models import exports as queries
from models.audit import Action, AuditEntry
from models.broadcasts import (
    Broadcast,
    BroadcastRun,
    BroadcastStatus,
    ContentKind,
    Delivery,
    DeliveryStatus,
    Purpose,
)
from models.checkins import CheckIn, Need, Plan, Transport
from models.db import create_engine, create_sessionmaker
from models.people import TELEGRAM, WEB, Person, Role
from models.reports import Figures
from tests.harness import CAMPAIGN_NOW, ZONE, catalogs

D1, D2, D3 = date(2027, 1, 18), date(2027, 1, 19), date(2027, 1, 20)
ISSUER = "示例区人力资源和社会保障局"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SHEET_IDS = ("summary", "reports", "reconciliation", "ledger", "checkins", "deliveries", "requests")


def at(day: date, hour: int = 10) -> datetime:
    """A moment of a local day, in UTC as stored."""
    return datetime.combine(day, time(hour), ZONE).astimezone(UTC)


def text(language: str, key: str) -> str:
    return catalogs().plain(language, key)


@dataclass
class District:
    """Ids of what the test district holds."""

    towns: dict[str, int]
    enterprises: dict[str, int]
    workers: dict[str, int]


async def build_district(sessions: async_sessionmaker[AsyncSession]) -> District:
    """Two towns, three enterprises, four workers (one erased, one never answered and on the
    web channel), reports with revisions and a late one, and two broadcasts with deliveries."""
    async with sessions() as session, session.begin():
        kaifa = await organisation.add_town(session, "开发区")
        dongcheng = await organisation.add_town(session, "东城镇")
        one = await organisation.add_enterprise(session, "城建一公司", kaifa, CAMPAIGN_NOW)
        two = await organisation.add_enterprise(session, "城建二公司", kaifa, CAMPAIGN_NOW)
        plant = await organisation.add_enterprise(session, "东城机械厂", dongcheng, CAMPAIGN_NOW)

        def person(telegram_id: int | None, enterprise_id: int, **fields: Any) -> Person:
            values: dict[str, Any] = {
                "telegram_user_id": telegram_id,
                "chat_id": telegram_id,
                "role": Role.WORKER,
                "language": "zh_Hans",
                "enterprise_id": enterprise_id,
                "enrolled_at": at(D1, 9),
                "active": True,
            }
            values.update(fields)
            row = Person(**values)
            session.add(row)
            return row

        zhang = person(
            101,
            one.id,
            full_name="张三",
            phone="13812345678",
            hukou_province="41",
            hukou_city="信阳市",
        )
        li = person(
            102,
            two.id,
            full_name="李四",
            phone="13900001111",
            hukou_province="51",
            hukou_city="成都市",
        )
        wang = person(
            103, plant.id, channel=WEB, full_name="王五", phone="13700002222", hukou_province="34"
        )
        erased = person(
            None,
            plant.id,
            chat_id=None,
            erased_at=at(D3, 8),
        )
        contact = person(201, one.id, role=Role.CONTACT, full_name="赵经理", phone="13600003333")
        await session.flush()

        def checkin(who: Person, day: date, plan: Plan, **fields: Any) -> None:
            session.add(
                CheckIn(
                    person_id=who.id,
                    enterprise_id=who.enterprise_id,
                    created_at=at(day, 11),
                    local_date=day,
                    plan=plan,
                    needs=fields.pop("needs", []),
                    **fields,
                )
            )

        checkin(zhang, D1, Plan.UNDECIDED, ask_again_on=D3)
        checkin(
            zhang,
            D2,
            Plan.RETURN,
            destination_province="41",
            destination_city="信阳市",
            depart_date=date(2027, 2, 1),
            return_date=date(2027, 2, 20),
            transport=Transport.TRAIN,
        )
        checkin(
            li, D2, Plan.STAY, needs=[Need.HEATING.value, Need.FOOD.value], note="=1+1 暖气坏了"
        )
        checkin(erased, D1, Plan.STAY)
        await session.flush()

        async def report(
            enterprise_id: int, day: date, figures: Figures, late: bool = False
        ) -> None:
            await reports.submit(
                session,
                figures,
                enterprise_id=enterprise_id,
                local_date=day,
                submitted_by=contact.id,
                now=at(day, 20 if late else 15),
                late=late,
            )

        await report(one.id, D1, Figures(10, 6, 3, 2, 1))
        await report(one.id, D1, Figures(10, 5, 4, 2, 1, "缺少取暖设备"))
        await report(one.id, D2, Figures(10, 5, 5, 3, 0), late=True)
        await report(two.id, D1, Figures(8, 4, 2, 1, 0))
        await report(two.id, D3, Figures(8, 5, 2, 1, 0))
        await report(plant.id, D2, Figures(20, 12, 6, 4, 2))

        letter = Broadcast(
            content_kind=ContentKind.TEXT,
            purpose=Purpose.BROADCAST,
            text="春节慰问：\n请留意安全",
            audience={"role": "worker"},
            send_at=at(D2),
            status=BroadcastStatus.DONE,
            created_at=at(D1, 16),
        )
        reminder = Broadcast(
            content_kind=ContentKind.MESSAGE,
            purpose=Purpose.REPORT_REMINDER,
            message={"text": text_to_json(Msg("report.remind.before", deadline="18:00"))},
            audience={"role": "contact"},
            send_at=at(D3, 16),
            status=BroadcastStatus.DONE,
            created_at=at(D3, 16),
        )
        session.add_all([letter, reminder])
        await session.flush()
        letter_run = BroadcastRun(
            broadcast_id=letter.id, due_at=at(D2), enqueued_at=at(D2), total=4
        )
        reminder_run = BroadcastRun(
            broadcast_id=reminder.id, due_at=at(D3, 16), enqueued_at=at(D3, 16), total=1
        )
        session.add_all([letter_run, reminder_run])
        await session.flush()
        for who, status in [
            (zhang, DeliveryStatus.SENT),
            (li, DeliveryStatus.BLOCKED),
            (wang, DeliveryStatus.FAILED),
            (erased, DeliveryStatus.SENT),
        ]:
            session.add(delivery(letter_run.id, who.id, status, who.channel))
        session.add(delivery(reminder_run.id, contact.id, DeliveryStatus.PENDING))
        return District(
            towns={"开发区": kaifa.id, "东城镇": dongcheng.id},
            enterprises={"城建一公司": one.id, "城建二公司": two.id, "东城机械厂": plant.id},
            workers={"张三": zhang.id, "李四": li.id, "王五": wang.id, "erased": erased.id},
        )


def delivery(
    run_id: int, person_id: int, status: DeliveryStatus, channel: str = TELEGRAM
) -> Delivery:
    return Delivery(
        run_id=run_id,
        person_id=person_id,
        language="zh_Hans",
        channel=channel,
        status=status,
        attempts=1,
        next_attempt_at=CAMPAIGN_NOW,
    )


async def write(
    db: AsyncEngine,
    path: Path,
    *,
    language: str = "zh_Hans",
    first: date | None = None,
    last: date | None = None,
    town_id: int | None = None,
    mask_phones: bool = True,
) -> int:
    return await exports.write_workbook(
        create_sessionmaker(db),
        path,
        catalogs=catalogs(),
        language=language,
        first=first,
        last=last,
        town_id=town_id,
        mask_phones=mask_phones,
        zone=ZONE,
        issuer=ISSUER,
        now=CAMPAIGN_NOW,
    )


def open_book(path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(path)


def table(sheet: Worksheet, columns: int | None = None) -> list[dict[str, Any]]:
    """The sheet's data rows as dicts keyed by the header (of the first `columns` columns,
    序号 not counted); the title row above the header is left out."""
    width = None if columns is None else columns + 1
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h) for h in rows[1][:width]]
    return [dict(zip(header, row[:width], strict=True)) for row in rows[2:] if row[0] is not None]


def sheets(book: openpyxl.Workbook, language: str = "zh_Hans") -> dict[str, Worksheet]:
    names = {sheet_id: text(language, exports.SHEETS[sheet_id]) for sheet_id in SHEET_IDS}
    return {sheet_id: book[name] for sheet_id, name in names.items()}


def plain(key: str) -> str:
    """A label in English as the sheets show it, without its emoji."""
    return exports.without_emoji(text("en", key))


def header(language: str, key: str) -> str:
    return text(language, key)


# The workbook ---------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_workbook_has_every_sheet_with_headers_in_the_language(
    db: AsyncEngine, tmp_path: Path, language: str
) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    rows = await write(db, path, language=language)
    book = open_book(path)
    assert book.sheetnames == [text(language, exports.SHEETS[s]) for s in SHEET_IDS]
    by_id = sheets(book, language)
    for sheet_id, columns in [
        ("summary", exports.SUMMARY_COLUMNS),
        ("reports", exports.REPORT_COLUMNS),
        ("reconciliation", exports.RECONCILIATION_COLUMNS),
        ("ledger", exports.LEDGER_COLUMNS),
        ("checkins", exports.CHECKIN_COLUMNS),
        ("deliveries", exports.DELIVERY_COLUMNS),
        ("requests", exports.REQUEST_COLUMNS),
    ]:
        found = next(by_id[sheet_id].iter_rows(min_row=2, max_row=2, values_only=True))
        keys = (exports.NUMBER_COLUMN, *columns)
        assert list(found[: len(keys)]) == [header(language, key) for key in keys]
    # Three days of summary, five enterprise-days reported, three enterprises reconciled,
    # four workers, four check-ins, two runs (the first on two channels: a row each).
    assert rows == 3 + 5 + 3 + 4 + 4 + 3
    if language == "en":
        assert book.sheetnames[3] == "Worker ledger"
    else:
        assert book.sheetnames[3] == "实名制台账"


async def test_dates_are_real_dates_and_headers_frozen_filtered_and_sized(
    db: AsyncEngine, tmp_path: Path
) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path)
    by_id = sheets(open_book(path))
    for sheet_id, sheet in by_id.items():
        assert sheet.freeze_panes == "A3", sheet_id
        assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A2:")
    reports_sheet = by_id["reports"]
    assert reports_sheet.auto_filter.ref == "A2:P7"
    day_cell, submitted_cell = reports_sheet["B3"], reports_sheet["N3"]
    assert isinstance(day_cell.value, datetime) and day_cell.is_date
    assert day_cell.value == datetime(2027, 1, 18)
    assert day_cell.number_format == exports.DATE_FORMAT
    # Submitted at 15:00 in the district, written as local time.
    assert submitted_cell.value == datetime(2027, 1, 18, 15, 0)
    assert submitted_cell.number_format == exports.DATETIME_FORMAT
    ledger = by_id["ledger"]
    widths = {key: ledger.column_dimensions[key].width for key in ("A", "B", "E")}
    assert all(width and width >= 6 for width in widths.values()), widths
    # The enterprise names (five Chinese characters) are wider than the numbers.
    assert widths["E"] > widths["A"]


async def test_every_sheet_is_ready_to_print_for_a_clerk(db: AsyncEngine, tmp_path: Path) -> None:
    """Read back as WPS or Excel reads it: a title row naming the issuing unit and 制表时间
    above a numbered table, landscape A4 one page wide, the header row on every page, no
    emoji in any cell."""
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path)
    book = open_book(path)
    for sheet_id, sheet in sheets(book).items():
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet_id
        assert setup.paperSize == 9, "A4"
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet_id
        # One page wide (unwritten, fitToWidth is 1 by the standard), as many pages long as
        # the rows take (0).
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), sheet_id
        assert sheet.print_title_rows == "$2:$2", "the header row repeated on every page"
        assert "&P" in sheet.oddFooter.center.text, "pages numbered"
        title = sheet["A1"].value
        assert title.startswith(ISSUER) and "制表时间：2027-01-20 10:00" in title, title
        assert text("zh_Hans", exports.SHEETS[sheet_id]) in title
        assert next(str(r) for r in sheet.merged_cells.ranges).startswith("A1:")
        assert sheet["A2"].value == "序号"
        # (The summary's scope, beside its days, may run on below them, unnumbered.)
        numbers = [
            row[0]
            for row in sheet.iter_rows(min_row=3, max_col=1, values_only=True)
            if row[0] is not None
        ]
        assert numbers == list(range(1, len(numbers) + 1)), sheet_id
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert exports.without_emoji(value) == value, value
    ledger = sheets(book)["ledger"]
    headers = [cell.value for cell in ledger[2]]
    assert "返乡日期" in headers and "返岗日期" in headers
    assert "编号" not in headers, "no internal ids"
    plans = {
        row[headers.index("春节安排")] for row in ledger.iter_rows(min_row=3, values_only=True)
    }
    # The catalog's labels carry a 🏠 for the buttons; the sheet does not.
    assert text("zh_Hans", "plan.stay").startswith("🏠")
    assert exports.without_emoji(text("zh_Hans", "plan.stay")) in plans


def test_without_emoji_keeps_the_words() -> None:
    assert exports.without_emoji("🏠 留在本地过年") == "留在本地过年"
    assert exports.without_emoji("暖气坏了👍👨‍👩‍👧 1️⃣号楼") == "暖气坏了 号楼"
    assert exports.without_emoji("=1+1 暖气坏了\n第二行") == "=1+1 暖气坏了\n第二行"
    assert exports.without_emoji("13812345678") == "13812345678"


async def test_phones_are_masked_unless_the_caller_says_otherwise(
    db: AsyncEngine, tmp_path: Path
) -> None:
    await build_district(create_sessionmaker(db))
    phone = header("zh_Hans", "export.col.phone")
    masked, full = tmp_path / "masked.xlsx", tmp_path / "full.xlsx"
    await write(db, masked)
    await write(db, full, mask_phones=False)
    masked_phones = [r[phone] for r in table(sheets(open_book(masked))["ledger"])]
    full_phones = [r[phone] for r in table(sheets(open_book(full))["ledger"])]
    assert sorted(p for p in masked_phones if p) == ["137****2222", "138****5678", "139****1111"]
    assert sorted(p for p in full_phones if p) == ["13700002222", "13812345678", "13900001111"]


def test_mask_phone() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("03150000001") == "031****0001"
    assert mask_phone("1234567") == "*****67", "a short number is never shown whole"
    assert mask_phone("12") == "**"
    assert mask_phone(None) is None and mask_phone("") is None


@pytest.mark.parametrize("town", [None, "开发区", "东城镇"])
async def test_the_summary_is_the_trend(db: AsyncEngine, tmp_path: Path, town: str | None) -> None:
    district = await build_district(create_sessionmaker(db))
    town_id = district.towns[town] if town else None
    path = tmp_path / "export.xlsx"
    await write(db, path, first=D1 - timedelta(days=1), last=D3, town_id=town_id)
    summary = table(sheets(open_book(path))["summary"], len(exports.SUMMARY_COLUMNS))
    async with create_sessionmaker(db)() as session:
        trend = await stats.trend(session, D1 - timedelta(days=1), D3, town_id, zone=ZONE)
    assert [
        (
            r[header("zh_Hans", "export.col.date")].date(),
            *(r[header("zh_Hans", key)] for key in exports.SUMMARY_COLUMNS[1:]),
        )
        for r in summary
    ] == [
        (
            d.day,
            d.due,
            d.reported,
            d.reported / d.due if d.due else None,
            d.carried,
            d.totals.total,
            d.totals.staying,
            d.totals.gone_home,
            d.totals.undecided,
            d.totals.on_duty,
            d.totals.new_arrivals,
        )
        for d in trend
    ]
    if town is None:
        # Counted by hand: the 18th is the second revision of 城建一 and 城建二's report; on
        # the 19th 城建二 did not report and its 4 are carried, on the 20th 城建一's 5 and
        # 东城机械厂's 12 (which, added on the 20th, was due from its first report, the 19th).
        staying = header("zh_Hans", "export.col.staying")
        assert [r[staying] for r in summary] == [0, 5 + 4, 5 + 12 + 4, 5 + 5 + 12]
        due, reported, rate, carried = (
            header("zh_Hans", key)
            for key in (
                "export.col.due",
                "export.col.reported",
                "export.col.rate",
                "export.col.carried",
            )
        )
        assert [(r[due], r[reported], r[carried]) for r in summary] == [
            (0, 0, 0),
            (2, 2, 0),
            (3, 2, 1),
            (3, 1, 2),
        ]
        assert [r[rate] for r in summary] == [None, 1.0, 2 / 3, 1 / 3]


async def test_without_dates_the_summary_spans_the_reports(db: AsyncEngine, tmp_path: Path) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path)
    summary = sheets(open_book(path))["summary"]
    days = [
        row[0]
        for row in summary.iter_rows(min_row=3, min_col=2, max_col=2, values_only=True)
        if row[0]
    ]
    assert days == [datetime(2027, 1, 18), datetime(2027, 1, 19), datetime(2027, 1, 20)]
    # The scope beside the table says what was exported.
    scope = {
        row[0]: row[1]
        for row in summary.iter_rows(
            min_col=exports.SCOPE_COLUMN + 1, max_col=exports.SCOPE_COLUMN + 2, values_only=True
        )
        if row[0]
    }
    # The title row names the issuing unit and when the table was made (制表时间), local time.
    assert (
        summary["A1"].value
        == f"{ISSUER}　{text('zh_Hans', 'export.title')}（汇总）　制表时间：2027-01-20 10:00"
    )
    assert scope[text("zh_Hans", "export.scope.period")] == text(
        "zh_Hans", "export.scope.all_dates"
    )
    assert scope[text("zh_Hans", "export.scope.phones")] == text("zh_Hans", "export.scope.masked")
    assert scope[text("zh_Hans", "export.sheet.ledger")] == 4


async def test_the_reports_sheet_has_a_row_per_enterprise_and_day_with_its_flags(
    db: AsyncEngine, tmp_path: Path
) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en")
    rows = table(sheets(open_book(path), "en")["reports"])
    assert [(r["Date"].date(), r["Enterprise"], r["Revision"], r["Late"]) for r in rows] == [
        (D1, "城建一公司", 2, "No"),
        (D1, "城建二公司", 1, "No"),
        (D2, "东城机械厂", 1, "No"),
        (D2, "城建一公司", 1, "Yes"),
        (D3, "城建二公司", 1, "No"),
    ]
    revised = rows[0]
    assert (revised["Town"], revised["Staying here"], revised["Undecided"]) == ("开发区", 5, 1)
    assert (revised["Needs"], revised["Submitted by"]) == ("缺少取暖设备", "赵经理")
    summary = table(sheets(open_book(path), "en")["summary"])
    for day in summary:
        same_day = [r for r in rows if r["Date"] == day["Date"]]
        # An enterprise that did not report that day counts by its latest earlier report.
        latest: dict[str, int] = {}
        for r in rows:
            if r["Date"] < day["Date"]:
                latest[r["Enterprise"]] = r["Staying here"]
        for r in same_day:
            latest.pop(r["Enterprise"], None)
        assert day["Carried"] == len(latest)
        counted = sum(r["Staying here"] for r in same_day) + sum(latest.values())
        assert counted == day["Staying here"], "a clerk's SUM is right"


async def test_the_reconciliation_sets_each_report_beside_its_workers_widest_first(
    db: AsyncEngine, tmp_path: Path
) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en", first=D1, last=D2)
    rows = table(sheets(open_book(path), "en")["reconciliation"])
    columns = (
        "Staying here",
        "Said staying here",
        "Gone home",
        "Said going home",
        "Not answered",
        "Gap",
    )
    assert [(r["Enterprise"], *(r[c] for c in columns)) for r in rows] == [
        # The erased worker still counts by their check-in, anonymised; 王五 never answered.
        ("东城机械厂", 12, 1, 6, 0, 1, 17),
        # 张三 said on D2 he goes home.
        ("城建一公司", 5, 0, 5, 1, 0, 9),
        # No report on D2: nothing to set beside 李四's answer.
        ("城建二公司", None, 1, None, 0, 0, None),
    ]
    assert {r["Date"].date() for r in rows} == {D2}, "the export's last day"


async def test_a_selected_model_is_marked_in_stats_and_in_the_export(
    db: AsyncEngine, tmp_path: Path
) -> None:
    sessions = create_sessionmaker(db)
    district = await build_district(sessions)
    async with sessions() as session, session.begin():
        chosen = await nominations.start(
            session, district.enterprises["城建一公司"], None, CAMPAIGN_NOW
        )
        chosen.status = nominations.NominationStatus.SELECTED
        chosen.selected_at = CAMPAIGN_NOW
    async with sessions() as session:
        picture = await stats.picture(session, D2, zone=ZONE)
    assert picture.models == ["城建一公司"]
    shown = catalogs().render("en", picture_message(picture, threshold=5))
    assert "<b>Model employers</b>: 城建一公司" in shown
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en", first=D1, last=D2)
    by_id = sheets(open_book(path), "en")
    for sheet_id in ("reports", "reconciliation"):
        marked = {(r["Enterprise"], r["Model employer"]) for r in table(by_id[sheet_id])}
        assert marked == {("城建一公司", "Yes"), ("城建二公司", "No"), ("东城机械厂", "No")}, (
            sheet_id
        )


async def test_the_ledger_and_the_history(db: AsyncEngine, tmp_path: Path) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en")
    by_id = sheets(open_book(path), "en")
    ledger = {r["Name"]: r for r in table(by_id["ledger"])}
    erased = text("en", "export.erased")
    assert set(ledger) == {"张三", "李四", "王五", erased}
    # Each worker is marked by the channel they reach the bot by.
    assert {name: r["Channel"] for name, r in ledger.items()} == {
        "张三": "Telegram",
        "李四": "Telegram",
        "王五": "Web",
        erased: "Telegram",
    }
    zhang = ledger["张三"]
    assert zhang["Holiday plan"] == exports.without_emoji(text("en", "plan.return"))
    assert zhang["Home province"] == text("en", "province.41")
    assert zhang["Destination"] == f"{text('en', 'province.41')} 信阳市"
    assert (zhang["Leaving for home"], zhang["Back at work"]) == (
        datetime(2027, 2, 1),
        datetime(2027, 2, 20),
    )
    assert zhang["Transport"] == text("en", "transport.train")
    assert zhang["Last check-in"] == datetime(2027, 1, 19)
    assert ledger["李四"]["Needs"] == ", ".join(
        [text("en", "need.heating"), text("en", "need.food")]
    )
    assert ledger["王五"]["Holiday plan"] == text("en", "export.plan.none")
    gone = ledger[erased]
    assert gone["Mobile"] is None and gone["Home province"] is None
    assert gone["Holiday plan"] == plain("plan.stay"), "the plan still counts"
    history = table(by_id["checkins"])
    assert [(r["Date"].date(), r["Holiday plan"]) for r in history] == [
        (D1, plain("plan.undecided")),
        (D1, plain("plan.stay")),
        (D2, plain("plan.return")),
        (D2, plain("plan.stay")),
    ]
    # Rows are numbered (序号), not shown by their internal ids.
    assert [r["No."] for r in history] == [1, 2, 3, 4]
    # What a worker typed stays text, never a formula.
    assert history[3]["Note"] == "=1+1 暖气坏了"
    assert history[1]["Name"] == erased


@pytest.mark.parametrize("language", ["zh_Hans", "en"])
async def test_the_summary_counts_the_ledgers_people_by_channel(
    db: AsyncEngine, tmp_path: Path, language: str
) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language=language)
    by_id = sheets(open_book(path), language)
    label = exports.SCOPE_COLUMN
    scope = [
        (row[label], row[label + 1])
        for row in by_id["summary"].iter_rows(values_only=True)
        if row[label] is not None
    ]
    ledger = text(language, exports.SHEETS["ledger"])
    at_ledger = scope.index((ledger, 4))
    web = text(language, "channel.web")
    # The ledger's four workers, right under its count: three on Telegram, one on the web.
    assert scope[at_ledger + 1 : at_ledger + 3] == [
        (text(language, "export.scope.channel").format(channel="Telegram"), 3),
        (text(language, "export.scope.channel").format(channel=web), 1),
    ]
    channel = text(language, "export.col.channel")
    assert sorted(r[channel] for r in table(by_id["ledger"])) == sorted(
        ["Telegram", "Telegram", "Telegram", web]
    )
    if language == "zh_Hans":
        assert web == "网页" and scope[at_ledger + 2][0] == "其中：网页"


async def test_the_deliveries_sheet_counts_each_run(db: AsyncEngine, tmp_path: Path) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en")
    rows = table(sheets(open_book(path), "en")["deliveries"])
    # A row per run and channel: the letter went to three on Telegram and 王五 on the web.
    text_kind, message_kind = text("en", "broadcast.kind.text"), text("en", "export.kind.message")
    assert [
        (r["Kind"], r["Channel"], r["Recipients"], r["Sent"], r["Blocked"], r["Failed"])
        for r in rows
    ] == [
        (text_kind, "Telegram", 3, 2, 1, 0),
        (text_kind, "Web", 1, 0, 0, 1),
        (message_kind, "Telegram", 1, 0, 0, 0),
    ]
    assert [r["Pending"] for r in rows] == [0, 0, 1]
    assert rows[0]["No."] == 1 and rows[0]["Broadcast"] == rows[1]["Broadcast"]
    assert rows[0]["Content"] == rows[1]["Content"] == "春节慰问： 请留意安全"
    assert rows[0]["Due at"] == datetime(2027, 1, 19, 10, 0)
    # A reminder reads as the contacts read it, without HTML.
    assert "/report" in rows[2]["Content"] and "<" not in rows[2]["Content"]


async def test_a_town_export_holds_only_that_town(db: AsyncEngine, tmp_path: Path) -> None:
    district = await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    rows = await write(db, path, language="en", town_id=district.towns["东城镇"])
    by_id = sheets(open_book(path), "en")
    for sheet_id in ("reports", "reconciliation", "ledger", "checkins"):
        found = table(by_id[sheet_id])
        assert found and {r["Town"] for r in found} == {"东城镇"}, sheet_id
    assert len(table(by_id["ledger"])) == 2
    # Only the letter reached the town's people: 王五 (failed, on the web) and the erased
    # worker (sent, on Telegram).
    deliveries = table(by_id["deliveries"])
    assert [(r["Channel"], r["Recipients"], r["Sent"], r["Failed"]) for r in deliveries] == [
        ("Telegram", 1, 1, 0),
        ("Web", 1, 0, 1),
    ]
    summary = table(by_id["summary"], len(exports.SUMMARY_COLUMNS))
    assert [r["Out-of-town workers"] for r in summary] == [20]
    label = exports.SCOPE_COLUMN
    area = [row for row in by_id["summary"].iter_rows(values_only=True) if row[label] == "Area"]
    assert [row[label + 1] for row in area] == ["东城镇"]
    assert rows == 1 + 1 + 1 + 2 + 1 + 2


async def test_dates_narrow_reports_checkins_and_runs(db: AsyncEngine, tmp_path: Path) -> None:
    await build_district(create_sessionmaker(db))
    path = tmp_path / "export.xlsx"
    await write(db, path, language="en", first=D2, last=D2)
    by_id = sheets(open_book(path), "en")
    assert {r["Date"].date() for r in table(by_id["reports"])} == {D2}
    assert {r["Date"].date() for r in table(by_id["checkins"])} == {D2}
    # The letter's run alone, a row for each channel it went by.
    assert [r["Channel"] for r in table(by_id["deliveries"])] == ["Telegram", "Web"]
    # The ledger shows each plan as it stood on the last day.
    ledger = {r["Name"]: r for r in table(by_id["ledger"])}
    assert ledger["张三"]["Holiday plan"] == plain("plan.return")
    await write(db, path, language="en", last=D1)
    ledger = {r["Name"]: r for r in table(sheets(open_book(path), "en")["ledger"])}
    assert ledger["张三"]["Holiday plan"] == plain("plan.undecided")


async def test_an_export_into_a_stream_and_its_audit_entry(db: AsyncEngine) -> None:
    district = await build_district(create_sessionmaker(db))
    buffer = io.BytesIO()
    admin = district.workers["张三"]  # any person id: the audit log keeps ids only
    rows = await exports.export(
        create_sessionmaker(db),
        buffer,
        actor_id=admin,
        via="bot",
        now=CAMPAIGN_NOW,
        catalogs=catalogs(),
        language="zh_Hant",
        first=D1,
        last=D3,
        town_id=district.towns["开发区"],
        mask_phones=False,
        zone=ZONE,
        issuer=ISSUER,
    )
    book = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames[0] == text("zh_Hant", "export.sheet.summary")
    async with create_sessionmaker(db)() as session:
        [entry] = await audit.recent(session, 5, Action.EXPORT)
    assert (entry.actor_id, entry.via, entry.rows, entry.at) == (admin, "bot", rows, CAMPAIGN_NOW)
    assert entry.scope == {
        "first": "2027-01-18",
        "last": "2027-01-20",
        "town_id": district.towns["开发区"],
        "masked": False,
        "language": "zh_Hant",
        "sheets": {
            "summary": 3,
            "reports": 4,
            "reconciliation": 2,
            "ledger": 2,
            "checkins": 3,
            "deliveries": 2,
            "requests": 0,
        },
    }


async def test_a_failed_export_writes_no_file_and_no_audit(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    with pytest.raises(ValueError, match="before"):
        await exports.export(
            create_sessionmaker(db),
            path,
            actor_id=None,
            via="cli",
            now=CAMPAIGN_NOW,
            catalogs=catalogs(),
            language="en",
            first=D3,
            last=D1,
            town_id=None,
            mask_phones=True,
            zone=ZONE,
            issuer=ISSUER,
        )
    assert not path.exists()
    async with create_sessionmaker(db)() as session:
        assert await session.scalar(select(AuditEntry.id)) is None


async def test_an_empty_database_exports_headers_only(db: AsyncEngine, tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    assert await write(db, path) == 0
    by_id = sheets(open_book(path))
    assert by_id["ledger"].max_row == 2 and by_id["ledger"].auto_filter.ref == "A2:P2"


async def test_an_export_on_sqlite_leaves_writers_free(db: AsyncEngine) -> None:
    """The export reads one snapshot without taking SQLite's write lock, so the bot (another
    process or connection) goes on writing while a long export runs from the command line."""
    if db.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers never block writers")
    await build_district(create_sessionmaker(db))
    writer = create_engine(db.url.render_as_string(hide_password=False))
    try:
        async with queries.snapshot(create_sessionmaker(db)) as session:
            before = [row async for row in queries.report_rows(session, None, None)]
            async with create_sessionmaker(writer)() as other, other.begin():
                await organisation.add_town(other, "新城镇")
            # The snapshot does not see what was written after it began.
            again = [row async for row in queries.report_rows(session, None, None)]
            assert again == before
            assert await organisation.find_town(session, "新城镇") is None
    finally:
        await writer.dispose()


# Memory ----------------------------------------------------------------------------------------

MANY = 8_000
FEW = 1_000
# After the workers' check-ins: the ledger shows their plans, the history sheet stays empty,
# so the ledger's rows alone are measured.
LATER = D3 + timedelta(days=1)


async def add_workers(sessions: async_sessionmaker[AsyncSession], count: int, start: int) -> None:
    """Workers numbered from `start`, each with one check-in, written in bulk."""
    async with sessions() as session, session.begin():
        town = await organisation.get_or_create_town(session, "开发区")
        enterprise = await organisation.find_enterprise(session, "城建一公司")
        if enterprise is None:
            enterprise = await organisation.add_enterprise(
                session, "城建一公司", town, CAMPAIGN_NOW
            )
        numbers = range(start, start + count)
        people = [
            {
                "telegram_user_id": 10_000_000 + i,
                "chat_id": 10_000_000 + i,
                "role": Role.WORKER,
                "language": "zh_Hans",
                "enterprise_id": enterprise.id,
                "full_name": f"工人{i:05d}号",
                "phone": f"138{i:08d}",
                "hukou_province": "41",
                "hukou_city": "信阳市",
                "enrolled_at": CAMPAIGN_NOW,
                "active": True,
            }
            for i in numbers
        ]
        await session.execute(insert(Person), people)
        added = select(Person.id).where(Person.telegram_user_id >= 10_000_000 + start)
        checkins = [
            {
                "person_id": person_id,
                "enterprise_id": enterprise.id,
                "created_at": CAMPAIGN_NOW,
                "local_date": D3,
                "plan": Plan.RETURN,
                "needs": [],
                "destination_province": "41",
                "destination_city": "信阳市",
                "depart_date": date(2027, 2, 1),
                "return_date": date(2027, 2, 20),
                "transport": Transport.TRAIN,
            }
            for person_id in await session.scalars(added)
        ]
        await session.execute(insert(CheckIn), checkins)


async def export_peak(db: AsyncEngine, path: Path) -> tuple[int, int]:
    """(data rows, peak bytes allocated while exporting)."""
    tracemalloc.start()
    try:
        rows = await write(db, path, first=LATER, last=LATER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return rows, peak


async def held_size(db: AsyncEngine) -> int:
    """Bytes it takes just to hold the ledger's rows at once."""
    tracemalloc.start()
    try:
        async with create_sessionmaker(db)() as session:
            held = [row async for row in queries.ledger_rows(session, LATER)]
            size, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(held) == FEW
    return size


async def test_the_export_runs_in_constant_memory(
    db: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sessions = create_sessionmaker(db)
    await add_workers(sessions, FEW, 0)
    await write(db, tmp_path / "warm.xlsx")  # compiled statements and caches, once
    few_rows, few_peak = await export_peak(db, tmp_path / "few.xlsx")
    # Rows of one kind each take the same room: holding MANY takes MANY / FEW times as much.
    held_few = await held_size(db)
    held = held_few * MANY // FEW
    await add_workers(sessions, MANY - FEW, FEW)
    rows, peak = await export_peak(db, tmp_path / "many.xlsx")
    with capsys.disabled():
        print(
            f"\n[{db.dialect.name}] export peak: {few_peak / 1e6:.1f} MB for {few_rows} rows, "
            f"{peak / 1e6:.1f} MB for {rows} rows; holding the {MANY} ledger rows would take "
            f"{held / 1e6:.1f} MB",
            file=sys.stderr,
        )
    assert (few_rows, rows) == (FEW + 2, MANY + 2), "the ledger, a summary day, a reconciled"
    # Eight times the rows in about the same memory: the peak grows by far less than it
    # would take to hold the added rows, so they stream through rather than pile up.
    assert peak < few_peak * 1.5 + 1_000_000
    assert peak - few_peak < (held - held_few) / 4
    ledger = openpyxl.load_workbook(tmp_path / "many.xlsx", read_only=True)[
        text("zh_Hans", "export.sheet.ledger")
    ]
    assert ledger.max_row == MANY + 2


# The chart -------------------------------------------------------------------------------------


def png_ok(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and len(data) > 1000
    image = imread(io.BytesIO(data), format="png")
    height, width = image.shape[:2]
    return width, height


def some_days(count: int = 20) -> list[stats.DayTotals]:
    """Days of ten enterprises due; every third day one did not report (its figures carried)."""
    return [
        stats.DayTotals(
            D1 + timedelta(days=i),
            stats.Totals(100, 60 + i, 30 + i, 20, 1),
            reported=9 if i % 3 == 0 else 10,
            carried=1 if i % 3 == 0 else 0,
            due=10,
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("language", ["zh_Hans", "zh_Hant", "en"])
def test_the_trend_chart_is_a_png(language: str) -> None:
    data = charts.trend_png(some_days(), catalogs=catalogs(), language=language)
    assert png_ok(data) == (1080, 600)


def test_the_chart_speaks_chinese_when_a_font_is_installed() -> None:
    font = poster.find_cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (Debian: fonts-noto-cjk or fonts-wqy-microhei)")
    for language in ("zh_Hans", "zh_Hant"):
        assert charts.chart_language(catalogs(), language, font) == language
        # Every word of the chart, the incomplete days' legend too, has its glyph.
        words = "".join(charts._words(catalogs(), language).values())
        assert "沿用" in words and font.missing(words + "开发区") == ""
    zh = charts.trend_png(some_days(), catalogs=catalogs(), language="zh_Hans", scope="开发区")
    en = charts.trend_png(some_days(), catalogs=catalogs(), language="en")
    assert zh != en


def test_incomplete_days_are_shown_as_such() -> None:
    complete = [replace(day, reported=10, carried=0) for day in some_days()]
    assert all(day.complete for day in complete)
    assert not some_days()[0].complete and some_days()[0].rate == 90
    marked = charts.trend_png(some_days(), catalogs=catalogs(), language="en")
    plain = charts.trend_png(complete, catalogs=catalogs(), language="en")
    assert marked != plain
    # The shaded days: the same pixel row, grey where a day is incomplete, white where not.
    image = imread(io.BytesIO(marked), format="png")
    greys = {tuple(round(float(c), 2) for c in px[:3]) for px in image.reshape(-1, image.shape[2])}
    shade = tuple(round(int(charts.INCOMPLETE_SHADE[i : i + 2], 16) / 255, 2) for i in (1, 3, 5))
    assert shade in greys


def test_without_a_chinese_font_the_chart_is_in_english(monkeypatch: pytest.MonkeyPatch) -> None:
    latin = poster.latin_font()
    assert charts.chart_language(catalogs(), "zh_Hans", latin) == "en"
    assert charts.chart_language(catalogs(), "en", latin) == "en"
    monkeypatch.setattr(charts, "find_cjk_font", lambda: None)
    fallback = charts.trend_png(
        some_days(), catalogs=catalogs(), language="zh_Hans", scope="开发区"
    )
    english = charts.trend_png(some_days(), catalogs=catalogs(), language="en")
    # The same English chart: no boxes for missing glyphs, and the Chinese town name left out.
    assert fallback == english


@pytest.mark.parametrize("count", [0, 1, 60])
def test_the_chart_of_no_one_or_many_days(count: int) -> None:
    png_ok(charts.trend_png(some_days(count), catalogs=catalogs(), language="zh_Hans"))


def test_the_chart_leaves_no_pyplot_state() -> None:
    charts.trend_png(some_days(), catalogs=catalogs(), language="en")
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or pyplot.get_fignums() == []


# The command line ------------------------------------------------------------------------------


def test_the_command_line_export_writes_a_masked_workbook_and_audits(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n', encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        assert outreach(["--config", str(config), "migrate"]) == 0

    async def seed() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            await build_district(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    asyncio.run(seed())
    target = tmp_path / "台账.xlsx"
    with redirect_stdout(out):
        code = outreach(
            [
                *("--config", str(config), "export", "--out", str(target)),
                *("--from", "2027-01-19", "--to", "2027-01-20", "--town", "开发区"),
                *("--language", "en"),
            ]
        )
    assert code == 0
    assert "rows written" in out.getvalue() and "masked" in out.getvalue()
    book = openpyxl.load_workbook(target)
    ledger = table(book["Worker ledger"])
    assert {r["Mobile"] for r in ledger} == {"138****5678", "139****1111"}
    full = tmp_path / "full.xlsx"
    with redirect_stdout(out):
        assert outreach(["--config", str(config), "export", "--out", str(full), "--unmasked"]) == 0
    assert "13812345678" in {r["手机号"] for r in table(openpyxl.load_workbook(full)["实名制台账"])}

    async def entries() -> list[AuditEntry]:
        engine = create_engine(f"sqlite+aiosqlite:///{database}")
        try:
            async with create_sessionmaker(engine)() as session:
                return list(await audit.recent(session, 10, Action.EXPORT))
        finally:
            await engine.dispose()

    unmasked, masked = asyncio.run(entries())
    assert (masked.via, masked.actor_id, masked.scope["masked"]) == ("cli", None, True)
    assert masked.scope["first"] == "2027-01-19" and masked.scope["town_id"] is not None
    # Open-ended, the reconciliation is of today: the real date, before the district's
    # enterprises were added, so none was due and it has no rows.
    assert unmasked.scope["sheets"]["reconciliation"] == 0
    assert (unmasked.scope["masked"], unmasked.scope["first"], unmasked.rows) == (False, None, 19)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--out", "x.csv"], 2, "must end in .xlsx"),
        (["--out", "x.xlsx", "--from", "2027-01-20", "--to", "2027-01-19"], 2, "before"),
        (["--out", "x.xlsx", "--language", "fr"], 2, "--language"),
        (["--out", "x.xlsx", "--town", "没有这个镇"], 1, "no town"),
        (["--out", "nowhere/x.xlsx"], 2, "no folder"),
    ],
)
def test_the_command_line_export_refuses_bad_requests(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    code: int,
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "cli.db"}"\n', encoding="utf-8"
    )
    assert outreach(["--config", str(config), "export", *args]) == code
    assert says in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_a_date_that_is_not_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_code:
        outreach(["export", "--out", "x.xlsx", "--from", "2027-02-30"])
    assert exit_code.value.code == 2
    assert "is not a date" in capsys.readouterr().err


async def test_the_requests_sheet_follows_the_towns_rule_and_the_dates(
    db: AsyncEngine, tmp_path: Path
) -> None:
    from models.requests import Category, HelpRequest, Route, Source, Status

    district = await build_district(create_sessionmaker(db))
    async with create_sessionmaker(db)() as session, session.begin():
        workers = {who: await session.get(Person, id_) for who, id_ in district.workers.items()}

        def request(who: str, category: Category, day: date, **fields: Any) -> HelpRequest:
            worker = workers[who]
            assert worker is not None
            values: dict[str, Any] = {
                "person_id": worker.id,
                "enterprise_id": worker.enterprise_id,
                "category": category,
                "description": "写的情况",
                "anonymous": False,
                "source": Source.REQUEST,
                "route": Route.CONTACT,
                "status": Status.OPEN,
                "created_at": at(day),
                "waiting_since": at(day),
            }
            values.update(fields)
            row = HelpRequest(**values)
            session.add(row)
            return row

        wages = request("张三", Category.WAGES, D1, anonymous=True, route=Route.STAFF)
        heating = request(
            "李四",
            Category.HEATING,
            D2,
            description=None,
            source=Source.CHECKIN,
            status=Status.SOLVED,
            answered_at=at(D2, 12),
            finished_at=at(D3, 9),
        )
        food = request(
            "王五",
            Category.FOOD,
            D3,
            status=Status.CLOSED,
            finished_at=at(D3, 18),
            description=None,
            voice_file_id="VOICE",
        )
        housing = request("erased", Category.HOUSING, D1, voice_file_id="VOICE")
        await session.flush()
        numbers = {"wages": wages.id, "heating": heating.id, "food": food.id}
        numbers["housing"] = housing.id

    def col(key: str) -> str:
        return header("en", key)

    path = tmp_path / "export.xlsx"
    await write(db, path, language="en")
    rows = table(sheets(open_book(path), "en")["requests"])
    found = {r[col("export.col.request")]: r for r in rows}
    assert list(found) == [numbers[k] for k in ("wages", "housing", "heating", "food")]
    solved = found[numbers["heating"]]
    assert solved[col("export.col.source")] == text("en", "export.source.checkin")
    assert solved[col("export.col.name")] == "李四"
    assert solved[col("export.col.answered_at")] == datetime(2027, 1, 19, 12, 0)
    assert solved[col("export.col.closed_at")] == datetime(2027, 1, 20, 9, 0)
    assert found[numbers["food"]][col("export.col.closed_at")] == datetime(2027, 1, 20, 18, 0)
    # A voice message as the description: the sheet names it by its label.
    assert found[numbers["food"]][col("export.col.description")] == text("en", "request.voice")
    asked = found[numbers["wages"]]
    assert asked[col("export.col.source")] == text("en", "export.source.request")
    assert asked[col("export.col.anonymous")] == text("en", "ui.yes")
    assert asked[col("export.col.closed_at")] is None
    gone = found[numbers["housing"]]
    assert gone[col("export.col.name")] == text("en", "export.erased")
    assert gone[col("export.col.description")] is None

    # A town's export leaves the wage requests out, as /requests does for its officers.
    await write(db, path, language="en", town_id=district.towns["开发区"])
    in_town = table(sheets(open_book(path), "en")["requests"])
    assert [r[col("export.col.request")] for r in in_town] == [numbers["heating"]]

    # The dates narrow requests by the local day they were made.
    await write(db, path, language="en", first=D2, last=D3)
    dated = table(sheets(open_book(path), "en")["requests"])
    assert [r[col("export.col.request")] for r in dated] == [numbers["heating"], numbers["food"]]
    assert {r[col("export.col.created_at")].date() for r in dated} == {D2, D3}
