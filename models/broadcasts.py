"""The outbox: everything the program says to anyone other than the person it answers.

An outgoing message (a `Broadcast` row: staff's notices, the open letter, an event notice,
a request passed on, an answer passed back, a reminder, a nudge, the digest...) is the
content, the audience, the schedule and a typed purpose, written in the transaction of the
change that causes it. When it is due the sender enqueues a run: one delivery row per
recipient person (unique per run and person), written in one INSERT ... SELECT. A delivery
names a person, not a chat: the sender looks up the person's channel and address when it
sends. Every row ends sent, blocked or failed with the reason, so a crash at any moment
loses nothing. Each delivery keeps the channel it went by, so that every figure staff read
(progress, /notices, the export) is split by channel with no join.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.selectable import Exists

from models.base import Base, UTCDateTime
from models.checkins import CheckIn, Plan
from models.events import EventSignup
from models.organisation import Enterprise, Town
from models.people import CHANNELS, TELEGRAM, WEB, Person, Role, enum_column
from models.reports import Report
from models.web import WebChat


class ContentKind(StrEnum):
    """What a broadcast carries."""

    TEXT = "text"
    PHOTO = "photo"
    DOCUMENT = "document"
    LETTER = "letter"  # the open letter, in each reader's language
    EVENT = "event"  # an event notice with its sign-up button
    EVENT_REMINDER = "event_reminder"  # to those signed up, before the event starts
    MESSAGE = "message"  # a catalog message with its keyboard (`message`), per reader's language


class Purpose(StrEnum):
    """What an outgoing message is for: "already reminded today" is a query on it."""

    BROADCAST = "broadcast"  # staff's notice to an audience
    LETTER = "letter"  # the campaign's open letter
    EVENT_NOTICE = "event_notice"
    EVENT_REMINDER = "event_reminder"
    REQUEST_NOTICE = "request_notice"  # a request for help to whoever handles it
    REQUEST_NEWS = "request_news"  # an answer or news of a request, to the worker
    REPORT_REMINDER = "report_reminder"  # contacts who have not reported today
    NUDGE = "nudge"  # a contact's reminder to their workers to check in
    REASK = "reask"  # undecided and stale workers asked again
    DIGEST = "digest"  # the day's figures to staff
    ROLE_CHANGE = "role_change"  # "you have been replaced" and the like
    NOMINATION = "nomination"  # reminders, decisions and news of nominations
    ERASURE = "erasure"  # staff told that a contact erased their data


class BroadcastStatus(StrEnum):
    """Where a broadcast is in its life."""

    SCHEDULED = "scheduled"  # runs are still to come
    DONE = "done"  # every run enqueued
    CANCELLED = "cancelled"
    MISSED = "missed"  # its time passed beyond the grace time while no scheduler ran


class DeliveryStatus(StrEnum):
    """Where one message to one person is."""

    PENDING = "pending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


class Broadcast(Base):
    """Content, audience and schedule, as a staff member confirmed them."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        # The sender's query: scheduled broadcasts due now, without a scan.
        Index("ix_broadcasts_due", "status", "next_run_at"),
        # "Already sent today?": the outbox by purpose and time.
        Index("ix_broadcasts_purpose", "purpose", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_kind: Mapped[ContentKind] = mapped_column(enum_column(ContentKind))
    purpose: Mapped[Purpose] = mapped_column(enum_column(Purpose, 24), default=Purpose.BROADCAST)
    text: Mapped[str | None] = mapped_column(Text)
    # A MESSAGE's catalog text and inline keyboard (handlers/actions.py text_to_json).
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_id: Mapped[str | None] = mapped_column(String(256))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    daily_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[BroadcastStatus] = mapped_column(enum_column(BroadcastStatus))
    # When the next run is due, while scheduled: the sender enqueues it then.
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # The staff member who sent it sees its progress and a final report.
    report_progress: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BroadcastRun(Base):
    """One occurrence of a broadcast: its deliveries were enqueued together."""

    __tablename__ = "broadcast_runs"
    __table_args__ = (UniqueConstraint("broadcast_id", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"), index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total: Mapped[int] = mapped_column(Integer, default=0)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Delivery(Base):
    """One message of one run to one person, and how it ended."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "person_id"),
        # The sender's query: pending rows due now, in id order, without a scan.
        Index("ix_deliveries_pending", "status", "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("broadcast_runs.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # The reader's language when the run was enqueued (for the figures; sends use today's).
    language: Mapped[str] = mapped_column(String(16))
    # The reader's channel (people.channel, which never changes): the figures' split.
    channel: Mapped[str] = mapped_column(String(16), default=TELEGRAM, server_default=TELEGRAM)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(200))
    # The message it became in the reader's chat: on the web channel the page says which
    # messages it showed by this number, and a letter shown there counts as read.
    message_id: Mapped[int | None] = mapped_column(BigInteger)


# Audiences ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who a broadcast reaches: workers or contacts, narrowed by town, enterprise, plan, language;
    or, with `people`, exactly those people (whatever their role).

    plan is a Plan value, or "none" for workers who have not checked in yet.
    """

    role: Role = Role.WORKER
    people: tuple[int, ...] | None = None
    town_id: int | None = None
    enterprise_id: int | None = None
    plan: str | None = None
    language: str | None = None
    signed_up_for: int | None = None  # an event: only those who signed up for it
    # Contacts whose (active) enterprise has no report on this ISO date.
    unreported_on: str | None = None
    # Workers who never checked in, or whose latest check-in is dated before this ISO date;
    # with undecided_due as well, workers matching either.
    stale_before: str | None = None
    # Workers whose latest check-in is undecided and asked to be asked again by this ISO date.
    undecided_due: str | None = None
    # Only people not sent a message of these purposes since the ISO moment
    # `not_sent_since`: a reminder keeps its rhythm per person.
    not_sent: tuple[Purpose, ...] | None = None
    not_sent_since: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored in the broadcast row."""
        return {
            "role": self.role.value,
            "people": list(self.people) if self.people is not None else None,
            "town_id": self.town_id,
            "enterprise_id": self.enterprise_id,
            "plan": self.plan,
            "language": self.language,
            "signed_up_for": self.signed_up_for,
            "unreported_on": self.unreported_on,
            "stale_before": self.stale_before,
            "undecided_due": self.undecided_due,
            "not_sent": [p.value for p in self.not_sent] if self.not_sent is not None else None,
            "not_sent_since": self.not_sent_since,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Audience:
        """Back from the broadcast row."""
        people = data.get("people")
        return cls(
            role=Role(data.get("role", Role.WORKER.value)),
            people=tuple(int(p) for p in people) if people is not None else None,
            town_id=data.get("town_id"),
            enterprise_id=data.get("enterprise_id"),
            plan=data.get("plan"),
            language=data.get("language"),
            signed_up_for=data.get("signed_up_for"),
            unreported_on=data.get("unreported_on"),
            stale_before=data.get("stale_before"),
            undecided_due=data.get("undecided_due"),
            not_sent=_purposes(data.get("not_sent")),
            not_sent_since=data.get("not_sent_since"),
        )


def _purposes(stored: Any) -> tuple[Purpose, ...] | None:
    """Purposes as an audience stored them (before purposes, a text prefix: none known)."""
    if stored is None:
        return None
    values = stored if isinstance(stored, list) else []
    return tuple(Purpose(v) for v in values if v in Purpose.__members__.values())


NO_CHECKIN = "none"


def _recipients(audience: Audience) -> Select[int, str, str]:
    """People in the audience who can be reached: active, not erased, with a chat."""
    query = select(Person.id, Person.language, Person.channel).where(
        Person.active.is_(True),
        Person.erased_at.is_(None),
        Person.chat_id.is_not(None),
    )
    if audience.people is not None:
        return query.where(Person.id.in_(audience.people))
    query = query.where(Person.role == audience.role)
    if audience.town_id is not None:
        # Workers and contacts belong to a town through their enterprise.
        in_town = select(Enterprise.id).where(Enterprise.town_id == audience.town_id)
        query = query.where(Person.enterprise_id.in_(in_town))
    if audience.enterprise_id is not None:
        query = query.where(Person.enterprise_id == audience.enterprise_id)
    if audience.language is not None:
        query = query.where(Person.language == audience.language)
    if audience.signed_up_for is not None:
        signed = select(EventSignup.person_id).where(EventSignup.event_id == audience.signed_up_for)
        query = query.where(Person.id.in_(signed))
    if audience.plan == NO_CHECKIN:
        query = query.where(~exists().where(CheckIn.person_id == Person.id))
    elif audience.plan is not None:
        latest = (
            select(CheckIn.plan)
            .where(CheckIn.person_id == Person.id)
            .order_by(CheckIn.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = query.where(latest == audience.plan)
    if audience.unreported_on is not None:
        reported = select(Report.enterprise_id).where(
            Report.local_date == date.fromisoformat(audience.unreported_on)
        )
        active = select(Enterprise.id).where(Enterprise.active.is_(True))
        query = query.where(Person.enterprise_id.in_(active), Person.enterprise_id.not_in(reported))
    due: list[ColumnElement[bool]] = []
    if audience.stale_before is not None:
        before = date.fromisoformat(audience.stale_before)
        due += [
            ~exists().where(CheckIn.person_id == Person.id),
            _latest_checkin(CheckIn.local_date < before),
        ]
    if audience.undecided_due is not None:
        day = date.fromisoformat(audience.undecided_due)
        due.append(_latest_checkin(CheckIn.plan == Plan.UNDECIDED, CheckIn.ask_again_on <= day))
    if due:
        query = query.where(or_(*due))
    if audience.not_sent is not None and audience.not_sent_since is not None:
        sent = (
            select(Delivery.person_id)
            .join(BroadcastRun, BroadcastRun.id == Delivery.run_id)
            .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
            .where(
                Broadcast.purpose.in_(audience.not_sent),
                Broadcast.created_at >= datetime.fromisoformat(audience.not_sent_since),
            )
        )
        query = query.where(Person.id.not_in(sent))
    return query


def _latest_checkin(*conditions: ColumnElement[bool]) -> Exists:
    """The person's latest check-in meets the conditions."""
    newest = aliased(CheckIn)
    latest_id = (
        select(newest.id)
        .where(newest.person_id == Person.id)
        .order_by(newest.id.desc())
        .limit(1)
        .correlate(Person)
        .scalar_subquery()
    )
    return exists().where(CheckIn.id == latest_id, *conditions)


async def count_audience(session: AsyncSession, audience: Audience) -> int:
    """How many people a broadcast to this audience would reach now."""
    subquery = _recipients(audience).subquery()
    return int(await session.scalar(select(func.count()).select_from(subquery)) or 0)


# Broadcasts and runs -------------------------------------------------------------------


async def add(session: AsyncSession, broadcast: Broadcast) -> Broadcast:
    """Store a confirmed broadcast."""
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """The broadcast by id."""
    return await session.get(Broadcast, broadcast_id)


async def cancel(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Cancel a scheduled broadcast; false if it was no longer scheduled."""
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SCHEDULED)
        .values(status=BroadcastStatus.CANCELLED, cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def due(session: AsyncSession, now: datetime, limit: int) -> Sequence[Broadcast]:
    """Scheduled broadcasts whose next run is due, soonest first."""
    rows = await session.scalars(
        select(Broadcast)
        .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.next_run_at <= now)
        .order_by(Broadcast.next_run_at, Broadcast.id)
        .limit(limit)
    )
    return rows.all()


def following_run(broadcast: Broadcast, after: datetime, zone: ZoneInfo) -> datetime | None:
    """The first run of a daily broadcast later than `after` (None once it has ended): the
    same local time of day as its first, each day until `daily_until`."""
    if broadcast.daily_until is None:
        return None
    at = broadcast.send_at.astimezone(zone).timetz().replace(tzinfo=None)
    day = after.astimezone(zone).date()
    while day <= broadcast.daily_until:
        candidate = datetime.combine(day, at, zone)
        if candidate > after and candidate >= broadcast.send_at:
            return candidate
        day = day.fromordinal(day.toordinal() + 1)
    return None


async def enqueue_due(
    session: AsyncSession, now: datetime, grace: float, zone: ZoneInfo, limit: int = 20
) -> list[BroadcastRun]:
    """Enqueue the runs of the broadcasts due now and plan their next; the runs written.

    A run set for a time ahead, and later than `grace` seconds past it (no sender ran
    then), is not sent: a one-off broadcast is marked missed, a daily one goes on from its
    next day. A message written to go at once (a request passed on, a reminder) always goes.
    """
    runs: list[BroadcastRun] = []
    for broadcast in await due(session, now, limit):
        due_at = broadcast.next_run_at
        assert due_at is not None
        ahead = broadcast.daily_until is not None or broadcast.send_at > broadcast.created_at
        late = ahead and (now - due_at).total_seconds() > grace
        if not late:
            run = await enqueue_run(session, broadcast, due_at, now)
            if run is not None:
                runs.append(run)
        following = following_run(broadcast, now if late else due_at, zone)
        if following is not None:
            broadcast.next_run_at = following
        else:
            broadcast.next_run_at = None
            broadcast.status = (
                BroadcastStatus.MISSED
                if late and broadcast.daily_until is None
                else BroadcastStatus.DONE
            )
    await session.flush()
    return runs


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


async def enqueue_run(
    session: AsyncSession, broadcast: Broadcast, due_at: datetime, now: datetime
) -> BroadcastRun | None:
    """Create the run due at `due_at` and its deliveries; None if it was enqueued already."""
    insert = _insert(session)
    created = await session.execute(
        insert(BroadcastRun)
        .values(broadcast_id=broadcast.id, due_at=due_at, enqueued_at=now, total=0)
        .on_conflict_do_nothing(index_elements=["broadcast_id", "due_at"])
        .returning(BroadcastRun.id)
    )
    run_id = created.scalar()
    if run_id is None:
        return None
    recipients = _recipients(Audience.from_json(broadcast.audience)).subquery()
    rows = select(
        literal(run_id),
        recipients.c.id,
        recipients.c.language,
        recipients.c.channel,
        literal(DeliveryStatus.PENDING.value),
        literal(0),
        literal(now, UTCDateTime),
    ).where(true())  # SQLite needs a WHERE before ON CONFLICT in INSERT ... SELECT
    columns = ["run_id", "person_id", "language", "channel", "status", "attempts"]
    result = await session.execute(
        insert(Delivery)
        .from_select([*columns, "next_attempt_at"], rows)
        .on_conflict_do_nothing(index_elements=["run_id", "person_id"])
    )
    total = int(getattr(result, "rowcount", 0) or 0)
    await session.execute(update(BroadcastRun).where(BroadcastRun.id == run_id).values(total=total))
    return await session.get(BroadcastRun, run_id)


async def sent_since(
    session: AsyncSession, purpose: Purpose, since: datetime
) -> Sequence[Broadcast]:
    """Messages of a purpose written since a moment, oldest first (so that a reminder is
    not written twice)."""
    rows = await session.scalars(
        select(Broadcast)
        .where(Broadcast.purpose == purpose, Broadcast.created_at >= since)
        .order_by(Broadcast.id)
    )
    return rows.all()


async def get_run(session: AsyncSession, run_id: int) -> BroadcastRun | None:
    """The run by id."""
    return await session.get(BroadcastRun, run_id)


async def unfinished_runs(session: AsyncSession) -> Sequence[BroadcastRun]:
    """Runs whose deliveries are not all settled yet."""
    rows = await session.scalars(
        select(BroadcastRun).where(BroadcastRun.finished_at.is_(None)).order_by(BroadcastRun.id)
    )
    return rows.all()


async def finish_run(session: AsyncSession, run_id: int, now: datetime) -> None:
    """Every delivery of the run is settled."""
    await session.execute(
        update(BroadcastRun).where(BroadcastRun.id == run_id).values(finished_at=now)
    )


async def set_progress_message(session: AsyncSession, run_id: int, message_id: int) -> None:
    """Remember the staff member's progress message, to edit it as the run goes."""
    await session.execute(
        update(BroadcastRun).where(BroadcastRun.id == run_id).values(progress_message_id=message_id)
    )


@dataclass
class Figures:
    """Deliveries counted by status and by the channel they went by.

    `figures[status]` is the status's total over every channel; `by_channel(status)` its
    split, in CHANNELS' order.
    """

    counts: dict[tuple[DeliveryStatus, str], int] = field(default_factory=dict)

    def add(self, status: DeliveryStatus | str, channel: str, count: int) -> None:
        """Count `count` more deliveries of the status on the channel."""
        key = (DeliveryStatus(status), channel)
        self.counts[key] = self.counts.get(key, 0) + int(count)

    def __getitem__(self, status: DeliveryStatus) -> int:
        return sum(n for (s, _), n in self.counts.items() if s is status)

    def by_channel(self, status: DeliveryStatus) -> dict[str, int]:
        """The status's deliveries on each channel (every known channel, 0 when none)."""
        found = dict.fromkeys(CHANNELS, 0)
        for (s, channel), n in self.counts.items():
            if s is status:
                found[channel] = found.get(channel, 0) + n
        return found

    @property
    def total(self) -> int:
        """Every delivery counted."""
        return sum(self.counts.values())


async def run_figures(session: AsyncSession, run_id: int) -> Figures:
    """How many of the run's deliveries are in each status, on each channel."""
    rows = await session.execute(
        select(Delivery.status, Delivery.channel, func.count())
        .where(Delivery.run_id == run_id)
        .group_by(Delivery.status, Delivery.channel)
    )
    figures = Figures()
    for status, channel, count in rows:
        figures.add(status, channel, count)
    return figures


async def figures_by_purpose(session: AsyncSession) -> dict[Purpose, Figures]:
    """Deliveries by the purpose of their message, by status and by channel."""
    rows = await session.execute(
        select(Broadcast.purpose, Delivery.status, Delivery.channel, func.count())
        .join(BroadcastRun, BroadcastRun.broadcast_id == Broadcast.id)
        .join(Delivery, Delivery.run_id == BroadcastRun.id)
        .group_by(Broadcast.purpose, Delivery.status, Delivery.channel)
    )
    found: dict[Purpose, Figures] = {}
    for purpose, status, channel, count in rows:
        found.setdefault(Purpose(purpose), Figures()).add(status, channel, count)
    return found


@dataclass(frozen=True)
class Listed:
    """A broadcast as /notices lists it, with its delivery figures over every run."""

    broadcast: Broadcast
    runs: int
    figures: Figures


async def recent(session: AsyncSession, limit: int, town_id: int | None = None) -> list[Listed]:
    """The latest broadcasts (scheduled first, then newest), with their figures."""
    staff_notices = (Purpose.BROADCAST, Purpose.LETTER, Purpose.EVENT_NOTICE)
    query = (
        select(Broadcast)
        # Reminders, request notices and the like are not staff's notices.
        .where(Broadcast.purpose.in_(staff_notices))
        .order_by((Broadcast.status == BroadcastStatus.SCHEDULED).desc(), Broadcast.id.desc())
    )
    found = list((await session.scalars(query.limit(limit * 4 if town_id else limit))).all())
    if town_id is not None:
        found = [b for b in found if b.audience.get("town_id") == town_id][:limit]
    if not found:
        return []
    ids = [b.id for b in found]
    counts = await session.execute(
        select(BroadcastRun.broadcast_id, Delivery.status, Delivery.channel, func.count())
        .join(Delivery, Delivery.run_id == BroadcastRun.id)
        .where(BroadcastRun.broadcast_id.in_(ids))
        .group_by(BroadcastRun.broadcast_id, Delivery.status, Delivery.channel)
    )
    figures = {i: Figures() for i in ids}
    for broadcast_id, status, channel, count in counts:
        figures[broadcast_id].add(status, channel, count)
    runs = dict(
        (
            await session.execute(
                select(BroadcastRun.broadcast_id, func.count())
                .where(BroadcastRun.broadcast_id.in_(ids))
                .group_by(BroadcastRun.broadcast_id)
            )
        ).all()
    )
    return [Listed(b, int(runs.get(b.id, 0)), figures[b.id]) for b in found]


# The sender's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A pending delivery with what the sender needs to send it: how to reach the person
    now (their channel and address there, or None when they can no longer be reached)."""

    id: int
    run_id: int
    person_id: int
    channel: str
    chat_id: int | None
    language: str
    attempts: int


async def due_deliveries(
    session: AsyncSession, now: datetime, after_id: int, limit: int
) -> list[Due]:
    """Pending deliveries that may be tried now, in id order after `after_id`."""
    reachable = Person.active.is_(True) & Person.erased_at.is_(None)
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.run_id,
            Delivery.person_id,
            Person.channel,
            Person.chat_id,
            Person.language,
            Delivery.attempts,
            reachable,
        )
        .join(Person, Person.id == Delivery.person_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
            Delivery.id > after_id,
        )
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [
        Due(id, run, person, channel, chat if ok else None, language, attempts)
        for id, run, person, channel, chat, language, attempts, ok in rows
    ]


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the soonest pending delivery may be tried."""
    return await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.PENDING)
    )


@dataclass(frozen=True)
class Outcome:
    """What happened to one delivery attempt, to be written back."""

    delivery_id: int
    person_id: int
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None = None
    error: str | None = None
    # The message the delivery became in the reader's chat, once sent, and its channel.
    message_id: int | None = None
    channel: str = TELEGRAM


_RECORD = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery_id"), Delivery.status == DeliveryStatus.PENDING)
    .values(
        status=bindparam("status"),
        attempts=bindparam("attempts"),
        next_attempt_at=bindparam("next_attempt_at"),
        sent_at=bindparam("sent_at"),
        error=bindparam("error"),
        message_id=bindparam("message_id"),
    )
)


async def record(session: AsyncSession, outcomes: Iterable[Outcome]) -> None:
    """Write attempts back in one executemany; people who blocked the bot become inactive;
    a letter the page showed before its outcome was written counts as read now."""
    batch = list(outcomes)
    if not batch:
        return
    params = [
        {
            "delivery_id": o.delivery_id,
            "status": o.status.value,
            "attempts": o.attempts,
            "next_attempt_at": o.next_attempt_at,
            "sent_at": o.sent_at,
            "error": o.error[:200] if o.error else None,
            "message_id": o.message_id,
        }
        for o in batch
    ]
    connection = await session.connection()
    await connection.execute(_RECORD, params)
    on_web = [o for o in batch if o.channel == WEB and o.status is DeliveryStatus.SENT]
    if on_web:
        # The page is told of a message as it is stored, before the sender writes the
        # outcome: it may have said it showed it already.
        latest = max(o.sent_at or o.next_attempt_at for o in on_web)
        await read_when_shown(session, latest, deliveries=[o.delivery_id for o in on_web])
    unreachable = [o.person_id for o in batch if o.status is DeliveryStatus.BLOCKED]
    if unreachable:
        await session.execute(
            update(Person)
            .where(Person.id.in_(unreachable))
            .values(active=False)
            .execution_options(synchronize_session=False)
        )


async def pending_count(session: AsyncSession, run_ids: Iterable[int]) -> dict[int, int]:
    """Pending deliveries per run."""
    ids = list(run_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Delivery.run_id, func.count())
        .where(Delivery.run_id.in_(ids), Delivery.status == DeliveryStatus.PENDING)
        .group_by(Delivery.run_id)
    )
    return {run_id: int(count) for run_id, count in rows}


# The open letter ----------------------------------------------------------------------------


class LetterRead(Base):
    """A worker read the open letter: pressed "I have read it" under it, or (on the web
    channel) had it shown on their page."""

    __tablename__ = "letter_reads"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LetterText(Base):
    """Staff's replacement of the open letter in one language (else the catalog's text)."""

    __tablename__ = "letter_texts"

    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def mark_read(session: AsyncSession, person_id: int, now: datetime) -> bool:
    """Record that the person read the letter; false if they had already said so."""
    statement = (
        _insert(session)(LetterRead)
        .values(person_id=person_id, read_at=now)
        .on_conflict_do_nothing(index_elements=["person_id"])
    )
    result = await session.execute(statement)
    return getattr(result, "rowcount", 0) == 1


async def read_when_shown(
    session: AsyncSession,
    now: datetime,
    *,
    web_chat: int | None = None,
    deliveries: Sequence[int] | None = None,
) -> None:
    """The letter counts as read by whoever's page showed it: each sent letter delivery on
    the web channel whose message is at or before the page's last shown change.

    Asked for one web chat (its page said what it showed) or for some deliveries (their
    outcomes were just written): whichever of the two comes second records the read.
    """
    shown = (
        select(Delivery.person_id, literal(now, UTCDateTime))
        .join(Person, Person.id == Delivery.person_id)
        .join(WebChat, WebChat.id == Person.telegram_user_id)
        .join(BroadcastRun, BroadcastRun.id == Delivery.run_id)
        .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
        .where(
            Delivery.channel == WEB,
            Person.channel == WEB,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.message_id <= WebChat.read_seq,
            Broadcast.content_kind == ContentKind.LETTER,
        )
        .distinct()
    )
    if web_chat is not None:
        shown = shown.where(Person.telegram_user_id == web_chat)
    if deliveries is not None:
        shown = shown.where(Delivery.id.in_(deliveries))
    await session.execute(
        _insert(session)(LetterRead)
        .from_select(["person_id", "read_at"], shown)
        .on_conflict_do_nothing(index_elements=["person_id"])
    )


async def letter_text(session: AsyncSession, language: str) -> str | None:
    """Staff's replacement letter in this language, if any."""
    return await session.scalar(select(LetterText.text).where(LetterText.language == language))


async def replace_letter(
    session: AsyncSession, language: str, text: str, person_id: int | None, now: datetime
) -> None:
    """Store staff's replacement letter for one language."""
    insert = _insert(session)(LetterText)
    await session.execute(
        insert.values(
            language=language, text=text, updated_by=person_id, updated_at=now
        ).on_conflict_do_update(
            index_elements=["language"],
            set_={
                "text": insert.excluded.text,
                "updated_by": insert.excluded.updated_by,
                "updated_at": insert.excluded.updated_at,
            },
        )
    )


@dataclass(frozen=True)
class Share:
    """How many workers there are and how many of them read the letter."""

    workers: int
    read: int


@dataclass(frozen=True)
class ReadShare:
    """How many workers of a town or enterprise read the letter, on each channel."""

    name: str
    by_channel: dict[str, Share]

    @property
    def workers(self) -> int:
        """Workers on every channel."""
        return sum(share.workers for share in self.by_channel.values())

    @property
    def read(self) -> int:
        """Readers on every channel."""
        return sum(share.read for share in self.by_channel.values())


async def read_shares(
    session: AsyncSession, *, by_enterprise: bool, town_id: int | None = None
) -> list[ReadShare]:
    """Workers and readers of the letter per town (or per enterprise) and channel, most
    workers first."""
    group = Enterprise if by_enterprise else Town
    readers = exists().where(LetterRead.person_id == Person.id)
    counted = []
    for channel in CHANNELS:
        on_channel = Person.channel == channel
        counted += [
            func.count(Person.id).filter(on_channel),
            func.count(Person.id).filter(on_channel & readers),
        ]
    query = (
        select(group.name, *counted)
        .select_from(Person)
        .join(Enterprise, Enterprise.id == Person.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .where(Person.role == Role.WORKER, Person.erased_at.is_(None))
        .group_by(group.id, group.name)
        .order_by(func.count(Person.id).desc(), group.name)
    )
    if town_id is not None:
        query = query.where(Town.id == town_id)
    shares: list[ReadShare] = []
    for name, *figures in await session.execute(query):
        pairs = zip(figures[::2], figures[1::2], strict=True)
        split = {c: Share(int(w), int(r)) for c, (w, r) in zip(CHANNELS, pairs, strict=True)}
        shares.append(ReadShare(name, split))
    return shares


async def letter_broadcast(session: AsyncSession) -> Broadcast | None:
    """The campaign's open-letter broadcast to all workers, if it was set up."""
    return await session.scalar(
        select(Broadcast)
        .where(Broadcast.content_kind == ContentKind.LETTER, Broadcast.created_by.is_(None))
        .order_by(Broadcast.id)
        .limit(1)
    )


async def ensure_letter_broadcast(
    session: AsyncSession, send_at: datetime, now: datetime
) -> Broadcast:
    """The open letter to all workers on the publicity date, set up once."""
    found = await letter_broadcast(session)
    if found is not None:
        return found
    return await add(
        session,
        Broadcast(
            content_kind=ContentKind.LETTER,
            purpose=Purpose.LETTER,
            text=None,
            file_id=None,
            audience=Audience().to_json(),
            send_at=send_at,
            next_run_at=send_at,
            daily_until=None,
            status=BroadcastStatus.SCHEDULED,
            created_by=None,
            created_at=now,
        ),
    )
