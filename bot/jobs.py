"""The campaign's recurring jobs: reminders and digests, added when the scheduler starts.

Each job is a module-level coroutine function (APScheduler stores a reference to it) with
an explicit id, added with replace_existing so a restart does not add it twice. Jobs only
enqueue broadcasts or write rows; the sender sends.

- At each of `reporting.reminder_times` (local), the contacts of enterprises without today's
  report, and only they, are reminded; at or after the deadline the reminder says it is
  overdue.
- Every day at `reporting.reask_time`, workers who are undecided and reached the day they
  chose to be asked again, or whose check-in is stale (or who never answered), are asked to
  check in again, each at most once in `reporting.reask_every_days` days.

- From `nominations.remind_days_before` days before the nomination deadline to the
  deadline, daily at 10:00, the contacts of active enterprises whose nomination is a draft
  or not begun are reminded, each enterprise once.
- Every hour after the nomination deadline (the first run just after midnight), every
  draft still open is closed: a complete one (models/nominations.py `gaps`) is submitted,
  and its contacts hear whether it was, and if not, what it lacked; each enterprise once.

The first two run only within the reporting period. A job due while the bot was down runs once on
restart within the misfire grace time: `register` keeps a stored job whose schedule is
unchanged (replacing it would move its next run past the missed one), and each job looks
for the broadcast it already wrote before writing one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import escalation
from bot.config import Settings
from bot.daily import schedule as schedule_district_jobs
from handlers.actions import N_
from handlers.report_reminders import REMINDER_PREFIX, reminder_text
from models import audit, broadcasts, nominations
from models.broadcasts import Audience, Broadcast, BroadcastStatus, ContentKind, message_text
from models.nominations import Gap
from models.people import Role

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)

REMINDER_JOB = "report-reminder:"
REASK_JOB = "checkin-reask"
# Workers' check-in reminders; a contact's nudge (handlers/flows/report.py) is one too.
CHECKIN_REMINDER_PREFIX = "checkin.remind."
REASK = N_("checkin.remind.again")
# Nominations: the reminder before the deadline, and what the contacts hear after it.
NOMINATION_REMIND_JOB = "nomination-reminder"
NOMINATION_CLOSE_JOB = "nomination-close"
NOMINATION_REMIND_AT = time(10, 0)
NOMINATION_REMINDER_PREFIX = "nominate.remind."
NOMINATION_REMIND_NONE = N_("nominate.remind.none")
NOMINATION_REMIND_DRAFT = N_("nominate.remind.draft")
NOMINATION_CLOSED_PREFIX = "nominate.deadline."
NOMINATION_SUBMITTED = N_("nominate.deadline.submitted")
NOMINATION_NOT_SUBMITTED: dict[tuple[Gap, ...], str] = {
    (Gap.MEASURE,): N_("nominate.deadline.no_measure"),
    (Gap.SUMMARY,): N_("nominate.deadline.no_summary"),
    (Gap.MEASURE, Gap.SUMMARY): N_("nominate.deadline.incomplete"),
}

Sessions = async_sessionmaker[AsyncSession]
# Two jobs due at once (after a restart) must not both write the same reminder.
_writing = asyncio.Lock()


def register(background: Background) -> None:
    """Add every recurring job to the started scheduler."""
    settings = background.settings
    zone = settings.campaign.zone
    first, last = settings.reporting_period
    start = datetime.combine(first, time(0), zone)
    end = datetime.combine(last, time(23, 59, 59), zone)

    def daily(at: time) -> CronTrigger:
        return CronTrigger(
            hour=at.hour,
            minute=at.minute,
            second=at.second,
            start_date=start,
            end_date=end,
            timezone=zone,
        )

    wanted: dict[str, tuple[Callable[..., Awaitable[None]], list[Any], CronTrigger]] = {
        f"{REMINDER_JOB}{at:%H:%M:%S}": (remind_unreported, [at.isoformat()], daily(at))
        for at in settings.reporting.reminder_times
    }
    wanted[REASK_JOB] = (reask_workers, [], daily(settings.reporting.reask_time))
    deadline = settings.nominations.deadline
    remind_from = deadline - timedelta(days=settings.nominations.remind_days_before)
    wanted[NOMINATION_REMIND_JOB] = (
        remind_nominations,
        [],
        CronTrigger(
            hour=NOMINATION_REMIND_AT.hour,
            minute=NOMINATION_REMIND_AT.minute,
            start_date=datetime.combine(remind_from, time(0), zone),
            end_date=datetime.combine(deadline, time(23, 59, 59), zone),
            timezone=zone,
        ),
    )
    # Hourly rather than once, so that a bot down at midnight still closes soon after.
    wanted[NOMINATION_CLOSE_JOB] = (
        close_nominations,
        [],
        CronTrigger(
            minute=5,
            start_date=datetime.combine(deadline + timedelta(days=1), time(0), zone),
            timezone=zone,
        ),
    )
    scheduler = background.scheduler
    named = (REASK_JOB, NOMINATION_REMIND_JOB, NOMINATION_CLOSE_JOB)
    for job in scheduler.get_jobs():
        ours = job.id.startswith(REMINDER_JOB) or job.id in named
        if ours and job.id not in wanted:
            job.remove()
    for job_id, (func, args, trigger) in wanted.items():
        stored = scheduler.get_job(job_id)
        if (
            stored is not None
            and stored.func is func
            and list(stored.args) == args
            and repr(stored.trigger) == repr(trigger)
        ):
            continue  # unchanged: keep its next run, a missed one included
        if trigger.get_next_fire_time(None, datetime.now(zone)) is None:
            # The reporting period is over: nothing more to remind of.
            if stored is not None:
                stored.remove()
            continue
        scheduler.add_job(func, trigger, args=args, id=job_id, replace_existing=True)
    # Requests a contact left unanswered too long go to staff (bot/escalation.py).
    escalation.schedule(background)
    # The digest to staff and the retention purge (bot/daily.py).
    schedule_district_jobs(background)


def _service() -> Background | None:
    from bot.scheduler import running  # the scheduler imports this module

    service = running()
    if service is None:
        log.warning("a recurring job is due but no scheduler service is running")
    return service


async def remind_unreported(at: str) -> None:
    """The job: remind the contacts of enterprises without today's report."""
    service = _service()
    if service is None:
        return
    async with _writing:
        broadcast_id = await write_report_reminder(
            service.app.sessions, service.settings, service.app.clock(), time.fromisoformat(at)
        )
    if broadcast_id is not None:
        await service.enqueue(broadcast_id)


async def reask_workers() -> None:
    """The job: ask undecided and stale workers to check in again."""
    service = _service()
    if service is None:
        return
    async with _writing:
        broadcast_id = await write_reask(
            service.app.sessions, service.settings, service.app.clock()
        )
    if broadcast_id is not None:
        await service.enqueue(broadcast_id)


async def remind_nominations() -> None:
    """The job: remind the contacts of enterprises that have not submitted a nomination."""
    await _write_and_enqueue(write_nomination_reminders)


async def close_nominations() -> None:
    """The job: after the deadline, submit the complete drafts and tell the contacts."""
    await _write_and_enqueue(write_nomination_close)


async def _write_and_enqueue(
    write: Callable[[Sessions, Settings, datetime], Awaitable[list[int]]],
) -> None:
    service = _service()
    if service is None:
        return
    async with _writing:
        numbers = await write(service.app.sessions, service.settings, service.app.clock())
    for broadcast_id in numbers:
        await service.enqueue(broadcast_id)


# What the jobs write (plain functions of the clock, for tests) -------------------------------


def _local_day(settings: Settings, now: datetime) -> date | None:
    """Today's local date, if it is in the reporting period."""
    today = now.astimezone(settings.campaign.zone).date()
    first, last = settings.reporting_period
    return today if first <= today <= last else None


async def _write(session: AsyncSession, text: str, audience: Audience, now: datetime) -> int | None:
    count = await broadcasts.count_audience(session, audience)
    if count == 0:
        return None
    broadcast = await broadcasts.add(
        session,
        Broadcast(
            content_kind=ContentKind.MESSAGE,
            text=text,
            file_id=None,
            audience=audience.to_json(),
            send_at=now,
            daily_until=None,
            status=BroadcastStatus.SCHEDULED,
            created_by=None,
            notify_chat_id=None,
            created_at=now,
        ),
    )
    scope = {
        "broadcast": broadcast.id,
        "kind": ContentKind.MESSAGE.value,
        "text": text,
        "audience": audience.to_json(),
        "send_at": now.isoformat(),
    }
    await audit.record(
        session, audit.Action.BROADCAST, now, via="scheduler", scope=scope, rows=count
    )
    log.info("%s: %d recipients (broadcast %s)", text, count, broadcast.id)
    return broadcast.id


async def write_report_reminder(
    sessions: Sessions, settings: Settings, now: datetime, at: time
) -> int | None:
    """The reminder due at `at` today to the contacts of enterprises without today's report;
    its broadcast id, or None outside the reporting period, when every enterprise with a
    reachable contact has reported, or when a reminder was written since `at` already."""
    today = _local_day(settings, now)
    if today is None:
        return None
    zone = settings.campaign.zone
    since = min(datetime.combine(today, at, zone), now)
    text = reminder_text(now.astimezone(zone).time(), settings.reporting.deadline)
    audience = Audience(role=Role.CONTACT, unreported_on=today.isoformat())
    async with sessions() as session, session.begin():
        if await broadcasts.messages_since(session, REMINDER_PREFIX, since):
            return None
        return await _write(session, text, audience, now)


async def write_reask(sessions: Sessions, settings: Settings, now: datetime) -> int | None:
    """Today's request to undecided and stale workers to check in again; its broadcast id,
    or None outside the reporting period, when nobody is due, or when it was written today."""
    today = _local_day(settings, now)
    if today is None:
        return None
    zone = settings.campaign.zone
    reporting = settings.reporting
    # Not reminded on this day or the (every - 1) days before it.
    quiet_from = today - timedelta(days=reporting.reask_every_days - 1)
    audience = Audience(
        role=Role.WORKER,
        stale_before=(today - timedelta(days=reporting.stale_days)).isoformat(),
        undecided_due=today.isoformat(),
        not_sent=CHECKIN_REMINDER_PREFIX,
        not_sent_since=datetime.combine(quiet_from, time(0), zone).isoformat(),
    )
    midnight = datetime.combine(today, time(0), zone)
    async with sessions() as session, session.begin():
        if await broadcasts.messages_since(session, REASK, min(midnight, now)):
            return None
        return await _write(session, message_text(REASK), audience, now)


async def _enterprises_told(session: AsyncSession, prefix: str, since: datetime) -> set[int]:
    """The enterprises whose contacts were sent a message starting with `prefix` since then."""
    found = await broadcasts.messages_since(session, prefix, since)
    return {
        enterprise_id
        for b in found
        if (enterprise_id := Audience.from_json(b.audience).enterprise_id) is not None
    }


async def _tell_contacts(
    session: AsyncSession,
    key: str,
    item: nominations.Unsubmitted,
    deadline: date,
    now: datetime,
) -> int | None:
    """The message `key`, naming the enterprise and the deadline, to its contacts."""
    text = message_text(key, enterprise=item.enterprise, deadline=deadline.isoformat())
    audience = Audience(role=Role.CONTACT, enterprise_id=item.enterprise_id)
    return await _write(session, text, audience, now)


async def write_nomination_reminders(
    sessions: Sessions, settings: Settings, now: datetime
) -> list[int]:
    """From `remind_days_before` days before the nomination deadline to the deadline, a
    reminder to the contacts of each active enterprise whose nomination is a draft or not
    begun, once per enterprise; the ids of the broadcasts written."""
    zone = settings.campaign.zone
    deadline = settings.nominations.deadline
    first = deadline - timedelta(days=settings.nominations.remind_days_before)
    if not first <= now.astimezone(zone).date() <= deadline:
        return []
    written: list[int] = []
    async with sessions() as session, session.begin():
        told = await _enterprises_told(
            session, NOMINATION_REMINDER_PREFIX, datetime.combine(first, time(0), zone)
        )
        for item in await nominations.unsubmitted(session):
            if item.enterprise_id in told:
                continue
            key = NOMINATION_REMIND_NONE if item.nomination is None else NOMINATION_REMIND_DRAFT
            broadcast_id = await _tell_contacts(session, key, item, deadline, now)
            if broadcast_id is not None:
                written.append(broadcast_id)
    return written


async def write_nomination_close(
    sessions: Sessions, settings: Settings, now: datetime
) -> list[int]:
    """After the nomination deadline, submit each active enterprise's complete draft and
    tell its contacts, or tell them what the draft lacked (once per enterprise); the ids of
    the broadcasts written. Nothing before the deadline's end."""
    zone = settings.campaign.zone
    deadline = settings.nominations.deadline
    end = datetime.combine(deadline + timedelta(days=1), time(0), zone)
    if now < end:
        return []
    written: list[int] = []
    async with sessions() as session, session.begin():
        told = await _enterprises_told(session, NOMINATION_CLOSED_PREFIX, end)
        for item in await nominations.unsubmitted(session):
            draft = item.nomination
            if draft is None or item.enterprise_id in told:
                continue
            if await nominations.submit(session, draft, now):
                key = NOMINATION_SUBMITTED
                log.info("nomination %s submitted at the deadline", draft.id)
            else:
                key = NOMINATION_NOT_SUBMITTED[await nominations.gaps_of(session, draft)]
            broadcast_id = await _tell_contacts(session, key, item, deadline, now)
            if broadcast_id is not None:
                written.append(broadcast_id)
    return written
