"""Erasure and retention: personal fields blanked, the figures they counted in kept.

A person who forgets, and every worker once the retention date has passed, keeps a row
(with its role, enterprise and dates) so that check-ins, deliveries and reports still add
up (models.stats counts an erased worker by their check-ins); their name, phone, home
town, travel destinations, free-text notes and conversation state are gone, from every
enterprise that still showed them as its contact too, and nothing links the row to a
Telegram account or a web chat any more (a web chat's messages and files are erased). On
SQLite the erasure also leaves the disk: deleted content is zeroed and the write-ahead log
truncated once the transaction commits (models.db).

A check-in is counted as blanked when it had something to blank (a note or a destination),
by the preview and the purge alike, so the dry run and the purge's report agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement

from models import audit, organisation, requests, web
from models.broadcasts import LetterText
from models.checkins import CheckIn
from models.conversations import Conversation
from models.db import wipe_after_commit
from models.people import WEB, Person, Role


@dataclass(frozen=True)
class Erased:
    """What an erasure or a purge touched."""

    people: int
    checkins: int


async def erase_person(session: AsyncSession, person: Person, now: datetime) -> Erased:
    """Blank one person's personal data; their contributions to the figures stay."""
    await wipe_after_commit(session)
    if person.role is Role.CONTACT and person.enterprise_id is not None:
        # The contact's name and phone may also sit on the enterprise.
        await organisation.forget_contact_details(session, person.enterprise_id, person)
    # And on an enterprise they were the contact of before they moved on.
    await organisation.forget_contact_details(session, None, person)
    if person.telegram_user_id is not None:
        await session.execute(
            delete(Conversation).where(
                Conversation.channel == person.channel,
                Conversation.user_id == person.telegram_user_id,
            )
        )
    if person.channel == WEB and person.chat_id is not None:
        # The page's copy of the conversation holds what they typed and were told.
        await web.forget_chat(session, person.chat_id)
    checkins = await _blank_checkins(session, CheckIn.person_id == person.id)
    # What they wrote asking for help goes too; the requests still count.
    await requests.blank_person(session, person.id)
    await session.execute(
        update(LetterText).where(LetterText.updated_by == person.id).values(updated_by=None)
    )
    _blank(person, now)
    await session.flush()
    return Erased(people=1, checkins=checkins)


def _blank(person: Person, now: datetime) -> None:
    person.full_name = None
    person.phone = None
    person.hukou_province = None
    person.hukou_city = None
    person.telegram_user_id = None
    person.chat_id = None
    person.active = False
    person.erased_at = now


def _blankable() -> ColumnElement[bool]:
    """A check-in with something personal left to blank."""
    return or_(
        CheckIn.note.is_not(None),
        CheckIn.destination_city.is_not(None),
        CheckIn.destination_province.is_not(None),
    )


async def _blank_checkins(session: AsyncSession, which: ColumnElement[bool]) -> int:
    """Blank the check-ins' notes and destinations; how many had any."""
    result = await session.execute(
        update(CheckIn)
        .where(which, _blankable())
        .values(note=None, destination_city=None, destination_province=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _unpurged_workers() -> ColumnElement[bool]:
    return and_(Person.role == Role.WORKER, Person.erased_at.is_(None))


def _workers_checkins() -> ColumnElement[bool]:
    return CheckIn.person_id.in_(select(Person.id).where(Person.role == Role.WORKER))


async def purge_preview(session: AsyncSession) -> Erased:
    """How many workers and check-ins the retention purge would blank now: the figures its
    report will give."""
    people = await session.scalar(select(func.count()).where(_unpurged_workers()))
    checkins = await session.scalar(
        select(func.count()).select_from(CheckIn).where(_workers_checkins(), _blankable())
    )
    return Erased(people=int(people or 0), checkins=int(checkins or 0))


async def purge_workers(session: AsyncSession, now: datetime) -> Erased:
    """Blank every worker's personal data (after the retention date); each check-in is
    counted once, when it is blanked."""
    found = list(await session.scalars(select(Person).where(_unpurged_workers())))
    total_checkins = 0
    for person in found:
        erased = await erase_person(session, person, now)
        total_checkins += erased.checkins
    # Check-ins of workers erased before, whatever is left in them.
    total_checkins += await _blank_checkins(session, _workers_checkins())
    return Erased(people=len(found), checkins=total_checkins)


def retention_over(retention_until: date, zone: tzinfo, now: datetime) -> bool:
    """Whether the day after the retention date has begun where the campaign runs."""
    return now.astimezone(zone).date() > retention_until


async def purge_after_retention(
    session: AsyncSession, retention_until: date, zone: tzinfo, now: datetime, via: str
) -> Erased | None:
    """The retention purge, once the date has passed (None before); audited."""
    if not retention_over(retention_until, zone, now):
        return None
    erased = await purge_workers(session, now)
    await audit.record(
        session,
        audit.Action.PURGE,
        now,
        via=via,
        scope={"retention_until": retention_until.isoformat(), "checkins": erased.checkins},
        rows=erased.people,
    )
    return erased
