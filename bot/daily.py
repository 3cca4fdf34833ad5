"""The district's own daily jobs: the digest to staff, and the retention purge.

The digest is the day's picture (/stats) and the missing list (/missing), written to the
outbox at `stats.digest_time` for every staff member and administrator, and for each town
officer for their own town; the sender renders it in each reader's language. The purge
anonymises every worker once the retention date has passed (models/privacy.py), and is
audited.
"""

from __future__ import annotations

import logging
from datetime import datetime, time
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

from bot.job_service import given
from handlers.access import town_of
from handlers.actions import Msg
from handlers.outbox import Message, post
from handlers.picture import missing_message, picture_message
from models import people, privacy, stats
from models.broadcasts import Audience, Purpose

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)
DIGEST_JOB = "staff-digest"
PURGE_JOB = "retention-purge"
PURGE_AT = time(3, 0)  # a quiet hour


def schedule(background: Background) -> None:
    """Add the digest and the purge to the started scheduler."""
    zone = background.settings.campaign.zone
    at = background.settings.stats.digest_time
    scheduler = background.scheduler
    scheduler.add_job(
        send_digest,
        CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
        id=DIGEST_JOB,
        replace_existing=True,
    )
    scheduler.add_job(
        purge_if_due,
        CronTrigger(hour=PURGE_AT.hour, minute=PURGE_AT.minute, timezone=zone),
        id=PURGE_JOB,
        replace_existing=True,
    )


async def send_digest(*, service: Background | None = None) -> None:
    """The job: the day's figures and the missing list to every member of staff."""
    background = given(service)
    await digest(background, background.app.clock())
    background.sender.wake()


async def digest(background: Background, now: datetime) -> int:
    """Write the digest to the outbox, one message per town's readers; how many readers."""
    app = background.app
    settings = app.settings
    day = now.astimezone(settings.campaign.zone).date()
    async with app.sessions() as session, session.begin():
        readers: dict[int | None, list[int]] = {}
        for reader in await people.staff_readers(session):
            town = town_of(reader)
            readers.setdefault(town, []).append(reader.id)
        for town, ids in readers.items():
            picture = await stats.picture(session, day, town, zone=settings.campaign.zone)
            missing = await stats.missing(session, day, town)
            body = picture_message(picture, settings.stats.gap_threshold)
            listed = missing_message(missing, day, admin=False)
            message = Msg("stats.digest", picture=body, missing=listed)
            await post(
                session, Message(message), Audience(people=tuple(ids)), Purpose.DIGEST, now,
                via="scheduler", audited=False,
            )  # fmt: skip
    count = sum(len(ids) for ids in readers.values())
    log.info("daily digest written for %d staff member(s)", count)
    return count


async def purge_if_due(*, service: Background | None = None) -> None:
    """The job: anonymise every worker once the retention date has passed."""
    background = given(service)
    app = background.app
    settings = app.settings
    async with app.sessions() as session, session.begin():
        erased = await privacy.purge_after_retention(
            session, settings.retention_until, settings.campaign.zone, app.clock(), "scheduler"
        )
    if erased is not None and erased.people:
        log.info("retention purge anonymised %d worker(s)", erased.people)
