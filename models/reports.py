"""Employers' daily headcount reports (日报), and what their workers said in their check-ins.

An enterprise's contact reports, for a local date: out-of-town workers in total, of whom
staying over the holiday, gone home and (the rest) undecided; on duty over the holiday (of
those staying); newly arrived since the last report; needs or difficulties. One report per
enterprise per day: sending again the same day writes the next revision and keeps the old
ones, so the newest revision is the day's figures. The rules between the figures are also
constraints of the table, so no writer can store figures that do not add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from models.base import Base, UTCDateTime
from models.checkins import CheckIn, Plan
from models.people import Person, Role

NEEDS_LENGTH = 1000
# Two contacts of one enterprise sending at the same instant: the later one takes the next
# revision number on a second try.
REVISION_ATTEMPTS = 3


class Report(Base):
    """One revision of an enterprise's figures for one local date."""

    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("enterprise_id", "local_date", "revision"),
        CheckConstraint(
            "total >= 0 AND staying >= 0 AND gone_home >= 0 AND on_duty >= 0 "
            "AND new_arrivals >= 0 AND revision >= 1",
            name="not_negative",
        ),
        CheckConstraint("staying + gone_home <= total", name="within_total"),
        CheckConstraint("on_duty <= staying", name="on_duty_staying"),
        CheckConstraint("new_arrivals <= total", name="new_arrivals_total"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"))
    local_date: Mapped[date] = mapped_column(Date, index=True)
    revision: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    staying: Mapped[int] = mapped_column(Integer)
    gone_home: Mapped[int] = mapped_column(Integer)
    on_duty: Mapped[int] = mapped_column(Integer)
    new_arrivals: Mapped[int] = mapped_column(Integer)
    needs: Mapped[str | None] = mapped_column(String(NEEDS_LENGTH))
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Submitted after the day's deadline.
    late: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def figures(self) -> Figures:
        """The revision's figures."""
        return Figures(
            self.total,
            self.staying,
            self.gone_home,
            self.on_duty,
            self.new_arrivals,
            self.needs,
        )


class Headcount:
    """What every set of report figures shares: the undecided are the rest of the total."""

    total: int
    staying: int
    gone_home: int

    @property
    def undecided(self) -> int:
        """Neither staying nor gone home (never negative when the figures are valid)."""
        return self.total - self.staying - self.gone_home


@dataclass(frozen=True)
class Figures(Headcount):
    """What a contact reports for a day."""

    total: int
    staying: int
    gone_home: int
    on_duty: int
    new_arrivals: int
    needs: str | None = None


async def submit(
    session: AsyncSession,
    figures: Figures,
    *,
    enterprise_id: int,
    local_date: date,
    submitted_by: int | None,
    now: datetime,
    late: bool,
) -> Report:
    """Store the figures as the day's next revision (1 for the day's first report)."""
    for attempt in range(REVISION_ATTEMPTS):
        newest = await session.scalar(
            select(func.max(Report.revision)).where(
                Report.enterprise_id == enterprise_id, Report.local_date == local_date
            )
        )
        report = Report(
            enterprise_id=enterprise_id,
            local_date=local_date,
            revision=int(newest or 0) + 1,
            total=figures.total,
            staying=figures.staying,
            gone_home=figures.gone_home,
            on_duty=figures.on_duty,
            new_arrivals=figures.new_arrivals,
            needs=figures.needs,
            submitted_by=submitted_by,
            submitted_at=now,
            late=late,
        )
        try:
            async with session.begin_nested():
                session.add(report)
        except IntegrityError:
            if attempt + 1 == REVISION_ATTEMPTS:
                raise
            continue
        return report
    raise AssertionError("unreachable")


async def latest(session: AsyncSession, enterprise_id: int, local_date: date) -> Report | None:
    """The day's newest revision, if the enterprise reported that day."""
    return await session.scalar(
        select(Report)
        .where(Report.enterprise_id == enterprise_id, Report.local_date == local_date)
        .order_by(Report.revision.desc())
        .limit(1)
    )


async def latest_before(session: AsyncSession, enterprise_id: int, day: date) -> Report | None:
    """The newest revision of the enterprise's last report before `day`."""
    return await session.scalar(
        select(Report)
        .where(Report.enterprise_id == enterprise_id, Report.local_date < day)
        .order_by(Report.local_date.desc(), Report.revision.desc())
        .limit(1)
    )


async def days(session: AsyncSession, enterprise_id: int, first: date, last: date) -> list[Report]:
    """The newest revision of each day the enterprise reported from `first` to `last`,
    newest day first (its `revision` says how many were sent that day)."""
    newest = (
        select(Report.local_date, func.max(Report.revision).label("revision"))
        .where(
            Report.enterprise_id == enterprise_id,
            Report.local_date >= first,
            Report.local_date <= last,
        )
        .group_by(Report.local_date)
        .subquery()
    )
    rows = await session.scalars(
        select(Report)
        .join(
            newest,
            (Report.local_date == newest.c.local_date) & (Report.revision == newest.c.revision),
        )
        .where(Report.enterprise_id == enterprise_id)
        .order_by(Report.local_date.desc())
    )
    return list(rows)


async def revisions(session: AsyncSession, enterprise_id: int, local_date: date) -> list[Report]:
    """Every revision of the day's report, oldest first."""
    rows = await session.scalars(
        select(Report)
        .where(Report.enterprise_id == enterprise_id, Report.local_date == local_date)
        .order_by(Report.revision)
    )
    return list(rows)


# What the enterprise's workers said ---------------------------------------------------------


@dataclass(frozen=True)
class WorkerPlan:
    """An enrolled worker with their current plan (None: not answered yet)."""

    person_id: int
    name: str | None
    plan: Plan | None
    checked_on: date | None
    ask_again_on: date | None

    def stale(self, before: date) -> bool:
        """Not answered, or last answered before the day."""
        return self.checked_on is None or self.checked_on < before


@dataclass(frozen=True)
class Tally:
    """How the enterprise's enrolled workers answered the check-in."""

    staying: int = 0
    going_home: int = 0
    undecided: int = 0
    not_answered: int = 0

    @property
    def workers(self) -> int:
        """Every enrolled worker."""
        return self.staying + self.going_home + self.undecided + self.not_answered


async def worker_plans(session: AsyncSession, enterprise_id: int) -> list[WorkerPlan]:
    """The enterprise's enrolled workers with their current plan, in enrolment order."""
    newest_id = _newest_checkin_id()
    rows = await session.execute(
        select(
            Person.id,
            Person.full_name,
            CheckIn.plan,
            CheckIn.local_date,
            CheckIn.ask_again_on,
        )
        .select_from(Person)
        .outerjoin(CheckIn, CheckIn.id == newest_id)
        .where(*_enrolled_workers(enterprise_id))
        .order_by(Person.id)
    )
    return [
        WorkerPlan(person_id, name, Plan(plan) if plan else None, checked_on, again)
        for person_id, name, plan, checked_on, again in rows
    ]


async def tally(session: AsyncSession, enterprise_id: int) -> Tally:
    """How many of the enterprise's enrolled workers stay, go home, are undecided or silent."""
    newest_id = _newest_checkin_id()
    rows = await session.execute(
        select(CheckIn.plan, func.count(Person.id))
        .select_from(Person)
        .outerjoin(CheckIn, CheckIn.id == newest_id)
        .where(*_enrolled_workers(enterprise_id))
        .group_by(CheckIn.plan)
    )
    counts: dict[Plan | None, int] = {plan: int(count) for plan, count in rows}
    return Tally(
        staying=counts.get(Plan.STAY, 0),
        going_home=counts.get(Plan.RETURN, 0),
        undecided=counts.get(Plan.UNDECIDED, 0),
        not_answered=counts.get(None, 0),
    )


def _newest_checkin_id() -> ScalarSelect[int]:
    """The id of the person's latest check-in, for the outer query's person."""
    newest = aliased(CheckIn)
    return (
        select(newest.id)
        .where(newest.person_id == Person.id)
        .order_by(newest.id.desc())
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )


def _enrolled_workers(enterprise_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        Person.enterprise_id == enterprise_id,
        Person.role == Role.WORKER,
        Person.erased_at.is_(None),
    )
