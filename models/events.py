"""Event notices: an activity staff announce, with sign-up up to its capacity."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Event(Base):
    """An activity: a show, a visit, a dinner; online or at a place."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(300))
    capacity: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventSignup(Base):
    """A person signed up for an event."""

    __tablename__ = "event_signups"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignUp(StrEnum):
    """How a sign-up, or its cancelling, went."""

    DONE = "done"
    ALREADY = "already"
    FULL = "full"
    PAST = "past"
    GONE = "gone"
    CANCELLED = "cancelled"
    NOT_SIGNED = "not_signed"


async def add(session: AsyncSession, event: Event) -> Event:
    """Store a new event."""
    session.add(event)
    await session.flush()
    return event


async def get(session: AsyncSession, event_id: int) -> Event | None:
    """The event by id."""
    return await session.get(Event, event_id)


async def signups(session: AsyncSession, event_id: int) -> int:
    """How many people signed up."""
    count = select(func.count()).where(EventSignup.event_id == event_id)
    return int(await session.scalar(count) or 0)


async def _open_event(session: AsyncSession, event_id: int, now: datetime) -> Event | SignUp:
    """The event, locked (so two people cannot take the last place at once), while it has
    not started; else why not."""
    event = await session.scalar(select(Event).where(Event.id == event_id).with_for_update())
    if event is None:
        return SignUp.GONE
    if event.starts_at <= now:
        return SignUp.PAST
    return event


async def sign_up(session: AsyncSession, event_id: int, person_id: int, now: datetime) -> SignUp:
    """Sign the person up unless the event is full or over; full means full."""
    event = await _open_event(session, event_id, now)
    if isinstance(event, SignUp):
        return event
    taken = await session.scalar(
        select(func.count()).where(
            EventSignup.event_id == event_id, EventSignup.person_id == person_id
        )
    )
    if taken:
        return SignUp.ALREADY
    if event.capacity is not None and await signups(session, event_id) >= event.capacity:
        return SignUp.FULL
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(EventSignup)
        .values(event_id=event_id, person_id=person_id, signed_at=now)
        .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
    )
    return SignUp.DONE


async def cancel(session: AsyncSession, event_id: int, person_id: int, now: datetime) -> SignUp:
    """Take the person's sign-up back, while the event has not started; the place is free."""
    event = await _open_event(session, event_id, now)
    if isinstance(event, SignUp):
        return event
    removed = await session.execute(
        delete(EventSignup).where(
            EventSignup.event_id == event_id, EventSignup.person_id == person_id
        )
    )
    return SignUp.CANCELLED if getattr(removed, "rowcount", 0) else SignUp.NOT_SIGNED
