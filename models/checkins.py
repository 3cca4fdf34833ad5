"""Workers' stay-or-return check-ins: every confirmed answer is a row, the latest is the plan."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import cast

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import Subquery

from models.base import Base, UTCDateTime
from models.people import enum_column


class Plan(StrEnum):
    """A worker's holiday plan (在本地过年 / 返乡 / 未定)."""

    STAY = "stay"
    RETURN = "return"
    UNDECIDED = "undecided"


class Need(StrEnum):
    """What a staying worker lacks."""

    HEATING = "heating"
    FOOD = "food"
    HOUSING = "housing"
    TRANSPORT = "transport"
    WAGES = "wages"
    HEALTH = "health"


class Transport(StrEnum):
    """How a worker travels home."""

    TRAIN = "train"
    COACH = "coach"
    PLANE = "plane"
    CAR = "car"
    OTHER = "other"


class CheckIn(Base):
    """One confirmed stay-or-return answer; the ledger's movements are these rows in order."""

    __tablename__ = "checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    local_date: Mapped[date] = mapped_column(Date, index=True)
    plan: Mapped[Plan] = mapped_column(enum_column(Plan))
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(String(1000))
    destination_province: Mapped[str | None] = mapped_column(String(8))
    destination_city: Mapped[str | None] = mapped_column(String(64))
    depart_date: Mapped[date | None] = mapped_column(Date)
    return_date: Mapped[date | None] = mapped_column(Date)
    transport: Mapped[Transport | None] = mapped_column(enum_column(Transport))
    ask_again_on: Mapped[date | None] = mapped_column(Date)


_TABLE = cast(Table, CheckIn.__table__)
_COLUMNS = [column.key for column in _TABLE.columns if column.key != "id"]
# Built once: a check-in is written on an update's path, and nothing changes it afterwards,
# so one INSERT does what the session's unit of work (add, flush) did at several times the
# cost (bench/checkin_throughput.py).
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


async def add(session: AsyncSession, checkin: CheckIn) -> CheckIn:
    """Store a confirmed check-in and give it its id."""
    values = {key: getattr(checkin, key) for key in _COLUMNS}
    checkin.id = (await session.execute(_INSERT, values)).scalar_one()
    return checkin


def newest_ids(last: date | None = None) -> Subquery:
    """Each person's newest check-in up to a local date, as (person_id, id) rows.

    Outer-join people to it on person_id, then checkins on id. Joined the other way round
    (checkins to this first, that result to people) SQLite scans the joined result once per
    person: seconds at 5,000 workers (bench/reporting.py).
    """
    newest = select(CheckIn.person_id, func.max(CheckIn.id).label("id"))
    if last is not None:
        newest = newest.where(CheckIn.local_date <= last)
    return newest.group_by(CheckIn.person_id).subquery()


async def latest(session: AsyncSession, person_id: int) -> CheckIn | None:
    """The person's current plan: their most recent check-in."""
    return await session.scalar(
        select(CheckIn)
        .where(CheckIn.person_id == person_id)
        .order_by(CheckIn.created_at.desc(), CheckIn.id.desc())
        .limit(1)
    )


async def history(session: AsyncSession, person_id: int, limit: int | None = 10) -> list[CheckIn]:
    """The person's most recent check-ins (every one with no limit), newest first."""
    rows = await session.scalars(
        select(CheckIn)
        .where(CheckIn.person_id == person_id)
        .order_by(CheckIn.created_at.desc(), CheckIn.id.desc())
        .limit(limit)
    )
    return list(rows)
