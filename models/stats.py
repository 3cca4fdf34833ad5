"""The day's picture for staff: who reported, the totals by town, and the workers' own word.

Every figure counts the newest revision of each enterprise's report for the day; an
enterprise that has not reported that day is never counted as zero: its last figures are
carried forward (沿用) and counted as carried, beside the reporting rate (应报 / 已报). An
enterprise is due to report (应报) on a day when it is active and existed by then (added
by that local day, or it had reported). A town officer's view is the same query narrowed to
their town. Enterprises are few (hundreds), so reports are summed here after one query;
workers are many, so they are counted in SQL. Workers who erased their data still count
by their check-ins, anonymised; an erased worker who never checked in is no longer counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from models.broadcasts import LetterRead
from models.checkins import CheckIn, Plan, newest_ids
from models.nominations import model_enterprise_ids
from models.organisation import Enterprise, Town
from models.people import CHANNELS, Person, Role
from models.reports import Headcount, Report


@dataclass(frozen=True)
class Totals(Headcount):
    """Summed figures of the reports."""

    total: int = 0
    staying: int = 0
    gone_home: int = 0
    on_duty: int = 0
    new_arrivals: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.total + other.total,
            self.staying + other.staying,
            self.gone_home + other.gone_home,
            self.on_duty + other.on_duty,
            self.new_arrivals + other.new_arrivals,
        )

    @classmethod
    def of(cls, report: Report) -> Totals:
        """One report's figures."""
        return cls(
            report.total, report.staying, report.gone_home, report.on_duty, report.new_arrivals
        )


def rate(reported: int, due: int) -> int | None:
    """The reporting rate (报送率) in whole percent; None when nobody was due."""
    return round(100 * reported / due) if due else None


@dataclass(frozen=True)
class Line:
    """Reporting and totals for a group of enterprises (the district, or one town)."""

    name: str
    enterprises: int  # due to report (应报)
    on_time: int
    late: int
    totals: Totals  # the day's reports and the carried figures of those that did not report
    before: Totals  # the same enterprises' totals the day before, counted the same way
    carried: int = 0  # enterprises not reported that day whose last figures are counted

    @property
    def reported(self) -> int:
        """Enterprises with a report for the day (已报)."""
        return self.on_time + self.late

    @property
    def missing(self) -> int:
        """Due enterprises without a report for the day."""
        return self.enterprises - self.reported

    @property
    def unknown(self) -> int:
        """Enterprises that have never reported: nothing to carry, counted nowhere."""
        return self.missing - self.carried

    @property
    def rate(self) -> int | None:
        """The reporting rate in whole percent."""
        return rate(self.reported, self.enterprises)


@dataclass(frozen=True)
class Gap:
    """An enterprise's reported figures beside what its own workers said in their check-ins."""

    enterprise: Active
    reported: Totals | None
    said: dict[Plan | None, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """How far the two accounts are apart (staying and gone home)."""
        if self.reported is None:
            return 0
        return abs(self.reported.staying - self.said.get(Plan.STAY, 0)) + abs(
            self.reported.gone_home - self.said.get(Plan.RETURN, 0)
        )


@dataclass(frozen=True)
class Picture:
    """What staff see with /stats for one day."""

    day: date
    district: Line
    towns: list[Line]
    workers: int
    plans: dict[Plan | None, int]  # None: no check-in yet
    letter_read: int
    # The readers of the letter on each channel (their sum is letter_read).
    letter_read_by_channel: dict[str, int] = field(default_factory=dict)
    models: list[str] = field(default_factory=list)  # enterprises selected as models
    # Each enterprise's report beside its workers' check-ins, the widest gaps first.
    gaps: list[Gap] = field(default_factory=list)

    @property
    def previous(self) -> Totals:
        """The district's totals the day before."""
        return self.district.before


@dataclass(frozen=True)
class Active:
    """An active enterprise with its town."""

    id: int
    name: str
    town_id: int
    town: str
    contact_name: str | None = None
    contact_phone: str | None = None
    created_at: datetime | None = None

    def due(self, day: date, zone: tzinfo, first_report: date | None) -> bool:
        """Whether the enterprise was due to report on the local day: added by its end, or
        reporting already (an enterprise imported later may have reported earlier days)."""
        if first_report is not None and first_report <= day:
            return True
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        return self.created_at is None or self.created_at < end


# Queries -----------------------------------------------------------------------------------


async def active_enterprises(session: AsyncSession, town_id: int | None = None) -> list[Active]:
    """Active enterprises (of one town), by town and name."""
    query = (
        select(Enterprise, Town.name)
        .join(Town, Town.id == Enterprise.town_id)
        .where(Enterprise.active.is_(True))
        .order_by(Town.name, Enterprise.name)
    )
    if town_id is not None:
        query = query.where(Enterprise.town_id == town_id)
    return [
        Active(e.id, e.name, e.town_id, town, e.contact_name, e.contact_phone, e.created_at)
        for e, town in await session.execute(query)
    ]


def _in_town(town_id: int) -> ColumnElement[bool]:
    return Report.enterprise_id.in_(select(Enterprise.id).where(Enterprise.town_id == town_id))


async def _newest_revisions(
    session: AsyncSession, picked: Select[int, date], town_id: int | None
) -> list[Report]:
    """The newest revision of each report whose enterprise and day `picked` selects."""
    newest = (
        picked.add_columns(func.max(Report.revision).label("rev"))
        .group_by(Report.enterprise_id, Report.local_date)
        .subquery()
    )
    query = select(Report).join(
        newest,
        and_(
            Report.enterprise_id == newest.c.enterprise_id,
            Report.local_date == newest.c.local_date,
            Report.revision == newest.c.rev,
        ),
    )
    if town_id is not None:
        query = query.where(_in_town(town_id))
    return list(await session.scalars(query))


async def newest_reports(
    session: AsyncSession, first: date, last: date, town_id: int | None = None
) -> list[Report]:
    """The newest revision of each enterprise's report for each day from first to last."""
    days = select(Report.enterprise_id, Report.local_date).where(
        Report.local_date >= first, Report.local_date <= last
    )
    return await _newest_revisions(session, days, town_id)


async def latest_reports(
    session: AsyncSession, day: date, town_id: int | None = None
) -> dict[int, Report]:
    """Each enterprise's newest report up to the day (the newest revision of its latest
    day): what is carried forward when it has not reported since."""
    latest = (
        select(Report.enterprise_id, func.max(Report.local_date).label("day"))
        .where(Report.local_date <= day)
        .group_by(Report.enterprise_id)
        .subquery()
    )
    days = select(Report.enterprise_id, Report.local_date).join(
        latest,
        and_(Report.enterprise_id == latest.c.enterprise_id, Report.local_date == latest.c.day),
    )
    found = await _newest_revisions(session, days, town_id)
    return {report.enterprise_id: report for report in found}


async def first_report_days(session: AsyncSession, town_id: int | None = None) -> dict[int, date]:
    """The first day each enterprise (of the town) reported for."""
    query = select(Report.enterprise_id, func.min(Report.local_date)).group_by(Report.enterprise_id)
    if town_id is not None:
        query = query.where(_in_town(town_id))
    return {enterprise_id: first for enterprise_id, first in await session.execute(query)}


def _line(
    name: str,
    enterprises: Sequence[Active],
    day: date,
    latest: dict[int, Report],
    before: dict[int, Report],
) -> Line:
    on_time = late = carried = 0
    totals = Totals()
    for enterprise in enterprises:
        report = latest.get(enterprise.id)
        if report is None:
            continue
        if report.local_date < day:
            carried += 1
        elif report.late:
            late += 1
        else:
            on_time += 1
        totals += Totals.of(report)
    previous = _sum(before[e.id] for e in enterprises if e.id in before)
    return Line(name, len(enterprises), on_time, late, totals, previous, carried)


def _counted_workers(
    town_id: int | None, checked_in: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """Workers (of the town) who count: everyone enrolled, and those who erased their data
    by the check-ins they made."""
    conditions = [Person.role == Role.WORKER, or_(Person.erased_at.is_(None), checked_in)]
    if town_id is not None:
        in_town = select(Enterprise.id).where(Enterprise.town_id == town_id)
        conditions.append(Person.enterprise_id.in_(in_town))
    return conditions


async def current_plans(
    session: AsyncSession, day: date, town_id: int | None = None
) -> dict[int | None, dict[Plan | None, int]]:
    """Workers by enterprise and the plan of their newest check-in up to the day (None: no
    check-in yet; workers of no enterprise under None)."""
    newest = newest_ids(day)
    query = (
        select(Person.enterprise_id, CheckIn.plan, func.count(Person.id))
        .select_from(Person)
        .outerjoin(newest, newest.c.person_id == Person.id)
        .outerjoin(CheckIn, CheckIn.id == newest.c.id)
        .where(*_counted_workers(town_id, CheckIn.id.is_not(None)))
        .group_by(Person.enterprise_id, CheckIn.plan)
    )
    found: dict[int | None, dict[Plan | None, int]] = {}
    for enterprise_id, plan, count in await session.execute(query):
        found.setdefault(enterprise_id, {})[Plan(plan) if plan else None] = int(count)
    return found


async def picture(
    session: AsyncSession, day: date, town_id: int | None = None, *, zone: tzinfo
) -> Picture:
    """The day's picture (of one town, for a town officer), each query run once; `zone` is
    the campaign's, whose local days say which enterprises were due."""
    first = await first_report_days(session, town_id)
    enterprises = [
        e for e in await active_enterprises(session, town_id) if e.due(day, zone, first.get(e.id))
    ]
    latest = await latest_reports(session, day, town_id)
    before = await latest_reports(session, day - timedelta(days=1), town_id)
    by_town: dict[tuple[str, int], list[Active]] = {}
    for enterprise in enterprises:
        by_town.setdefault((enterprise.town, enterprise.town_id), []).append(enterprise)
    towns = [
        _line(name, members, day, latest, before) for (name, _), members in sorted(by_town.items())
    ]
    said = await current_plans(session, day, town_id)
    plans: dict[Plan | None, int] = {}
    for counts in said.values():
        for plan, count in counts.items():
            plans[plan] = plans.get(plan, 0) + count
    checked_in = Person.id.in_(select(CheckIn.person_id).where(CheckIn.local_date <= day))
    read_by_channel = dict.fromkeys(CHANNELS, 0)
    for channel, count in await session.execute(
        select(Person.channel, func.count(LetterRead.person_id))
        .join(Person, Person.id == LetterRead.person_id)
        .where(*_counted_workers(town_id, checked_in))
        .group_by(Person.channel)
    ):
        read_by_channel[channel] = int(count)
    selected = await model_enterprise_ids(session)
    today = {e: r for e, r in latest.items() if r.local_date == day}
    return Picture(
        models=[e.name for e in enterprises if e.id in selected],
        day=day,
        district=_line("", enterprises, day, latest, before),
        towns=towns,
        workers=sum(plans.values()),
        plans=plans,
        letter_read=sum(read_by_channel.values()),
        letter_read_by_channel=read_by_channel,
        gaps=_gaps(enterprises, today, said),
    )


def _gaps(
    enterprises: Sequence[Active],
    reports: dict[int, Report],
    said: dict[int | None, dict[Plan | None, int]],
) -> list[Gap]:
    found = [
        Gap(e, Totals.of(reports[e.id]) if e.id in reports else None, said.get(e.id, {}))
        for e in enterprises
    ]
    return sorted(found, key=lambda gap: (-gap.size, gap.enterprise.town, gap.enterprise.name))


async def missing(session: AsyncSession, day: date, town_id: int | None = None) -> list[Active]:
    """Active enterprises without a report for the day."""
    reported = {r.enterprise_id for r in await newest_reports(session, day, day, town_id)}
    return [e for e in await active_enterprises(session, town_id) if e.id not in reported]


@dataclass(frozen=True)
class DayTotals:
    """One day of the trend: the day's reports with the carried figures of the rest."""

    day: date
    totals: Totals
    reported: int
    carried: int = 0
    due: int = 0

    @property
    def complete(self) -> bool:
        """Whether every enterprise due that day reported."""
        return self.reported >= self.due

    @property
    def rate(self) -> int | None:
        """The reporting rate in whole percent."""
        return rate(self.reported, self.due)


async def trend(
    session: AsyncSession,
    first: date,
    last: date,
    town_id: int | None = None,
    *,
    zone: tzinfo,
) -> list[DayTotals]:
    """Totals of each day from first to last: each due enterprise's report of the day, or
    its last figures carried forward (an enterprise that never reported counts nowhere)."""
    enterprises = await active_enterprises(session, town_id)
    starts = await first_report_days(session, town_id)
    carry = await latest_reports(session, first - timedelta(days=1), town_id)
    by_day: dict[date, dict[int, Report]] = {}
    for found in await newest_reports(session, first, last, town_id):
        by_day.setdefault(found.local_date, {})[found.enterprise_id] = found
    days: list[DayTotals] = []
    day = first
    while day <= last:
        reports = by_day.get(day, {})
        totals, reported, carried, due = Totals(), 0, 0, 0
        for enterprise in enterprises:
            report = reports.get(enterprise.id)
            if report is not None:
                carry[enterprise.id] = report
            if not enterprise.due(day, zone, starts.get(enterprise.id)):
                continue
            due += 1
            if report is not None:
                reported += 1
                totals += Totals.of(report)
            elif enterprise.id in carry:
                carried += 1
                totals += Totals.of(carry[enterprise.id])
        days.append(DayTotals(day, totals, reported, carried, due))
        day += timedelta(days=1)
    return days


def _sum(reports: Iterable[Report]) -> Totals:
    totals = Totals()
    for report in reports:
        totals += Totals.of(report)
    return totals
