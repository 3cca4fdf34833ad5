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
from models.checkins import CheckIn, Plan
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

    @property
    def missing(self) -> int:
        """Active enterprises without a report for the day."""
        return self.enterprises - self.on_time - self.late


@dataclass(frozen=True)
class Picture:
    """What staff see with /stats for one day."""

    day: date
    district: Line
    previous: Totals
    towns: list[Line]
    workers: int
    plans: dict[Plan | None, int]  # None: no check-in yet
    letter_read: int
    models: list[str] = field(default_factory=list)  # enterprises selected as models


@dataclass(frozen=True)
class Active:
    """An active enterprise with its town."""

    id: int
    name: str
    town_id: int
    town: str
    contact_name: str | None = None
    contact_phone: str | None = None


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


def _line(name: str, enterprises: Sequence[Active], reports: dict[int, Report]) -> Line:
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
    return Line(name, len(enterprises), on_time, late, totals)


def _workers(town_id: int | None) -> list[ColumnElement[bool]]:
    conditions = [Person.role == Role.WORKER, Person.erased_at.is_(None)]
    if town_id is not None:
        in_town = select(Enterprise.id).where(Enterprise.town_id == town_id)
        conditions.append(Person.enterprise_id.in_(in_town))
    return conditions


async def current_plans(
    session: AsyncSession, day: date, town_id: int | None = None, *, by_enterprise: bool = False
) -> dict[tuple[int | None, Plan | None], int]:
    """Workers by (enterprise, plan of their newest check-in up to the day); None: no check-in."""
    newest = (
        select(func.max(CheckIn.id).label("id"))
        .where(CheckIn.local_date <= day)
        .group_by(CheckIn.person_id)
        .subquery()
    )
    plans = (
        select(CheckIn.person_id, CheckIn.plan).join(newest, newest.c.id == CheckIn.id).subquery()
    )
    query = (
        select(Person.enterprise_id, plans.c.plan, func.count(Person.id))
        .select_from(Person)
        .outerjoin(plans, plans.c.person_id == Person.id)
        .where(*_workers(town_id))
        .group_by(Person.enterprise_id, plans.c.plan)
    )
    found: dict[tuple[int | None, Plan | None], int] = {}
    for enterprise_id, plan, count in await session.execute(query):
        key = (enterprise_id if by_enterprise else None, Plan(plan) if plan else None)
        found[key] = found.get(key, 0) + int(count)
    return found


async def picture(session: AsyncSession, day: date, town_id: int | None = None) -> Picture:
    """The day's picture (of one town, for a town officer)."""
    enterprises = await active_enterprises(session, town_id)
    reports = await newest_reports(session, day - timedelta(days=1), day, town_id)
    today = {r.enterprise_id: r for r in reports if r.local_date == day}
    yesterday = {r.enterprise_id: r for r in reports if r.local_date != day}
    by_town: dict[tuple[str, int], list[Active]] = {}
    for enterprise in enterprises:
        by_town.setdefault((enterprise.town, enterprise.town_id), []).append(enterprise)
    towns = [_line(name, members, today) for (name, _), members in sorted(by_town.items())]
    plans = await current_plans(session, day, town_id)
    workers = sum(plans.values())
    read = await session.scalar(
        select(func.count(LetterRead.person_id))
        .join(Person, Person.id == LetterRead.person_id)
        .where(*_workers(town_id))
    )
    selected = await model_enterprise_ids(session)
    return Picture(
        models=[e.name for e in enterprises if e.id in selected],
        day=day,
        district=_line("", enterprises, today),
        previous=_line("", enterprises, yesterday).totals,
        towns=towns,
        workers=workers,
        plans={plan: count for (_, plan), count in plans.items()},
        letter_read=int(read or 0),
    )


async def missing(session: AsyncSession, day: date, town_id: int | None = None) -> list[Active]:
    """Active enterprises without a report for the day."""
    reported = {r.enterprise_id for r in await newest_reports(session, day, day, town_id)}
    return [e for e in await active_enterprises(session, town_id) if e.id not in reported]


async def gaps(session: AsyncSession, day: date, town_id: int | None = None) -> list[Gap]:
    """Each enterprise's report beside its workers' check-ins, the widest gaps first."""
    enterprises = await active_enterprises(session, town_id)
    reports = {r.enterprise_id: r for r in await newest_reports(session, day, day, town_id)}
    said: dict[int, dict[Plan | None, int]] = {}
    for (enterprise_id, plan), count in (
        await current_plans(session, day, town_id, by_enterprise=True)
    ).items():
        if enterprise_id is not None:
            said.setdefault(enterprise_id, {})[plan] = count
    found = [
        Gap(
            e,
            Totals.of(reports[e.id]) if e.id in reports else None,
            said.get(e.id, {}),
        )
        for e in enterprises
    ]
    return sorted(found, key=lambda gap: (-gap.size, gap.enterprise.town, gap.enterprise.name))


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
