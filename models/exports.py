"""What the Excel export reads: every table as a stream of plain rows, in the sheet's order.

Each query is streamed (a server-side cursor on PostgreSQL, chunks on SQLite) and yields
small frozen rows of columns, never ORM objects, so memory stays the same for 500 workers
or 50,000. A town narrows every query to that town's enterprises; dates narrow reports and
check-ins by their local date, deliveries by the local date their run was due. The daily
totals are models.stats.trend's, which carries unreported enterprises' figures forward.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from models import checkins
from models.broadcasts import Broadcast, BroadcastRun, ContentKind, Delivery, DeliveryStatus
from models.checkins import CheckIn, Plan, Transport
from models.db import SQLITE_READ_ONLY
from models.organisation import Enterprise, Town
from models.people import Person, Role
from models.reports import Headcount, Report

# Rows fetched per round trip: enough to amortise it, few enough to keep memory small.
CHUNK = 1000


@dataclass(frozen=True)
class ReportRow(Headcount):
    """One revision of an enterprise's daily report."""

    day: date
    town: str
    enterprise: str
    revision: int
    total: int
    staying: int
    gone_home: int
    on_duty: int
    new_arrivals: int
    needs: str | None
    submitted_by: str | None
    submitted_at: datetime
    late: bool


@dataclass(frozen=True)
class LedgerRow:
    """A worker in the real-name ledger with their current plan (None: never checked in).

    An erased worker keeps their row and plan with every personal field None.
    """

    person_id: int
    erased: bool
    name: str | None
    phone: str | None
    enterprise: str | None
    town: str | None
    hukou_province: str | None
    hukou_city: str | None
    enrolled_at: datetime
    channel: str  # how the worker reaches the bot (models.people.CHANNELS)
    plan: Plan | None
    needs: tuple[str, ...]
    destination_province: str | None
    destination_city: str | None
    depart_date: date | None
    return_date: date | None
    transport: Transport | None
    checked_on: date | None


@dataclass(frozen=True)
class CheckInRow:
    """One check-in, as the worker confirmed it."""

    person_id: int
    erased: bool
    name: str | None
    enterprise: str | None
    town: str | None
    day: date
    created_at: datetime
    plan: Plan
    needs: tuple[str, ...]
    destination_province: str | None
    destination_city: str | None
    depart_date: date | None
    return_date: date | None
    transport: Transport | None
    note: str | None


@dataclass(frozen=True)
class RunRow:
    """One run of a broadcast with how its deliveries on one channel (in the town) ended so
    far; a run with no delivery at all has one row, of no channel."""

    broadcast_id: int
    run_id: int
    channel: str | None
    kind: ContentKind
    text: str | None
    message: dict[str, Any] | None  # a catalog message's stored text (handlers/outbox.py)
    created_at: datetime
    due_at: datetime
    finished_at: datetime | None
    counts: dict[DeliveryStatus, int]

    @property
    def recipients(self) -> int:
        """Every delivery of the run."""
        return sum(self.counts.values())


@asynccontextmanager
async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A read-only session on one consistent view of the database, for a whole export.

    PostgreSQL: a read-only REPEATABLE READ transaction, so every sheet agrees with the others.
    SQLite (WAL): a deferred transaction, whose first read fixes the snapshot, and which does
    not take the write lock, so a long export from the command line holds up no writer.
    """
    async with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            options: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}
            options["postgresql_readonly"] = True
        else:
            options = {SQLITE_READ_ONLY: True}
        await session.connection(execution_options=options)
        yield session


def _in_town(town_id: int | None) -> Select[int] | None:
    return None if town_id is None else select(Enterprise.id).where(Enterprise.town_id == town_id)


async def stream_rows(
    session: AsyncSession, query: Select[*tuple[Any, ...]]
) -> AsyncIterator[tuple[Any, ...]]:
    """The query's rows as tuples, fetched CHUNK at a time."""
    result = await session.stream(query.execution_options(yield_per=CHUNK))
    # A chunk per await: the rows of one chunk cost no switch to the database's greenlet.
    async for chunk in result.partitions():
        for row in chunk:
            yield tuple(row)


# The summary ---------------------------------------------------------------------------------


async def report_span(
    session: AsyncSession, town_id: int | None = None
) -> tuple[date, date] | None:
    """The first and last day any report (of the town) is for; None without reports."""
    query = select(func.min(Report.local_date), func.max(Report.local_date))
    in_town = _in_town(town_id)
    if in_town is not None:
        query = query.where(Report.enterprise_id.in_(in_town))
    first, last = (await session.execute(query)).one()
    return (first, last) if first is not None and last is not None else None


# Daily reports -------------------------------------------------------------------------------


async def report_rows(
    session: AsyncSession, first: date | None, last: date | None, town_id: int | None = None
) -> AsyncIterator[ReportRow]:
    """Each enterprise's report of each day in the dates (of the town): its newest revision,
    the one the day's figures count, so a column's sum is the district's figure."""
    conditions = []
    if first is not None:
        conditions.append(Report.local_date >= first)
    if last is not None:
        conditions.append(Report.local_date <= last)
    newest = (
        select(Report.enterprise_id, Report.local_date, func.max(Report.revision).label("rev"))
        .where(*conditions)
        .group_by(Report.enterprise_id, Report.local_date)
        .subquery()
    )
    submitter = aliased(Person)
    query = (
        select(
            Report.local_date,
            Town.name,
            Enterprise.name,
            Report.revision,
            Report.total,
            Report.staying,
            Report.gone_home,
            Report.on_duty,
            Report.new_arrivals,
            Report.needs,
            submitter.full_name,
            Report.submitted_at,
            Report.late,
        )
        .join(Enterprise, Enterprise.id == Report.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .outerjoin(submitter, submitter.id == Report.submitted_by)
        .join(
            newest,
            and_(
                newest.c.enterprise_id == Report.enterprise_id,
                newest.c.local_date == Report.local_date,
                newest.c.rev == Report.revision,
            ),
        )
        .order_by(Report.local_date, Town.name, Enterprise.name)
    )
    if town_id is not None:
        query = query.where(Enterprise.town_id == town_id)
    async for row in stream_rows(session, query):
        (day, town, enterprise, revision, total, staying, gone_home, on_duty, new) = row[:9]
        needs, by, at, late = row[9:]
        yield ReportRow(
            day=_date(day),
            town=str(town),
            enterprise=str(enterprise),
            revision=_int(revision),
            total=_int(total),
            staying=_int(staying),
            gone_home=_int(gone_home),
            on_duty=_int(on_duty),
            new_arrivals=_int(new),
            needs=_text(needs),
            submitted_by=_text(by),
            submitted_at=_moment(at),
            late=bool(late),
        )


# The real-name ledger ------------------------------------------------------------------------


async def ledger_rows(
    session: AsyncSession, last: date | None = None, town_id: int | None = None
) -> AsyncIterator[LedgerRow]:
    """Every worker (of the town) with their newest check-in up to `last`, by town,
    enterprise and enrolment; workers of no enterprise come last."""
    current = checkins.newest_ids(last)
    query = (
        select(
            Person.id,
            Person.erased_at,
            Person.full_name,
            Person.phone,
            Enterprise.name,
            Town.name,
            Person.hukou_province,
            Person.hukou_city,
            Person.enrolled_at,
            Person.channel,
            CheckIn.plan,
            CheckIn.needs,
            CheckIn.destination_province,
            CheckIn.destination_city,
            CheckIn.depart_date,
            CheckIn.return_date,
            CheckIn.transport,
            CheckIn.local_date,
        )
        .select_from(Person)
        .outerjoin(Enterprise, Enterprise.id == Person.enterprise_id)
        .outerjoin(Town, Town.id == Enterprise.town_id)
        .outerjoin(current, current.c.person_id == Person.id)
        .outerjoin(CheckIn, CheckIn.id == current.c.id)
        .where(Person.role == Role.WORKER)
        # NULLs sort first on SQLite and last on PostgreSQL: say where they go.
        .order_by(Town.id.is_(None), Town.name, Enterprise.name, Person.id)
    )
    if town_id is not None:
        query = query.where(Enterprise.town_id == town_id)
    async for row in stream_rows(session, query):
        (person_id, erased_at, name, phone, enterprise, town, province, city, enrolled) = row[:9]
        channel, plan, needs, to_province, to_city, depart, back, transport, checked_on = row[9:]
        erased = erased_at is not None
        yield LedgerRow(
            person_id=_int(person_id),
            erased=erased,
            name=None if erased else _text(name),
            phone=None if erased else _text(phone),
            enterprise=_text(enterprise),
            town=_text(town),
            hukou_province=None if erased else _text(province),
            hukou_city=None if erased else _text(city),
            enrolled_at=_moment(enrolled),
            channel=str(channel),
            plan=Plan(str(plan)) if plan else None,
            needs=_needs(needs),
            destination_province=None if erased else _text(to_province),
            destination_city=None if erased else _text(to_city),
            depart_date=_maybe_date(depart),
            return_date=_maybe_date(back),
            transport=Transport(str(transport)) if transport else None,
            checked_on=_maybe_date(checked_on),
        )


# Check-in history ----------------------------------------------------------------------------


async def checkin_rows(
    session: AsyncSession, first: date | None, last: date | None, town_id: int | None = None
) -> AsyncIterator[CheckInRow]:
    """Every check-in in the dates (made at an enterprise of the town), oldest first."""
    query = (
        select(
            CheckIn.person_id,
            Person.erased_at,
            Person.full_name,
            Enterprise.name,
            Town.name,
            CheckIn.local_date,
            CheckIn.created_at,
            CheckIn.plan,
            CheckIn.needs,
            CheckIn.destination_province,
            CheckIn.destination_city,
            CheckIn.depart_date,
            CheckIn.return_date,
            CheckIn.transport,
            CheckIn.note,
        )
        .join(Person, Person.id == CheckIn.person_id)
        .outerjoin(Enterprise, Enterprise.id == CheckIn.enterprise_id)
        .outerjoin(Town, Town.id == Enterprise.town_id)
        .order_by(CheckIn.local_date, CheckIn.id)
    )
    if first is not None:
        query = query.where(CheckIn.local_date >= first)
    if last is not None:
        query = query.where(CheckIn.local_date <= last)
    if town_id is not None:
        query = query.where(Enterprise.town_id == town_id)
    async for row in stream_rows(session, query):
        (person_id, erased_at, name, enterprise, town, day, created, plan, needs) = row[:9]
        to_province, to_city, depart, back, transport, note = row[9:]
        erased = erased_at is not None
        yield CheckInRow(
            person_id=_int(person_id),
            erased=erased,
            name=None if erased else _text(name),
            enterprise=_text(enterprise),
            town=_text(town),
            day=_date(day),
            created_at=_moment(created),
            plan=Plan(str(plan)),
            needs=_needs(needs),
            destination_province=None if erased else _text(to_province),
            destination_city=None if erased else _text(to_city),
            depart_date=_maybe_date(depart),
            return_date=_maybe_date(back),
            transport=Transport(str(transport)) if transport else None,
            note=None if erased else _text(note),
        )


# Deliveries per broadcast --------------------------------------------------------------------


def local_bounds(
    first: date | None, last: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """The moments the first local day starts and the day after the last starts."""
    start = datetime.combine(first, time(0), zone) if first is not None else None
    end = datetime.combine(last + timedelta(days=1), time(0), zone) if last is not None else None
    return start, end


async def run_rows(
    session: AsyncSession,
    first: date | None,
    last: date | None,
    town_id: int | None = None,
    *,
    zone: ZoneInfo,
) -> AsyncIterator[RunRow]:
    """Every broadcast run due in the local dates with its deliveries counted by channel and
    status, in the order they were due (a row per run and channel). With a town: only
    deliveries to its people, and only runs that had some."""
    counted = select(
        Delivery.run_id, Delivery.channel, Delivery.status, func.count(Delivery.id).label("n")
    )
    if town_id is not None:
        counted = (
            counted.join(Person, Person.id == Delivery.person_id)
            .outerjoin(Enterprise, Enterprise.id == Person.enterprise_id)
            .where(or_(Enterprise.town_id == town_id, Person.town_id == town_id))
        )
    counts = counted.group_by(Delivery.run_id, Delivery.channel, Delivery.status).subquery()
    query = (
        select(
            Broadcast.id,
            BroadcastRun.id,
            Broadcast.content_kind,
            Broadcast.text,
            Broadcast.message,
            Broadcast.created_at,
            BroadcastRun.due_at,
            BroadcastRun.finished_at,
            counts.c.channel,
            counts.c.status,
            counts.c.n,
        )
        .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
        .outerjoin(counts, counts.c.run_id == BroadcastRun.id)
        .order_by(BroadcastRun.due_at, BroadcastRun.id, counts.c.channel)
    )
    start, end = local_bounds(first, last, zone)
    if start is not None:
        query = query.where(BroadcastRun.due_at >= start)
    if end is not None:
        query = query.where(BroadcastRun.due_at < end)
    if town_id is not None:
        query = query.where(counts.c.run_id.is_not(None))
    pending: RunRow | None = None
    async for row in stream_rows(session, query):
        broadcast_id, run_id, kind, text, message, created, due, finished, channel, status, n = row
        if pending is None or (pending.run_id, pending.channel) != (run_id, channel):
            if pending is not None:
                yield pending
            pending = RunRow(
                broadcast_id=_int(broadcast_id),
                run_id=_int(run_id),
                channel=_text(channel),
                kind=ContentKind(str(kind)),
                text=_text(text),
                message=message if isinstance(message, dict) else None,
                created_at=_moment(created),
                due_at=_moment(due),
                finished_at=_moment(finished) if finished is not None else None,
                counts=dict.fromkeys(DeliveryStatus, 0),
            )
        if status is not None:
            pending.counts[DeliveryStatus(str(status))] = _int(n)
    if pending is not None:
        yield pending


# Values from rows ----------------------------------------------------------------------------


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _date(value: object) -> date:
    assert isinstance(value, date)
    return value


def _maybe_date(value: object) -> date | None:
    return value if isinstance(value, date) else None


def _moment(value: object) -> datetime:
    assert isinstance(value, datetime)
    return value


def _needs(value: object) -> tuple[str, ...]:
    return tuple(str(need) for need in value) if isinstance(value, list) else ()
