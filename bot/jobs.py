"""The campaign's recurring jobs: reminders and digests, added when the scheduler starts.

Each job is a module-level coroutine function (APScheduler stores a reference to it) called
with the running service first (bot/scheduler.py), with an explicit id, added with
replace_existing so a restart does not add it twice. Jobs only write outbox rows
(handlers/outbox.py); the sender sends.

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
from bot.job_service import given
from handlers.actions import N_, Msg, Raw
from handlers.outbox import Message, post
from handlers.report_reminders import reminder_text
from models import broadcasts, conversations, nominations
from models.broadcasts import Audience, Purpose
from models.nominations import Gap
from models.people import Role

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)

REMINDER_JOB = "report-reminder:"
REASK_JOB = "checkin-reask"
REASK = N_("checkin.remind.again")
# Nominations: the reminder before the deadline, and what the contacts hear after it.
NOMINATION_REMIND_JOB = "nomination-reminder"
NOMINATION_CLOSE_JOB = "nomination-close"
PRUNE_UPDATES_JOB = "processed-updates-prune"
NOMINATION_REMIND_AT = time(10, 0)
NOMINATION_REMIND_NONE = N_("nominate.remind.none")
NOMINATION_REMIND_DRAFT = N_("nominate.remind.draft")
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
    # Update ids past Telegram's redelivery window go, hourly, so the table stays small.
    scheduler.add_job(
        prune_processed_updates,
        CronTrigger(minute=17),
        id=PRUNE_UPDATES_JOB,
        replace_existing=True,
    )
    # Requests a contact left unanswered too long go to staff (bot/escalation.py).
    escalation.schedule(background)
    # The digest to staff and the retention purge (bot/daily.py).
    schedule_district_jobs(background)


async def remind_unreported(at: str, *, service: Background | None = None) -> None:
    """The job: remind the contacts of enterprises without today's report."""
    running = given(service)
    async with _writing:
        await write_report_reminder(
            running.app.sessions, running.settings, running.app.clock(), time.fromisoformat(at)
        )
    running.sender.wake()


async def reask_workers(*, service: Background | None = None) -> None:
    """The job: ask undecided and stale workers to check in again."""
    running = given(service)
    async with _writing:
        await write_reask(running.app.sessions, running.settings, running.app.clock())
    running.sender.wake()


async def prune_processed_updates(*, service: Background | None = None) -> None:
    """The job: forget the update ids Telegram can no longer deliver again."""
    running = given(service)
    cutoff = running.app.clock() - conversations.REDELIVERY_WINDOW
    async with running.app.sessions() as session, session.begin():
        gone = await conversations.forget_processed_before(session, cutoff)
    log.info("forgot %d processed update ids", gone)


async def remind_nominations(*, service: Background | None = None) -> None:
    """The job: remind the contacts of enterprises that have not submitted a nomination."""
    running = given(service)
    async with _writing:
        await write_nomination_reminders(
            running.app.sessions, running.settings, running.app.clock()
        )
    running.sender.wake()


async def close_nominations(*, service: Background | None = None) -> None:
    """The job: after the deadline, submit the complete drafts and tell the contacts."""
    running = given(service)
    async with _writing:
        await write_nomination_close(running.app.sessions, running.settings, running.app.clock())
    running.sender.wake()


# What the jobs write (plain functions of the clock, for tests) -------------------------------


def _local_day(settings: Settings, now: datetime) -> date | None:
    """Today's local date, if it is in the reporting period."""
    today = now.astimezone(settings.campaign.zone).date()
    first, last = settings.reporting_period
    return today if first <= today <= last else None


async def _write(
    session: AsyncSession, text: Msg, audience: Audience, purpose: Purpose, now: datetime
) -> int | None:
    """The message to the audience, through the outbox; its id, or None if nobody is in it."""
    count = await broadcasts.count_audience(session, audience)
    if count == 0:
        return None
    written = await post(
        session, Message(text), audience, purpose, now, via="scheduler", counted=count
    )
    return written.id


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
        if await broadcasts.sent_since(session, Purpose.REPORT_REMINDER, since):
            return None
        return await _write(session, text, audience, Purpose.REPORT_REMINDER, now)


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
        not_sent=(Purpose.REASK, Purpose.NUDGE),
        not_sent_since=datetime.combine(quiet_from, time(0), zone).isoformat(),
    )
    midnight = datetime.combine(today, time(0), zone)
    async with sessions() as session, session.begin():
        if await broadcasts.sent_since(session, Purpose.REASK, min(midnight, now)):
            return None
        return await _write(session, Msg(REASK), audience, Purpose.REASK, now)


async def _enterprises_told(session: AsyncSession, keys: set[str], since: datetime) -> set[int]:
    """The enterprises whose contacts were sent a nomination message of these keys since."""
    found = [
        b
        for b in await broadcasts.sent_since(session, Purpose.NOMINATION, since)
        if (b.message or {}).get("text", {}).get("msg") in keys
    ]
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
    text = Msg(key, enterprise=Raw(item.enterprise), deadline=deadline.isoformat())
    audience = Audience(role=Role.CONTACT, enterprise_id=item.enterprise_id)
    return await _write(session, text, audience, Purpose.NOMINATION, now)


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
            session,
            {NOMINATION_REMIND_NONE, NOMINATION_REMIND_DRAFT},
            datetime.combine(first, time(0), zone),
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
        closed = {NOMINATION_SUBMITTED, *NOMINATION_NOT_SUBMITTED.values()}
        told = await _enterprises_told(session, closed, end)
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
