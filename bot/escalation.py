"""The recurring job that passes unanswered requests on from employers' contacts to staff.

It runs when the longest-waiting request a contact has not answered reaches
`requests.escalate_after_hours` (and at least every few minutes, for requests opened since
on any instance; at once on start): in one transaction it marks each such request and
writes the messages to staff and to the worker to the outbox, so a crash loses nothing and
never sends them twice. Then it plans its own next run for the next such moment.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.job_service import given
from handlers import helpdesk, outbox
from handlers.flow import FlowSettings
from models import requests

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)
JOB_ID = "requests:escalate"
# Requests opened on any instance are noticed within this time at most.
LOOK_EVERY = timedelta(minutes=5)


async def escalate(
    sessions: async_sessionmaker[AsyncSession], settings: FlowSettings, now: datetime
) -> tuple[int, datetime | None]:
    """Escalate what is due now, writing the messages to the outbox; how many requests,
    and when the next one falls due (None: none is waiting)."""
    async with sessions() as session, session.begin():
        escalated, told = await helpdesk.escalate_due(session, now, settings)
        for message in told:
            await outbox.tell(session, message, now, None)
        oldest = await requests.oldest_waiting(session)
    following = oldest + settings.request_escalate_after if oldest is not None else None
    return escalated, following


async def escalate_requests(*, service: Background | None = None) -> None:
    """The job: escalate, wake the sender, and run again when the next request falls due."""
    running = given(service)
    now = running.app.clock()
    escalated, following = await escalate(running.app.sessions, running.app.engine.settings, now)
    if escalated:
        running.sender.wake()
    job = running.scheduler.get_job(JOB_ID)
    if job is not None:
        soonest = now + LOOK_EVERY
        job.modify(next_run_time=min(following, soonest) if following else soonest)


def schedule(background: Background) -> None:
    """Add the job to the started scheduler, due at once (once, whatever the restarts)."""
    background.scheduler.add_job(
        escalate_requests,
        IntervalTrigger(
            seconds=LOOK_EVERY.total_seconds(), timezone=background.settings.campaign.zone
        ),
        id=JOB_ID,
        replace_existing=True,
        next_run_time=background.app.clock(),
    )
