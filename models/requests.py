"""Workers' requests for help: what they lack or what went wrong, who handles it, the thread.

A request is routed once, when it is made: wage matters go to the district's labour
inspection (staff), everything else to the employer's contact, and to staff as well when
the contact has not answered within the configured time (the request is then *escalated*).
Every answer and reply is a message row; the request is open until the worker marks it
solved or staff close it. Who sees which requests is one rule (`Scope`, `staff_scope`), the
same for the open list and the export.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    func,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement, Select

from models import people
from models.base import Base, UTCDateTime
from models.exports import local_bounds, stream_rows
from models.organisation import Enterprise, Town
from models.people import Person, enum_column


class Category(StrEnum):
    """What a request is about."""

    WAGES = "wages"  # wages unpaid or late
    OVERTIME = "overtime"  # the subsidy due for holiday overtime
    HEATING = "heating"  # heating or warm clothes
    FOOD = "food"
    HOUSING = "housing"
    TRANSPORT = "transport"
    HEALTH = "health"
    OTHER = "other"


# Money the employer owes: labour inspection handles these, never the employer alone.
WAGE_CATEGORIES: frozenset[Category] = frozenset({Category.WAGES, Category.OVERTIME})


class Status(StrEnum):
    """Where a request is."""

    OPEN = "open"  # waiting for whoever handles it
    ANSWERED = "answered"  # answered; the worker may reply or mark it solved
    SOLVED = "solved"  # the worker said it is solved
    CLOSED = "closed"  # staff closed it


OPEN_STATUSES: tuple[Status, ...] = (Status.OPEN, Status.ANSWERED)


class Route(StrEnum):
    """Who was meant to handle a request when it was made."""

    CONTACT = "contact"  # the employer's contact (staff too, once escalated)
    STAFF = "staff"  # the district's staff from the start


class Source(StrEnum):
    """How a request came about."""

    REQUEST = "request"  # the worker's /request
    CHECKIN = "checkin"  # a need ticked in a check-in


class Side(StrEnum):
    """Who wrote a message of a request's thread."""

    WORKER = "worker"
    HANDLER = "handler"


class HelpRequest(Base):
    """One worker's request for help."""

    __tablename__ = "help_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    category: Mapped[Category] = mapped_column(enum_column(Category))
    # None for a request opened from a check-in without a note, and after erasure.
    description: Mapped[str | None] = mapped_column(Text)
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    # A voice message the worker sent as the description (a file reference of their channel).
    voice_file_id: Mapped[str | None] = mapped_column(String(256))
    # The worker asked that their employer not be told who asked.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[Source] = mapped_column(enum_column(Source))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    status: Mapped[Status] = mapped_column(enum_column(Status), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Since when the request waits for an answer (made, or the worker's last reply).
    waiting_since: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A wage request staff passed on to the employer's contact.
    forwarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    @property
    def is_open(self) -> bool:
        """Still waiting for an answer, or for the worker to say it is solved."""
        return self.status in OPEN_STATUSES

    @property
    def about_wages(self) -> bool:
        """Whether labour inspection handles it."""
        return self.category in WAGE_CATEGORIES


class RequestMessage(Base):
    """One answer (from whoever handles the request) or reply (from the worker)."""

    __tablename__ = "help_request_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_requests.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    side: Mapped[Side] = mapped_column(enum_column(Side))
    # None after the worker's data was erased.
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Writing -------------------------------------------------------------------------------


async def add(session: AsyncSession, request: HelpRequest) -> HelpRequest:
    """Store a new request and give it an id."""
    session.add(request)
    await session.flush()
    return request


async def get(session: AsyncSession, request_id: int) -> HelpRequest | None:
    """The request by id."""
    return await session.get(HelpRequest, request_id)


async def add_message(
    session: AsyncSession,
    request: HelpRequest,
    author: Person,
    side: Side,
    text: str,
    now: datetime,
) -> RequestMessage:
    """Record an answer or a reply and move the request on accordingly."""
    message = RequestMessage(
        request_id=request.id, author_id=author.id, side=side, text=text, created_at=now
    )
    session.add(message)
    if side is Side.HANDLER:
        request.status = Status.ANSWERED
        request.answered_at = now
        request.answered_by = author.id
    else:
        request.status = Status.OPEN
        request.waiting_since = now
    await session.flush()
    return message


async def finish(
    session: AsyncSession, request: HelpRequest, status: Status, now: datetime, by: int | None
) -> None:
    """Mark the request solved (by the worker) or closed (by staff)."""
    request.status = status
    request.finished_at = now
    request.closed_by = by if status is Status.CLOSED else None
    await session.flush()


async def thread(session: AsyncSession, request_id: int) -> list[RequestMessage]:
    """The request's answers and replies, oldest first."""
    rows = await session.scalars(
        select(RequestMessage)
        .where(RequestMessage.request_id == request_id)
        .order_by(RequestMessage.created_at, RequestMessage.id)
    )
    return list(rows)


async def of_person(
    session: AsyncSession, person_id: int
) -> list[tuple[HelpRequest, list[RequestMessage]]]:
    """Every request the person made, oldest first, each with its thread (for /mydata)."""
    found = list(
        await session.scalars(
            select(HelpRequest)
            .where(HelpRequest.person_id == person_id)
            .order_by(HelpRequest.created_at, HelpRequest.id)
        )
    )
    messages: dict[int, list[RequestMessage]] = {request.id: [] for request in found}
    if found:
        for message in await session.scalars(
            select(RequestMessage)
            .where(RequestMessage.request_id.in_(list(messages)))
            .order_by(RequestMessage.created_at, RequestMessage.id)
        ):
            messages[message.request_id].append(message)
    return [(request, messages[request.id]) for request in found]


async def open_categories(session: AsyncSession, person_id: int) -> set[Category]:
    """The categories the person has an open request in."""
    rows = await session.scalars(
        select(HelpRequest.category).where(
            HelpRequest.person_id == person_id, HelpRequest.status.in_(OPEN_STATUSES)
        )
    )
    return set(rows)


async def count_open(session: AsyncSession, person_id: int) -> int:
    """How many open requests the person has."""
    return int(
        await session.scalar(
            select(func.count(HelpRequest.id)).where(
                HelpRequest.person_id == person_id, HelpRequest.status.in_(OPEN_STATUSES)
            )
        )
        or 0
    )


async def contacts_of(session: AsyncSession, enterprise_id: int) -> list[Person]:
    """The enterprise's contacts the bot can reach, the primary one first."""
    found = await people.contacts(session, enterprise_id)
    return [person for person in found if person.active and person.chat_id is not None]


async def due_for_escalation(session: AsyncSession, cutoff: datetime) -> list[HelpRequest]:
    """Requests for a contact, still unanswered, waiting since `cutoff` or longer."""
    rows = await session.scalars(
        select(HelpRequest)
        .where(
            HelpRequest.route == Route.CONTACT,
            HelpRequest.status == Status.OPEN,
            HelpRequest.escalated_at.is_(None),
            HelpRequest.waiting_since <= cutoff,
        )
        .order_by(HelpRequest.waiting_since, HelpRequest.id)
    )
    return list(rows)


async def oldest_waiting(session: AsyncSession) -> datetime | None:
    """Since when the longest-waiting request a contact has not answered has waited."""
    return await session.scalar(
        select(func.min(HelpRequest.waiting_since)).where(
            HelpRequest.route == Route.CONTACT,
            HelpRequest.status == Status.OPEN,
            HelpRequest.escalated_at.is_(None),
        )
    )


async def blank_person(session: AsyncSession, person_id: int) -> int:
    """Erase what the person wrote in their requests (the requests still count)."""
    mine = select(HelpRequest.id).where(HelpRequest.person_id == person_id)
    result = await session.execute(
        update(HelpRequest)
        .where(HelpRequest.person_id == person_id)
        .values(description=None, photo_file_id=None, voice_file_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(RequestMessage)
        .where(RequestMessage.request_id.in_(mine))
        .values(text=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Who sees what --------------------------------------------------------------------------

WageRule = Literal["all", "none", "forwarded"]


@dataclass(frozen=True)
class Scope:
    """The requests one person may see: everything for district staff, their town's for a
    town officer (wages stay with labour inspection), their enterprise's for a contact
    (wage requests only once staff passed them on)."""

    town_id: int | None = None
    enterprise_id: int | None = None
    wages: WageRule = "all"

    def condition(self) -> ColumnElement[bool]:
        """The scope as a WHERE condition on HelpRequest (joined with Enterprise)."""
        parts: list[ColumnElement[bool]] = []
        if self.town_id is not None:
            parts.append(Enterprise.town_id == self.town_id)
        if self.enterprise_id is not None:
            parts.append(HelpRequest.enterprise_id == self.enterprise_id)
        not_wages = HelpRequest.category.not_in(WAGE_CATEGORIES)
        if self.wages == "none":
            parts.append(not_wages)
        elif self.wages == "forwarded":
            parts.append(not_wages | HelpRequest.forwarded_at.is_not(None))
        return and_(*parts) if parts else true()


def staff_scope(town_id: int | None) -> Scope:
    """What staff see: the whole district, or (a town officer) one town's requests without
    the wage matters, which stay with the district's labour inspection."""
    return Scope() if town_id is None else Scope(town_id=town_id, wages="none")


@dataclass(frozen=True)
class Filter:
    """What staff narrowed the list of open requests to."""

    category: Category | None = None
    town_id: int | None = None
    enterprise_id: int | None = None


@dataclass(frozen=True)
class Listed:
    """An open request with the names it is listed under."""

    request: HelpRequest
    enterprise: str | None
    town: str | None


def _open_in(scope: Scope, wanted: Filter) -> Select[HelpRequest, str, str]:
    query = (
        select(HelpRequest, Enterprise.name, Town.name)
        .outerjoin(Enterprise, Enterprise.id == HelpRequest.enterprise_id)
        .outerjoin(Town, Town.id == Enterprise.town_id)
        .where(HelpRequest.status.in_(OPEN_STATUSES), scope.condition())
    )
    if wanted.category is not None:
        query = query.where(HelpRequest.category == wanted.category)
    if wanted.town_id is not None:
        query = query.where(Enterprise.town_id == wanted.town_id)
    if wanted.enterprise_id is not None:
        query = query.where(HelpRequest.enterprise_id == wanted.enterprise_id)
    return query


async def list_open(
    session: AsyncSession, scope: Scope, wanted: Filter, limit: int
) -> tuple[list[Listed], int]:
    """The oldest open requests first (those waiting longest), and how many there are."""
    query = _open_in(scope, wanted)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(HelpRequest.waiting_since, HelpRequest.id).limit(limit)
    )
    return [Listed(r, e, t) for r, e, t in rows], int(total or 0)


async def visible(session: AsyncSession, scope: Scope, request_id: int) -> HelpRequest | None:
    """The request, if it lies within the scope (open or not)."""
    return await session.scalar(
        select(HelpRequest)
        .outerjoin(Enterprise, Enterprise.id == HelpRequest.enterprise_id)
        .where(HelpRequest.id == request_id, scope.condition())
    )


async def open_by_category(session: AsyncSession, scope: Scope) -> dict[Category, int]:
    """How many open requests each category has."""
    query = _open_in(scope, Filter()).subquery()
    rows = await session.execute(select(query.c.category, func.count()).group_by(query.c.category))
    return {Category(category): int(count) for category, count in rows}


async def open_by_town(session: AsyncSession, scope: Scope) -> list[tuple[int, str, int]]:
    """(town id, name, open requests) for every town with open requests, by name."""
    rows = await session.execute(
        select(Town.id, Town.name, func.count(HelpRequest.id))
        .select_from(HelpRequest)
        .join(Enterprise, Enterprise.id == HelpRequest.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .where(HelpRequest.status.in_(OPEN_STATUSES), scope.condition())
        .group_by(Town.id, Town.name)
        .order_by(Town.name)
    )
    return [(int(town_id), name, int(count)) for town_id, name, count in rows]


async def enterprise_counts(session: AsyncSession, enterprise_id: int) -> tuple[int, int]:
    """(open, solved) requests of an enterprise's workers."""
    rows = await session.execute(
        select(HelpRequest.status, func.count())
        .where(HelpRequest.enterprise_id == enterprise_id)
        .group_by(HelpRequest.status)
    )
    counts = {Status(status): int(count) for status, count in rows}
    return sum(counts.get(s, 0) for s in OPEN_STATUSES), counts.get(Status.SOLVED, 0)


async def names(session: AsyncSession, request: HelpRequest) -> tuple[str | None, str | None]:
    """The request's enterprise and town names."""
    if request.enterprise_id is None:
        return None, None
    row = (
        await session.execute(
            select(Enterprise.name, Town.name)
            .join(Town, Town.id == Enterprise.town_id)
            .where(Enterprise.id == request.enterprise_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def people_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Person]:
    """People by id (the authors of a thread)."""
    if not ids:
        return {}
    rows = await session.scalars(select(Person).where(Person.id.in_(set(ids))))
    return {p.id: p for p in rows}


@dataclass(frozen=True)
class RequestRow:
    """A request as the export lists it: with who asked and where they work (an erased
    worker keeps the row, without name or description)."""

    number: int
    created_at: datetime
    category: Category
    status: Status
    source: Source
    town: str | None
    enterprise: str | None
    person_id: int
    erased: bool
    name: str | None
    description: str | None
    # The description is a voice message (kept as the file; the export names it).
    voice: bool
    anonymous: bool
    answered_at: datetime | None
    # Solved by the worker or closed by staff.
    finished_at: datetime | None


async def for_export(
    session: AsyncSession,
    first: date | None,
    last: date | None,
    town_id: int | None = None,
    *,
    zone: ZoneInfo,
) -> AsyncIterator[RequestRow]:
    """Every request made on the local dates that staff of the town (None: the district)
    see, oldest first, streamed (models.exports.stream_rows)."""
    query = (
        select(
            HelpRequest.id,
            HelpRequest.created_at,
            HelpRequest.category,
            HelpRequest.status,
            HelpRequest.source,
            Town.name,
            Enterprise.name,
            Person.id,
            Person.erased_at,
            Person.full_name,
            HelpRequest.description,
            HelpRequest.voice_file_id,
            HelpRequest.anonymous,
            HelpRequest.answered_at,
            HelpRequest.finished_at,
        )
        .join(Person, Person.id == HelpRequest.person_id)
        .outerjoin(Enterprise, Enterprise.id == HelpRequest.enterprise_id)
        .outerjoin(Town, Town.id == Enterprise.town_id)
        .where(staff_scope(town_id).condition())
        .order_by(HelpRequest.created_at, HelpRequest.id)
    )
    start, end = local_bounds(first, last, zone)
    if start is not None:
        query = query.where(HelpRequest.created_at >= start)
    if end is not None:
        query = query.where(HelpRequest.created_at < end)
    async for row in stream_rows(session, query):
        (number, created, category, status, source, town, enterprise, person_id) = row[:8]
        erased_at, name, description, voice, anonymous, answered, finished = row[8:]
        erased = erased_at is not None
        yield RequestRow(
            number=number,
            created_at=created,
            category=Category(category),
            status=Status(status),
            source=Source(source),
            town=town,
            enterprise=enterprise,
            person_id=person_id,
            erased=erased,
            name=None if erased else name,
            description=None if erased else description,
            voice=not erased and voice is not None,
            anonymous=bool(anonymous),
            answered_at=answered,
            finished_at=finished,
        )
