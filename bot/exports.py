"""The staff's Excel workbook: summary, daily reports, the real-name ledger, check-ins and
deliveries, written in constant memory and ready to print.

XlsxWriter's constant-memory mode flushes each row to a temporary file as the next one
starts, so the rows streamed from models.exports are written in order and never held. Dates
are real Excel dates; headers come from the catalogs in the exporter's language. Every sheet
opens with a title row (the issuing unit, the sheet, 制表时间), numbers its rows (序号)
rather than showing internal ids, has its header row frozen and filtered and its columns
sized to what was written, and prints landscape on A4, fitted to the page width, with the
header row repeated on every page, as a clerk prints it from WPS or Excel. Strings are never
read as formulas or links, whatever a worker typed, and carry no emoji. Phone numbers are
masked (138****5678) unless the caller, for an administrator, says otherwise.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import emoji
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from xlsxwriter import Workbook

from bot.i18n import Catalogs
from bot.render import plain_text
from handlers.actions import N_, Msg, Raw, text_from_json
from handlers.geography import PROVINCES
from handlers.labels import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    KIND_LABELS,
    NEED_LABELS,
    PLAN_LABELS,
    REQUEST_STATUS_LABELS,
    TRANSPORT_LABELS,
    VOICE_LABEL,
)
from handlers.phone import mask_phone
from models import audit, exports, nominations, organisation, requests, stats
from models.broadcasts import ContentKind, DeliveryStatus
from models.checkins import Need, Plan, Transport
from models.people import CHANNELS

# The sheets in their order; the names are the ids the audit log records.
SHEETS: dict[str, str] = {
    "summary": N_("export.sheet.summary"),
    "reports": N_("export.sheet.reports"),
    "reconciliation": N_("export.sheet.reconciliation"),
    "ledger": N_("export.sheet.ledger"),
    "checkins": N_("export.sheet.checkins"),
    "deliveries": N_("export.sheet.deliveries"),
    "requests": N_("export.sheet.requests"),
}
# Each sheet's first column numbers its rows (序号), written by _Sheet.row.
NUMBER_COLUMN = N_("export.col.number")
REQUEST_COLUMNS = (
    N_("export.col.request"),
    N_("export.col.created_at"),
    N_("export.col.category"),
    N_("export.col.source"),
    N_("export.col.status"),
    N_("export.col.town"),
    N_("export.col.enterprise"),
    N_("export.col.name"),
    N_("export.col.description"),
    N_("export.col.anonymous"),
    N_("export.col.answered_at"),
    N_("export.col.closed_at"),
)
REQUEST_SOURCES: dict[requests.Source, str] = {
    requests.Source.REQUEST: N_("export.source.request"),
    requests.Source.CHECKIN: N_("export.source.checkin"),
}
SUMMARY_COLUMNS = (
    N_("export.col.date"),
    N_("export.col.due"),
    N_("export.col.reported"),
    N_("export.col.rate"),
    N_("export.col.carried"),
    N_("export.col.total"),
    N_("export.col.staying"),
    N_("export.col.gone_home"),
    N_("export.col.undecided"),
    N_("export.col.on_duty"),
    N_("export.col.new_arrivals"),
)
REPORT_COLUMNS = (
    N_("export.col.date"),
    N_("export.col.town"),
    N_("export.col.enterprise"),
    N_("export.col.revision"),
    N_("export.col.total"),
    N_("export.col.staying"),
    N_("export.col.gone_home"),
    N_("export.col.undecided"),
    N_("export.col.on_duty"),
    N_("export.col.new_arrivals"),
    N_("export.col.needs"),
    N_("export.col.submitted_by"),
    N_("export.col.submitted_at"),
    N_("export.col.late"),
    N_("export.col.model"),
)
RECONCILIATION_COLUMNS = (
    N_("export.col.date"),
    N_("export.col.town"),
    N_("export.col.enterprise"),
    N_("export.col.total"),
    N_("export.col.staying"),
    N_("export.col.said_staying"),
    N_("export.col.gone_home"),
    N_("export.col.said_gone_home"),
    N_("export.col.said_undecided"),
    N_("export.col.not_answered"),
    N_("export.col.gap"),
    N_("export.col.model"),
)
LEDGER_COLUMNS = (
    N_("export.col.name"),
    N_("export.col.phone"),
    N_("export.col.town"),
    N_("export.col.enterprise"),
    N_("export.col.hukou_province"),
    N_("export.col.hukou_city"),
    N_("export.col.enrolled_on"),
    N_("export.col.channel"),
    N_("export.col.plan"),
    N_("export.col.needs"),
    N_("export.col.destination"),
    N_("export.col.depart"),
    N_("export.col.return"),
    N_("export.col.transport"),
    N_("export.col.checked_on"),
)
CHECKIN_COLUMNS = (
    N_("export.col.date"),
    N_("export.col.checked_at"),
    N_("export.col.name"),
    N_("export.col.town"),
    N_("export.col.enterprise"),
    N_("export.col.plan"),
    N_("export.col.needs"),
    N_("export.col.destination"),
    N_("export.col.depart"),
    N_("export.col.return"),
    N_("export.col.transport"),
    N_("export.col.note"),
)
DELIVERY_COLUMNS = (
    N_("export.col.broadcast"),
    N_("export.col.channel"),
    N_("export.col.kind"),
    N_("export.col.content"),
    N_("export.col.created_at"),
    N_("export.col.due_at"),
    N_("export.col.finished_at"),
    N_("export.col.recipients"),
    N_("export.col.sent"),
    N_("export.col.blocked"),
    N_("export.col.failed"),
    N_("export.col.pending"),
)
# Reminders (catalog messages the bot sends) have no label of their own in the broadcast flow.
KINDS: dict[ContentKind, str] = {ContentKind.MESSAGE: N_("export.kind.message"), **KIND_LABELS}
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0%"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_WIDTH, DATETIME_WIDTH = 10, 16
# Day 0 of Excel's dates (as counted since 1900-03-01, after its leap-year slip).
EXCEL_EPOCH = datetime(1899, 12, 30)
MAX_WIDTH = 60
FILTER_BUTTON = 2
CONTENT_EXCERPT = 100
# The title row above each sheet's header row.
TITLE_ROW, HEADER_ROW = 0, 1
TITLE_HEIGHT = 30
# Printing: A4 (XlsxWriter's paper 9), landscape, one page wide, as long as it takes.
A4_PAPER = 9
# Where the summary's scope stands: two columns right of the day table (序号 included).
SCOPE_COLUMN = len(SUMMARY_COLUMNS) + 2
# Characters that may start an emoji: a cheap test before the emoji library's full one.
MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\u3299\ufe0f\U0001f000-\U0001faff]")
FORBIDDEN_IN_SHEET_NAMES = str.maketrans({c: "_" for c in "[]:*?/\\"})

NEEDS = frozenset(need.value for need in Need)

Cell = str | int | float | date | datetime | None


def without_emoji(text: str) -> str:
    """The text without emoji (a plan's 🏠, a worker's 👍): a printed ledger shows boxes."""
    if MAYBE_EMOJI.search(text) is None:
        return text
    plain = emoji.replace_emoji(text, replace="")
    return re.sub(r"[ \t]{2,}", " ", plain).strip()


def display_width(text: str) -> int:
    """About the columns the text takes in a cell: a Chinese character (three bytes in UTF-8)
    takes two, a Latin letter one. Computed in C: it runs for every cell written."""
    return (len(text.encode("utf-8")) + len(text)) // 2


def excel_serial(value: date) -> float:
    """The day number Excel stores for a date or a (naive, local) time."""
    if isinstance(value, datetime):
        delta = value - EXCEL_EPOCH
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    return (value - EXCEL_EPOCH.date()).days


@dataclass(frozen=True)
class Scope:
    """What an export covers, as the summary and the audit log state it."""

    first: date | None
    last: date | None
    town_id: int | None
    mask_phones: bool
    language: str
    issuer: str  # the unit the title row names

    def to_json(self, rows: dict[str, int]) -> dict[str, Any]:
        """The audit entry's scope."""
        return {
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "town_id": self.town_id,
            "masked": self.mask_phones,
            "language": self.language,
            "sheets": rows,
        }


class _Words:
    """Catalog texts in one language, each looked up once per export."""

    def __init__(self, catalogs: Catalogs, language: str) -> None:
        self.catalogs = catalogs
        self.language = language
        self._known: dict[str, str] = {}
        self.separator = self(N_("ui.list_separator"))

    def __call__(self, key: str) -> str:
        text = self._known.get(key)
        if text is None:
            text = self._known[key] = self.catalogs.label(self.language, Msg(key))
        return text

    def plan(self, plan: Plan | None) -> str:
        return self(PLAN_LABELS[plan]) if plan is not None else self(N_("export.plan.none"))

    def needs(self, needs: Sequence[str]) -> str | None:
        names = [self(NEED_LABELS[Need(n)]) if n in NEEDS else n for n in needs]
        return self.separator.join(names) or None

    def transport(self, transport: Transport | None) -> str | None:
        return self(TRANSPORT_LABELS[transport]) if transport is not None else None

    def province(self, code: str | None) -> str | None:
        if not code:
            return None
        key = PROVINCES.get(code)
        return self(key) if key else code

    def place(self, province: str | None, city: str | None) -> str | None:
        return " ".join(p for p in (self.province(province), city) if p) or None

    def channel(self, channel: str | None) -> str | None:
        label = CHANNEL_LABELS.get(channel) if channel is not None else None
        return self(label) if label is not None else channel

    def channel_share(self, channel: str) -> str:
        label = CHANNEL_LABELS.get(channel)
        name: Msg | Raw = Msg(label) if label is not None else Raw(channel)
        return self.catalogs.label(self.language, Msg("export.scope.channel", channel=name))

    def yes_no(self, value: bool) -> str:
        return self(N_("ui.yes")) if value else self(N_("ui.no"))

    def name(self, erased: bool, name: str | None) -> str | None:
        return self(N_("export.erased")) if erased else name

    def content(
        self, kind: ContentKind, text: str | None, message: dict[str, Any] | None
    ) -> str | None:
        if kind is ContentKind.MESSAGE and message:
            stored = text_from_json(message.get("text"))
            assert isinstance(stored, Msg)
            # As the reader saw it, without the Telegram HTML tags.
            rendered = self.catalogs.render(self.language, stored)
            text = plain_text(rendered)
        if not text:
            return None
        flat = " ".join(text.split())
        return flat if len(flat) <= CONTENT_EXCERPT else flat[: CONTENT_EXCERPT - 1] + "…"


class _Sheet:
    """One worksheet written row after row, remembering how wide each column got."""

    def __init__(self, book: _Book, title: str) -> None:
        self.book = book
        self.title = book.words(title)
        self.sheet = book.workbook.add_worksheet(book.sheet_name(title))
        self.widths: dict[int, int] = {}
        self.next_row = 0
        self.header_columns = 0
        self.numbered = 0

    def put(self, row: int, col: int, value: Cell, cell_format: Any = None) -> None:
        """Write one cell (rows only ever go forward); None leaves it empty.

        Dates and times are written as the day numbers Excel keeps, with a date format: what
        write_datetime does, without its conversion cost on every cell.
        """
        sheet = self.sheet
        kind = type(value)
        if kind is str:
            assert isinstance(value, str)
            value = without_emoji(value)
            sheet.write_string(row, col, value, cell_format)
            width = display_width(value)
        elif kind is int:
            sheet.write_number(row, col, value, cell_format)
            width = len(str(value))
        elif kind is float:
            assert isinstance(value, float)
            sheet.write_number(row, col, value, cell_format or self.book.percent_format)
            width = 5
        elif kind is date:
            assert isinstance(value, date)
            sheet.write_number(row, col, excel_serial(value), cell_format or self.book.date_format)
            width = DATE_WIDTH
        elif kind is datetime:
            assert isinstance(value, datetime)
            local = value.astimezone(self.book.zone).replace(tzinfo=None)
            serial = excel_serial(local)
            sheet.write_number(row, col, serial, cell_format or self.book.datetime_format)
            width = DATETIME_WIDTH
        elif value is None:
            return
        else:
            raise TypeError(f"cannot write {value!r} in a cell")
        if width > self.widths.get(col, 0):
            self.widths[col] = width

    def header(self, keys: Sequence[str]) -> None:
        """The title row, then the header row (序号 first), in the exporter's language."""
        book = self.book
        columns = (NUMBER_COLUMN, *keys)
        self.header_columns = len(columns)
        # The title spans the table, so it prints centred above it whatever the widths.
        self.sheet.set_row(TITLE_ROW, TITLE_HEIGHT)
        title = without_emoji(book.title_row(self.title))
        if self.header_columns > 1:
            self.sheet.merge_range(
                TITLE_ROW, 0, TITLE_ROW, self.header_columns - 1, title, book.title_format
            )
        else:
            self.sheet.write_string(TITLE_ROW, 0, title, book.title_format)
        for col, key in enumerate(columns):
            text = book.words(key)
            self.put(HEADER_ROW, col, text, book.header_format)
            # Room for the filter's drop-down button beside the title.
            self.widths[col] = max(self.widths.get(col, 0), display_width(text) + FILTER_BUTTON)
        self.next_row = HEADER_ROW + 1

    def row(self, cells: Sequence[Cell]) -> None:
        """The next data row, numbered."""
        self.numbered += 1
        self.put(self.next_row, 0, self.numbered)
        for col, value in enumerate(cells, start=1):
            self.put(self.next_row, col, value)
        self.next_row += 1

    @property
    def data_rows(self) -> int:
        """Rows written under the header."""
        return self.numbered

    def finish(self) -> None:
        """Size the columns; freeze and filter the header row; set the page up for print."""
        sheet = self.sheet
        for col, width in self.widths.items():
            sheet.set_column(col, col, min(max(width, 4), MAX_WIDTH) + 2)
        sheet.freeze_panes(HEADER_ROW + 1, 0)
        last_row = max(self.next_row - 1, HEADER_ROW)
        sheet.autofilter(HEADER_ROW, 0, last_row, self.header_columns - 1)
        sheet.set_paper(A4_PAPER)
        sheet.set_landscape()
        sheet.fit_to_pages(1, 0)
        sheet.repeat_rows(HEADER_ROW)
        sheet.center_horizontally()
        sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
        # The page number in the footer, as a stack of printed pages needs.
        sheet.set_footer(self.book.footer)
        # Printed with the grid, as a ledger on paper is ruled.
        sheet.hide_gridlines(0)


class _Book:
    """The workbook with its formats, words and time zone."""

    def __init__(
        self,
        target: Path | BinaryIO,
        words: _Words,
        zone: ZoneInfo,
        *,
        issuer: str,
        made_at: datetime,
    ) -> None:
        self.workbook = Workbook(
            str(target) if isinstance(target, Path) else target,
            {
                "constant_memory": True,
                # A worker's note starting with "=" or holding a link stays text.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.words = words
        self.zone = zone
        self.issuer = issuer
        self.made_at = made_at.astimezone(zone)
        self.header_format = self.workbook.add_format(
            {"bold": True, "bg_color": "#DDEBF7", "bottom": 1, "valign": "vcenter"}
        )
        self.title_format = self.workbook.add_format(
            {"bold": True, "font_size": 14, "align": "center", "valign": "vcenter"}
        )
        self.percent_format = self.workbook.add_format({"num_format": PERCENT_FORMAT})
        # &P and &N are the page number and the page count in a footer.
        page = Msg("export.page", page=Raw("&P"), pages=Raw("&N"))
        self.footer = "&C" + html.unescape(words.catalogs.render(words.language, page))
        self.date_format = self.workbook.add_format({"num_format": DATE_FORMAT})
        self.datetime_format = self.workbook.add_format({"num_format": DATETIME_FORMAT})
        self.bold = self.workbook.add_format({"bold": True})
        self._names: set[str] = set()

    def title_row(self, sheet: str) -> str:
        """What the title row says: who issues the table, which table, and when it was made."""
        title = self.words(N_("export.title"))
        message = Msg(
            "export.title_row",
            issuer=Raw(self.issuer),
            title=Raw(title),
            sheet=Raw(sheet),
            made_at=Raw(self.made_at.strftime("%Y-%m-%d %H:%M")),
        )
        return html.unescape(self.words.catalogs.render(self.words.language, message)).strip()

    def sheet_name(self, key: str) -> str:
        """The sheet's name in the language, made legal (31 characters, no []:*?/\\)."""
        base = self.words(key).translate(FORBIDDEN_IN_SHEET_NAMES).strip("'")[:31] or key[:31]
        name, number = base, 2
        while name.lower() in self._names:
            name, number = f"{base[:28]} {number}", number + 1
        self._names.add(name.lower())
        return name

    async def close(self) -> None:
        """Assemble the file (zipping takes a while: off the event loop)."""
        await asyncio.to_thread(self.workbook.close)


# The sheets -----------------------------------------------------------------------------------


async def _reports(sheet: _Sheet, rows: AsyncIterator[exports.ReportRow], models: set[str]) -> None:
    words = sheet.book.words
    sheet.header(REPORT_COLUMNS)
    async for r in rows:
        sheet.row(
            [
                r.day,
                r.town,
                r.enterprise,
                r.revision,
                r.total,
                r.staying,
                r.gone_home,
                r.undecided,
                r.on_duty,
                r.new_arrivals,
                r.needs,
                r.submitted_by,
                r.submitted_at,
                words.yes_no(r.late),
                words.yes_no(r.enterprise in models),
            ]
        )


def _reconciliation(
    sheet: _Sheet, day: date, gaps: Sequence[stats.Gap], models: Collection[str]
) -> None:
    # One row per active enterprise (hundreds), widest gap first, as /stats lists them.
    words = sheet.book.words
    sheet.header(RECONCILIATION_COLUMNS)
    for gap in gaps:
        reported, said = gap.reported, gap.said
        sheet.row(
            [
                day,
                gap.enterprise.town,
                gap.enterprise.name,
                reported.total if reported else None,
                reported.staying if reported else None,
                said.get(Plan.STAY, 0),
                reported.gone_home if reported else None,
                said.get(Plan.RETURN, 0),
                said.get(Plan.UNDECIDED, 0),
                said.get(None, 0),
                gap.size if reported else None,
                words.yes_no(gap.enterprise.name in models),
            ]
        )


async def _ledger(
    sheet: _Sheet, rows: AsyncIterator[exports.LedgerRow], mask: bool
) -> dict[str, int]:
    """The ledger's rows; returns how many workers it lists on each channel."""
    words, zone = sheet.book.words, sheet.book.zone
    sheet.header(LEDGER_COLUMNS)
    by_channel = dict.fromkeys(CHANNELS, 0)
    async for w in rows:
        by_channel[w.channel] = by_channel.get(w.channel, 0) + 1
        sheet.row(
            [
                words.name(w.erased, w.name),
                mask_phone(w.phone) if mask else w.phone,
                w.town,
                w.enterprise,
                words.province(w.hukou_province),
                w.hukou_city,
                w.enrolled_at.astimezone(zone).date(),
                words.channel(w.channel),
                words.plan(w.plan),
                words.needs(w.needs),
                words.place(w.destination_province, w.destination_city),
                w.depart_date,
                w.return_date,
                words.transport(w.transport),
                w.checked_on,
            ]
        )
    return by_channel


async def _checkins(sheet: _Sheet, rows: AsyncIterator[exports.CheckInRow]) -> None:
    words = sheet.book.words
    sheet.header(CHECKIN_COLUMNS)
    async for c in rows:
        sheet.row(
            [
                c.day,
                c.created_at,
                words.name(c.erased, c.name),
                c.town,
                c.enterprise,
                words.plan(c.plan),
                words.needs(c.needs),
                words.place(c.destination_province, c.destination_city),
                c.depart_date,
                c.return_date,
                words.transport(c.transport),
                c.note,
            ]
        )


async def _deliveries(sheet: _Sheet, rows: AsyncIterator[exports.RunRow]) -> None:
    words = sheet.book.words
    sheet.header(DELIVERY_COLUMNS)
    async for run in rows:
        sheet.row(
            [
                run.broadcast_id,
                words.channel(run.channel),
                words(KINDS[run.kind]),
                words.content(run.kind, run.text, run.message),
                run.created_at,
                run.due_at,
                run.finished_at,
                run.recipients,
                run.counts[DeliveryStatus.SENT],
                run.counts[DeliveryStatus.BLOCKED],
                run.counts[DeliveryStatus.FAILED],
                run.counts[DeliveryStatus.PENDING],
            ]
        )


async def _requests(sheet: _Sheet, rows: AsyncIterator[requests.RequestRow]) -> None:
    words = sheet.book.words
    sheet.header(REQUEST_COLUMNS)
    async for r in rows:
        sheet.row(
            [
                r.number,
                r.created_at,
                words(CATEGORY_LABELS[r.category]),
                words(REQUEST_SOURCES[r.source]),
                words(REQUEST_STATUS_LABELS[r.status]),
                r.town,
                r.enterprise,
                words.name(r.erased, r.name),
                r.description or (words(VOICE_LABEL) if r.voice else None),
                words.yes_no(r.anonymous),
                r.answered_at,
                r.finished_at,
            ]
        )


def _summary(
    sheet: _Sheet,
    days: Sequence[stats.DayTotals],
    scope: list[tuple[str, Cell]],
) -> None:
    """The day table on the left; what the export covers beside it, on the right.

    Each day counts every enterprise due to report: its report of the day, or its last
    figures carried forward (沿用), as /stats and /trend count them."""
    book = sheet.book
    sheet.header(SUMMARY_COLUMNS)
    label, value = SCOPE_COLUMN, SCOPE_COLUMN + 1
    # The scope's first line shares the header row, the rest follow the days'.
    first_label, first_value = scope[0]
    sheet.put(HEADER_ROW, label, first_label, book.bold)
    sheet.put(HEADER_ROW, value, first_value)
    for day, line in zip_longest(days, scope[1:]):
        row = sheet.next_row
        if day is not None:
            totals = day.totals
            sheet.row(
                [
                    day.day,
                    day.due,
                    day.reported,
                    day.reported / day.due if day.due else None,
                    day.carried,
                    totals.total,
                    totals.staying,
                    totals.gone_home,
                    totals.undecided,
                    totals.on_duty,
                    totals.new_arrivals,
                ]
            )
        else:
            sheet.next_row += 1
        if line is not None:
            sheet.put(row, label, line[0], book.bold)
            sheet.put(row, value, line[1])
    # Rows of the scope under the last day are not data.
    sheet.next_row = HEADER_ROW + 1 + len(days)


def _scope_lines(
    words: _Words,
    *,
    scope: Scope,
    town: str | None,
    rows: dict[str, int],
    workers_by_channel: dict[str, int],
) -> list[tuple[str, Cell]]:
    if scope.first is None and scope.last is None:
        period = words(N_("export.scope.all_dates"))
    else:
        ends = [d.isoformat() if d else "…" for d in (scope.first, scope.last)]
        period = " – ".join(ends)
    phones = N_("export.scope.masked") if scope.mask_phones else N_("export.scope.unmasked")
    lines: list[tuple[str, Cell]] = [
        (words(N_("export.scope.period")), period),
        (words(N_("export.scope.town")), town or words(N_("export.scope.district"))),
        (words(N_("export.scope.phones")), words(phones)),
        (words(N_("export.scope.rows")), None),
    ]
    for sheet, count in rows.items():
        lines.append((words(SHEETS[sheet]), count))
        if sheet == "ledger":
            # The people the ledger lists, by the channel they reach the bot by.
            lines += [
                (words.channel_share(channel), workers)
                for channel, workers in workers_by_channel.items()
            ]
    return lines


# The workbook ---------------------------------------------------------------------------------


async def _write(
    sessions: async_sessionmaker[AsyncSession],
    target: Path | BinaryIO,
    *,
    catalogs: Catalogs,
    scope: Scope,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, int]:
    """Write every sheet; returns the data rows of each, by sheet id."""
    first, last, town_id = scope.first, scope.last, scope.town_id
    if first is not None and last is not None and last < first:
        raise ValueError(f"the export's last day {last} is before its first {first}")
    words = _Words(catalogs, scope.language)
    book = _Book(target, words, zone, issuer=scope.issuer, made_at=now)
    sheets = {sheet_id: _Sheet(book, key) for sheet_id, key in SHEETS.items()}
    async with exports.snapshot(sessions) as session:
        town = await organisation.get_town(session, town_id) if town_id is not None else None
        span = await exports.report_span(session, town_id)
        days: list[stats.DayTotals] = []
        if span is not None or (first is not None and last is not None):
            start = first or (span[0] if span else None)
            end = last or (span[1] if span else None)
            if start is not None and end is not None and start <= end:
                days = await stats.trend(session, start, end, town_id, zone=zone)
        models = await nominations.model_enterprise_names(session)
        await _reports(
            sheets["reports"], exports.report_rows(session, first, last, town_id), models
        )
        # The reconciliation of the export's last day (today when open-ended).
        reconciled_on = last or now.astimezone(zone).date()
        picture = await stats.picture(session, reconciled_on, town_id, zone=zone)
        _reconciliation(sheets["reconciliation"], reconciled_on, picture.gaps, models)
        workers_by_channel = await _ledger(
            sheets["ledger"], exports.ledger_rows(session, last, town_id), scope.mask_phones
        )
        await _checkins(sheets["checkins"], exports.checkin_rows(session, first, last, town_id))
        await _deliveries(
            sheets["deliveries"], exports.run_rows(session, first, last, town_id, zone=zone)
        )
        await _requests(
            sheets["requests"], requests.for_export(session, first, last, town_id, zone=zone)
        )
    rows = {
        sheet_id: sheet.data_rows for sheet_id, sheet in sheets.items() if sheet_id != "summary"
    }
    rows = {"summary": len(days), **rows}
    town_name = town.name if town else None if town_id is None else f"#{town_id}"
    lines = _scope_lines(
        words, scope=scope, town=town_name, rows=rows, workers_by_channel=workers_by_channel
    )
    _summary(sheets["summary"], days, lines)
    for sheet in sheets.values():
        sheet.finish()
    await book.close()
    return rows


async def write_workbook(
    sessions: async_sessionmaker[AsyncSession],
    target: Path | BinaryIO,
    *,
    catalogs: Catalogs,
    language: str,
    first: date | None,
    last: date | None,
    town_id: int | None,
    mask_phones: bool,
    zone: ZoneInfo,
    issuer: str,
    now: datetime | None = None,
) -> int:
    """Write the workbook to a file or a binary stream; returns the data rows written.

    first and last bound reports, check-ins and broadcast runs by local date (None: open);
    the ledger shows each worker's newest check-in up to `last`. town_id narrows everything
    to one town. Phones are masked unless mask_phones is False (administrators only).
    `issuer` is the unit the title rows name (campaign.issuer).
    """
    scope = Scope(first, last, town_id, mask_phones, language, issuer)
    written = await _write(
        sessions, target, catalogs=catalogs, scope=scope, zone=zone, now=now or datetime.now(UTC)
    )
    return sum(written.values())


async def export(
    sessions: async_sessionmaker[AsyncSession],
    target: Path | BinaryIO,
    *,
    actor_id: int | None,
    via: str,
    now: datetime,
    catalogs: Catalogs,
    language: str,
    first: date | None,
    last: date | None,
    town_id: int | None,
    mask_phones: bool,
    zone: ZoneInfo,
    issuer: str,
) -> int:
    """Write the workbook, then record the export in the audit log (who, when, what scope,
    how many rows); returns the data rows written."""
    scope = Scope(first, last, town_id, mask_phones, language, issuer)
    written = await _write(sessions, target, catalogs=catalogs, scope=scope, zone=zone, now=now)
    rows = sum(written.values())
    async with sessions() as session, session.begin():
        await audit.record(
            session,
            audit.Action.EXPORT,
            now,
            actor_id=actor_id,
            via=via,
            scope=scope.to_json(written),
            rows=rows,
        )
    return rows
