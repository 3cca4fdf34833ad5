"""Advanced-model nominations: one per enterprise, the measures it took, staff's review.

A contact drafts the nomination (each measure the notice names, with a description and
photos as evidence, and a summary), submits it, and may change it until the deadline; a
nomination staff see is always complete (`gaps`), and a draft still open at the deadline is
submitted then if it is complete. Staff comment, ask for more, accept or reject, and select
the district's models; a selected nomination marks its enterprise as a model
(`model_enterprise_ids`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models import requests
from models.base import Base, UTCDateTime
from models.broadcasts import LetterRead
from models.checkins import CheckIn, Plan
from models.organisation import Enterprise, Town
from models.people import Person, Role, enum_column
from models.reports import Report


class Measure(StrEnum):
    """What the notice asks employers to do for the workers who stay."""

    WAGES = "wages"  # wages paid on time and in full
    OVERTIME = "overtime"  # the subsidies due for holiday overtime
    LIVING = "living"  # heating, food and housing
    SAFETY = "safety"
    CULTURE = "culture"  # online shows, exhibitions and films
    CLUB = "club"  # the employer's "New Citizen Club" activities
    WARMTH = "warmth"  # "send health, send warmth" visits


class NominationStatus(StrEnum):
    """Where a nomination is."""

    DRAFT = "draft"  # the contact is still writing it; staff do not see it
    SUBMITTED = "submitted"
    MORE_REQUESTED = "more"  # staff asked for more; the contact may change it again
    ACCEPTED = "accepted"  # passed staff's screening: a candidate for selection
    REJECTED = "rejected"
    SELECTED = "selected"  # chosen as one of the district's models


class ReviewKind(StrEnum):
    """One of staff's steps on a nomination."""

    COMMENT = "comment"  # a note for staff only
    MORE = "more"
    ACCEPT = "accept"
    REJECT = "reject"
    SELECT = "select"


class Gap(StrEnum):
    """What a nomination lacks to be complete, and so to be submitted."""

    MEASURE = "measure"  # not one measure described
    SUMMARY = "summary"


def gaps(summary: str | None, described: Collection[Measure]) -> tuple[Gap, ...]:
    """What keeps a nomination from being complete: at least one measure and a summary.
    The one rule for the Submit button, the deadline's submission and edits after it."""
    missing: list[Gap] = []
    if not described:
        missing.append(Gap.MEASURE)
    if not (summary and summary.strip()):
        missing.append(Gap.SUMMARY)
    return tuple(missing)


class Nomination(Base):
    """An enterprise's application to be an advanced model (one per enterprise)."""

    __tablename__ = "nominations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), unique=True)
    status: Mapped[NominationStatus] = mapped_column(enum_column(NominationStatus), index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Set when the enterprise is selected as a model (stats and exports mark it).
    selected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NominationMeasure(Base):
    """One measure of a nomination: what the enterprise did, and photos as evidence."""

    __tablename__ = "nomination_measures"
    __table_args__ = (UniqueConstraint("nomination_id", "measure"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("nominations.id"))
    measure: Mapped[Measure] = mapped_column(enum_column(Measure))
    description: Mapped[str] = mapped_column(Text)
    # Telegram file ids of the photos, in the order they were sent.
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NominationReview(Base):
    """A comment, a request for more, or a decision by a staff member."""

    __tablename__ = "nomination_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("nominations.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[ReviewKind] = mapped_column(enum_column(ReviewKind))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The nomination ---------------------------------------------------------------------------


async def for_enterprise(session: AsyncSession, enterprise_id: int) -> Nomination | None:
    """The enterprise's nomination, if it started one."""
    return await session.scalar(select(Nomination).where(Nomination.enterprise_id == enterprise_id))


async def get(session: AsyncSession, nomination_id: int) -> Nomination | None:
    """The nomination by id."""
    return await session.get(Nomination, nomination_id)


async def start(
    session: AsyncSession, enterprise_id: int, person_id: int | None, now: datetime
) -> Nomination:
    """The enterprise's nomination, begun as a draft if it has none yet."""
    found = await for_enterprise(session, enterprise_id)
    if found is not None:
        return found
    nomination = Nomination(
        enterprise_id=enterprise_id,
        status=NominationStatus.DRAFT,
        created_by=person_id,
        created_at=now,
        updated_at=now,
    )
    session.add(nomination)
    await session.flush()
    return nomination


async def measures(session: AsyncSession, nomination_id: int) -> dict[Measure, NominationMeasure]:
    """The measures filled in so far."""
    rows = await session.scalars(
        select(NominationMeasure).where(NominationMeasure.nomination_id == nomination_id)
    )
    return {item.measure: item for item in rows}


async def set_measure(
    session: AsyncSession, nomination: Nomination, measure: Measure, text: str, now: datetime
) -> NominationMeasure:
    """Write (or rewrite) the description of one measure; its photos stay."""
    found = (await measures(session, nomination.id)).get(measure)
    if found is None:
        found = NominationMeasure(
            nomination_id=nomination.id, measure=measure, description=text, photos=[]
        )
        session.add(found)
    found.description = text
    found.updated_at = now
    nomination.updated_at = now
    await session.flush()
    return found


async def set_photos(
    session: AsyncSession,
    nomination: Nomination,
    measure: Measure,
    photos: list[str],
    now: datetime,
) -> bool:
    """Replace the photos of a measure already described; false if it is not."""
    found = (await measures(session, nomination.id)).get(measure)
    if found is None:
        return False
    found.photos = list(photos)
    found.updated_at = now
    nomination.updated_at = now
    await session.flush()
    return True


async def gaps_of(session: AsyncSession, nomination: Nomination | None) -> tuple[Gap, ...]:
    """What the nomination still lacks (everything, if there is none)."""
    if nomination is None:
        return gaps(None, ())
    return gaps(nomination.summary, await measures(session, nomination.id))


def fingerprint(nomination: Nomination, items: Mapping[Measure, NominationMeasure]) -> str:
    """A digest of what staff read of a nomination: it changes with any edit or decision."""
    content = {
        "status": nomination.status.value,
        "summary": nomination.summary,
        "measures": {m.value: [i.description, list(i.photos)] for m, i in sorted(items.items())},
    }
    encoded = json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


async def remove_measure(
    session: AsyncSession, nomination: Nomination, measure: Measure, now: datetime
) -> bool:
    """Take a measure (and its photos) out of the nomination; false (nothing changed) if it
    is the last one of a nomination staff see, which must stay complete."""
    left = set(await measures(session, nomination.id)) - {measure}
    if nomination.status is not NominationStatus.DRAFT and not left:
        return False
    await session.execute(
        delete(NominationMeasure).where(
            NominationMeasure.nomination_id == nomination.id, NominationMeasure.measure == measure
        )
    )
    nomination.updated_at = now
    await session.flush()
    return True


async def set_summary(
    session: AsyncSession, nomination: Nomination, text: str, now: datetime
) -> None:
    """Write the nomination's summary (replaced, never cleared: staff may be reading it)."""
    if not text.strip():
        raise ValueError("a nomination's summary cannot be blank")
    nomination.summary = text
    nomination.updated_at = now
    await session.flush()


async def submit(session: AsyncSession, nomination: Nomination, now: datetime) -> bool:
    """Hand the nomination to staff (again, after they asked for more); false (nothing
    changed) if it is not complete."""
    if await gaps_of(session, nomination):
        return False
    nomination.status = NominationStatus.SUBMITTED
    nomination.submitted_at = now
    nomination.updated_at = now
    await session.flush()
    return True


@dataclass(frozen=True)
class Unsubmitted:
    """An active enterprise whose nomination is not with staff: a draft, or none at all."""

    enterprise_id: int
    enterprise: str
    nomination: Nomination | None


async def unsubmitted(session: AsyncSession) -> list[Unsubmitted]:
    """Every active enterprise with a draft nomination or none, by name."""
    rows = await session.execute(
        select(Enterprise.id, Enterprise.name, Nomination)
        .outerjoin(Nomination, Nomination.enterprise_id == Enterprise.id)
        .where(
            Enterprise.active.is_(True),
            (Nomination.id.is_(None)) | (Nomination.status == NominationStatus.DRAFT),
        )
        .order_by(Enterprise.name, Enterprise.id)
    )
    return [Unsubmitted(e, name, n) for e, name, n in rows]


# Staff's review -----------------------------------------------------------------------------

# The status each step leads to, and the statuses it may start from.
STEPS: dict[ReviewKind, tuple[NominationStatus | None, frozenset[NominationStatus]]] = {
    ReviewKind.COMMENT: (
        None,
        frozenset(set(NominationStatus) - {NominationStatus.DRAFT}),
    ),
    ReviewKind.MORE: (
        NominationStatus.MORE_REQUESTED,
        frozenset({NominationStatus.SUBMITTED, NominationStatus.ACCEPTED}),
    ),
    ReviewKind.ACCEPT: (
        NominationStatus.ACCEPTED,
        frozenset(
            {
                NominationStatus.SUBMITTED,
                NominationStatus.MORE_REQUESTED,
                NominationStatus.REJECTED,
            }
        ),
    ),
    ReviewKind.REJECT: (
        NominationStatus.REJECTED,
        frozenset(
            {
                NominationStatus.SUBMITTED,
                NominationStatus.MORE_REQUESTED,
                NominationStatus.ACCEPTED,
            }
        ),
    ),
    ReviewKind.SELECT: (NominationStatus.SELECTED, frozenset({NominationStatus.ACCEPTED})),
}


def may(kind: ReviewKind, status: NominationStatus) -> bool:
    """Whether staff may take this step on a nomination in this status."""
    return status in STEPS[kind][1]


async def review(
    session: AsyncSession,
    nomination: Nomination,
    kind: ReviewKind,
    author_id: int | None,
    text: str | None,
    now: datetime,
) -> bool:
    """Record a step of staff's review and apply it; false (nothing written) if the
    nomination's status does not allow it."""
    target, allowed = STEPS[kind]
    if nomination.status not in allowed:
        return False
    session.add(
        NominationReview(
            nomination_id=nomination.id, author_id=author_id, kind=kind, text=text, created_at=now
        )
    )
    if target is not None:
        nomination.status = target
        nomination.decided_at = now
        nomination.decided_by = author_id
        if target is NominationStatus.SELECTED:
            nomination.selected_at = now
    await session.flush()
    return True


async def reviews(session: AsyncSession, nomination_id: int) -> list[NominationReview]:
    """Staff's steps on the nomination, oldest first."""
    rows = await session.scalars(
        select(NominationReview)
        .where(NominationReview.nomination_id == nomination_id)
        .order_by(NominationReview.created_at, NominationReview.id)
    )
    return list(rows)


@dataclass(frozen=True)
class Candidate:
    """A submitted nomination with its enterprise and town names."""

    nomination: Nomination
    enterprise: str
    town: str


_ORDER = [
    NominationStatus.SUBMITTED,
    NominationStatus.MORE_REQUESTED,
    NominationStatus.ACCEPTED,
    NominationStatus.SELECTED,
    NominationStatus.REJECTED,
]


async def candidates(session: AsyncSession) -> list[Candidate]:
    """Every nomination staff see (not drafts): those to review first, then by name."""
    rows = await session.execute(
        select(Nomination, Enterprise.name, Town.name)
        .join(Enterprise, Enterprise.id == Nomination.enterprise_id)
        .join(Town, Town.id == Enterprise.town_id)
        .where(Nomination.status != NominationStatus.DRAFT)
    )
    found = [Candidate(n, e, t) for n, e, t in rows]
    return sorted(found, key=lambda c: (_ORDER.index(c.nomination.status), c.enterprise))


async def status_counts(session: AsyncSession) -> dict[NominationStatus, int]:
    """How many nominations are in each status."""
    rows = await session.execute(
        select(Nomination.status, func.count()).group_by(Nomination.status)
    )
    counts = {status: 0 for status in NominationStatus}
    counts.update({NominationStatus(s): int(n) for s, n in rows})
    return counts


async def model_enterprise_ids(session: AsyncSession) -> set[int]:
    """The enterprises selected as the district's models."""
    rows = await session.scalars(
        select(Nomination.enterprise_id).where(Nomination.status == NominationStatus.SELECTED)
    )
    return set(rows)


async def model_enterprise_names(session: AsyncSession) -> set[str]:
    """The names of the enterprises selected as models (the export marks their rows)."""
    ids = await model_enterprise_ids(session)
    if not ids:
        return set()
    return set(await session.scalars(select(Enterprise.name).where(Enterprise.id.in_(ids))))


# What the bot knows of an enterprise ------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """An enterprise's figures from the bot, beside its own account of itself."""

    workers: int  # out-of-town workers registered with it
    checked_in: int
    staying: int  # whose current plan is to stay
    letter_read: int
    open_requests: int
    solved_requests: int
    reported_days: int = 0  # days the contact sent a headcount report
    on_time_days: int = 0  # of those, days with a report before the deadline

    @property
    def letter_percent(self) -> int:
        """The share of its workers who said they read the open letter."""
        return round(100 * self.letter_read / self.workers) if self.workers else 0


async def figures(session: AsyncSession, enterprise_id: int) -> Figures:
    """The enterprise's workers, their plans, the open letter, its requests and reports."""
    latest_plan = (
        select(CheckIn.plan)
        .where(CheckIn.person_id == Person.id)
        .order_by(CheckIn.created_at.desc(), CheckIn.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    checked = exists().where(CheckIn.person_id == Person.id)
    read = exists().where(LetterRead.person_id == Person.id)
    row = (
        await session.execute(
            select(
                func.count(Person.id),
                func.count(Person.id).filter(checked),
                func.count(Person.id).filter(latest_plan == Plan.STAY.value),
                func.count(Person.id).filter(read),
            ).where(Person.role == Role.WORKER, Person.enterprise_id == enterprise_id)
        )
    ).one()
    open_requests, solved = await requests.enterprise_counts(session, enterprise_id)
    day = func.distinct(Report.local_date)
    reported, on_time = (
        await session.execute(
            select(func.count(day), func.count(day).filter(Report.late.is_(False))).where(
                Report.enterprise_id == enterprise_id
            )
        )
    ).one()
    return Figures(
        workers=int(row[0]),
        checked_in=int(row[1]),
        staying=int(row[2]),
        letter_read=int(row[3]),
        open_requests=open_requests,
        solved_requests=solved,
        reported_days=int(reported),
        on_time_days=int(on_time),
    )
