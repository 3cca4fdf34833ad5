"""The district's own daily jobs: the digest to staff, and the retention purge.

The digest is the day's picture (/stats) and the missing list (/missing), sent at
`stats.digest_time` to every staff member and administrator, and to each town officer for
their own town, in their language. The purge anonymises every worker once the retention
date has passed (models/privacy.py), and is audited.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

from bot.messenger import MessengerError, RetryAfter
from bot.render import LONGEST_REPLY_WAIT, send_long_text
from handlers.access import town_of
from handlers.actions import Msg
from handlers.picture import missing_message, picture_message
from models import people, privacy, stats

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


def _background() -> Background | None:
    from bot.scheduler import running  # the scheduler imports this module's caller

    return running()


async def send_digest() -> None:
    """The job: the day's figures and the missing list to every member of staff."""
    background = _background()
    if background is None:
        return
    await digest(background, background.app.clock())


async def digest(background: Background, now: datetime) -> int:
    """Send the digest; how many staff members got it."""
    app = background.app
    settings = app.settings
    day = now.astimezone(settings.campaign.zone).date()
    sent = 0
    async with app.sessions() as session:
        readers = await people.staff_readers(session)
        texts: dict[tuple[int | None, str], str] = {}
        for reader in readers:
            if reader.chat_id is None:
                continue
            town = town_of(reader)
            key = (town, reader.language)
            if key not in texts:
                picture = await stats.picture(session, day, town)
                missing = await stats.missing(session, day, town)
                body = picture_message(picture, settings.stats.gap_threshold)
                listed = missing_message(missing, day, admin=False)
                message = Msg("stats.digest", picture=body, missing=listed)
                texts[key] = app.catalogs.render(reader.language, message)
            if await _deliver(background, reader.chat_id, texts[key], reader.id):
                sent += 1
    log.info("daily digest sent to %d staff member(s)", sent)
    return sent


async def _deliver(background: Background, chat_id: int, text: str, person_id: int) -> bool:
    """One staff member's digest, cut to Telegram's limit; waits once when told to."""
    for attempt in range(2):
        try:
            await send_long_text(background.messenger, chat_id, text)
            return True
        except RetryAfter as wait:
            if attempt or wait.seconds > LONGEST_REPLY_WAIT:
                log.info("digest not delivered to person %s: told to wait", person_id)
                return False
            await asyncio.sleep(wait.seconds)
        except MessengerError as error:
            log.info("digest not delivered to person %s: %s", person_id, type(error).__name__)
            return False
    return False


async def purge_if_due() -> None:
    """The job: anonymise every worker once the retention date has passed."""
    background = _background()
    if background is None:
        return
    app = background.app
    settings = app.settings
    async with app.sessions() as session, session.begin():
        erased = await privacy.purge_after_retention(
            session, settings.retention_until, settings.campaign.zone, app.clock(), "scheduler"
        )
    if erased is not None and erased.people:
        log.info("retention purge anonymised %d worker(s)", erased.people)
