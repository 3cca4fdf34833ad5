"""The day's picture for staff: who reported, the totals by town, and the workers' own word.

Every figure counts the newest revision of each enterprise's report for the day; a town
officer's view is the same query narrowed to their town. Enterprises are few (hundreds),
so reports are summed here after one query; workers are many, so they are counted in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from models.broadcasts import LetterRead
from models.checkins import CheckIn, Plan, newest_ids
from models.nominations import model_enterprise_ids
from models.organisation import Enterprise, Town
from models.people import Person, Role
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


@dataclass(frozen=True)
class Line:
    """Reporting and totals for a group of enterprises (the district, or one town)."""

    name: str
    enterprises: int
    on_time: int
    late: int
    totals: Totals
    before: Totals  # the same enterprises' totals the day before

    @property
    def missing(self) -> int:
        """Active enterprises without a report for the day."""
        return self.enterprises - self.on_time - self.late


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
        Active(e.id, e.name, e.town_id, town, e.contact_name, e.contact_phone)
        for e, town in await session.execute(query)
    ]


async def newest_reports(
    session: AsyncSession, first: date, last: date, town_id: int | None = None
) -> list[Report]:
    """The newest revision of each enterprise's report for each day from first to last."""
    newest = (
        select(Report.enterprise_id, Report.local_date, func.max(Report.revision).label("rev"))
        .where(Report.local_date >= first, Report.local_date <= last)
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
        in_town = select(Enterprise.id).where(Enterprise.town_id == town_id)
        query = query.where(Report.enterprise_id.in_(in_town))
    return list(await session.scalars(query))


def _line(
    name: str,
    enterprises: Sequence[Active],
    reports: dict[int, Report],
    before: dict[int, Report],
) -> Line:
    on_time = late = 0
    totals = Totals()
    for enterprise in enterprises:
        report = reports.get(enterprise.id)
        if report is None:
            continue
        if report.late:
            late += 1
        else:
            on_time += 1
        totals += Totals.of(report)
    previous = _sum(before[e.id] for e in enterprises if e.id in before)
    return Line(name, len(enterprises), on_time, late, totals, previous)


def _workers(town_id: int | None) -> list[ColumnElement[bool]]:
    conditions = [Person.role == Role.WORKER, Person.erased_at.is_(None)]
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
        .where(*_workers(town_id))
        .group_by(Person.enterprise_id, CheckIn.plan)
    )
    found: dict[int | None, dict[Plan | None, int]] = {}
    for enterprise_id, plan, count in await session.execute(query):
        found.setdefault(enterprise_id, {})[Plan(plan) if plan else None] = int(count)
    return found


async def picture(session: AsyncSession, day: date, town_id: int | None = None) -> Picture:
    """The day's picture (of one town, for a town officer), each query run once."""
    enterprises = await active_enterprises(session, town_id)
    reports = await newest_reports(session, day - timedelta(days=1), day, town_id)
    today = {r.enterprise_id: r for r in reports if r.local_date == day}
    yesterday = {r.enterprise_id: r for r in reports if r.local_date != day}
    by_town: dict[tuple[str, int], list[Active]] = {}
    for enterprise in enterprises:
        by_town.setdefault((enterprise.town, enterprise.town_id), []).append(enterprise)
    towns = [
        _line(name, members, today, yesterday) for (name, _), members in sorted(by_town.items())
    ]
    said = await current_plans(session, day, town_id)
    plans: dict[Plan | None, int] = {}
    for counts in said.values():
        for plan, count in counts.items():
            plans[plan] = plans.get(plan, 0) + count
    read = await session.scalar(
        select(func.count(LetterRead.person_id))
        .join(Person, Person.id == LetterRead.person_id)
        .where(*_workers(town_id))
    )
    selected = await model_enterprise_ids(session)
    return Picture(
        models=[e.name for e in enterprises if e.id in selected],
        day=day,
        district=_line("", enterprises, today, yesterday),
        towns=towns,
        workers=sum(plans.values()),
        plans=plans,
        letter_read=int(read or 0),
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
    """One day of the trend."""

    day: date
    totals: Totals
    reported: int


async def trend(
    session: AsyncSession, first: date, last: date, town_id: int | None = None
) -> list[DayTotals]:
    """Totals of each day from first to last (days without reports count zero)."""
    by_day: dict[date, list[Report]] = {}
    for report in await newest_reports(session, first, last, town_id):
        by_day.setdefault(report.local_date, []).append(report)
    days: list[DayTotals] = []
    day = first
    while day <= last:
        reports = by_day.get(day, [])
        days.append(DayTotals(day, _sum(reports), len(reports)))
        day += timedelta(days=1)
    return days


def _sum(reports: Iterable[Report]) -> Totals:
    totals = Totals()
    for report in reports:
        totals += Totals.of(report)
    return totals
