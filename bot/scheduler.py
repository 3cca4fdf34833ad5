"""The scheduler and the sender, run by the one process configured for them.

APScheduler keeps its jobs in a SQLAlchemy job store, so a broadcast scheduled for later
survives restarts; a job due while the bot was down runs once if it is no later than the
misfire grace time. Jobs only enqueue deliveries; the sender sends. The broadcasts table is
the source of truth: every few seconds the scheduled broadcasts are matched with jobs, so a
broadcast confirmed in any instance is picked up here. A lease in the database keeps a
second process from running the scheduler and the sender at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.engine import make_url

from bot import jobs
from bot.app import App
from bot.config import ConfigError
from bot.messenger import Messenger
from bot.sender import Sender
from bot.telegram_http import HttpMessenger
from models import broadcasts, leases
from models.broadcasts import Broadcast, BroadcastStatus

log = logging.getLogger(__name__)
LEASE = "scheduler"
LEASE_SECONDS = 30.0
SYNC_SECONDS = 2.0

# APScheduler stores jobs as a reference to a module-level function; that function finds
# the running service here. Set by Background.start, cleared by stop.
_service: Background | None = None


class SchedulerTaken(ConfigError):
    """Another live process holds the scheduler lease."""


def job_store_url(database_url: str) -> str:
    """A synchronous URL for APScheduler's job store.

    On SQLite the jobs live in a file of their own beside the database: SQLite has one
    writer per file, and the job store writes from the event loop's thread, where it could
    otherwise wait for a transaction of the bot's that cannot finish until it returns.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return "sqlite://"
        stem, dot, suffix = database.rpartition(".")
        jobs = f"{stem}-jobs.{suffix}" if dot else f"{database}-jobs"
        return f"sqlite:///{jobs}"
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def running() -> Background | None:
    """The scheduler service of this process, for jobs to reach (None where none runs)."""
    return _service


def job_id(broadcast_id: int) -> str:
    """The scheduler's job id of a broadcast (explicit, so it is never added twice)."""
    return f"broadcast:{broadcast_id}"


async def run_broadcast(broadcast_id: int) -> None:
    """The job: enqueue the broadcast's run that is due now."""
    service = _service
    if service is None:
        log.warning("broadcast %s is due but no scheduler service is running", broadcast_id)
        return
    await service.enqueue(broadcast_id)


class Background:
    """The scheduler, the sender and the lease that makes them one of a kind."""

    def __init__(self, app: App, messenger: Messenger | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        telegram = app.settings.telegram
        # Without a token (the web channel alone) everyone is on the web: its messenger sends.
        self._http: HttpMessenger | None = None
        if messenger is None:
            self._http = HttpMessenger(telegram.api_base_url, app.settings.require_token())
            messenger = self._http
        self.messenger: Messenger = messenger
        self.sender = Sender(
            app.sessions, self.messenger, app.catalogs, app.settings.broadcast, app.clock
        )
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=job_store_url(app.settings.database.url))},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": app.settings.scheduler.misfire_grace_seconds,
            },
            timezone=app.settings.campaign.zone,
        )
        self._tasks: list[asyncio.Task[None]] = []

    # Life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take the lease (or fail), then start the scheduler, the sync and the sender."""
        global _service
        await self._take_lease()
        _service = self
        await self.plan_letter()
        self.scheduler.start()
        jobs.register(self)
        await self.sync()
        self._tasks = [
            asyncio.create_task(self.sender.run(), name="sender"),
            asyncio.create_task(self._sync_regularly(), name="scheduler-sync"),
            asyncio.create_task(self._renew_regularly(), name="lease"),
        ]
        log.info("scheduler and sender running (%s)", self.holder)

    async def stop(self) -> None:
        """Stop scheduling, let the sender finish what is in flight, and give the lease up."""
        global _service
        for task in self._tasks[1:]:
            task.cancel()
        await self.sender.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        _service = None
        await self.release()

    async def release(self) -> None:
        """Close the Bot API connections this service opened (none with the web's messenger)."""
        if self._http is not None:
            await self._http.close()
        async with self.app.sessions() as session, session.begin():
            await leases.release(session, LEASE, self.holder)

    async def _take_lease(self) -> None:
        deadline = asyncio.get_running_loop().time() + LEASE_SECONDS + 5
        while True:
            now = self.app.clock()
            async with self.app.sessions() as session, session.begin():
                until = now + timedelta(seconds=LEASE_SECONDS)
                if await leases.acquire(session, LEASE, self.holder, now, until):
                    return
                current = await leases.holder_of(session, LEASE)
                if current is not None and _is_alive_here(current.holder):
                    raise SchedulerTaken(
                        f"scheduler.enabled: process {current.holder} already runs the "
                        "scheduler and sender; set scheduler.enabled = false here"
                    )
                if current is not None and _is_dead_here(current.holder):
                    log.info("taking the scheduler over from %s, which is gone", current.holder)
                    if await leases.take_over(session, LEASE, current.holder, self.holder, until):
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise SchedulerTaken(
                    f"scheduler.enabled: {current.holder if current else 'another process'} "
                    "already runs the scheduler and sender; set scheduler.enabled = false here"
                )
            log.info("waiting for the scheduler lease held by %s", current and current.holder)
            await asyncio.sleep(1.0)

    async def _renew_regularly(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            now = self.app.clock()
            try:
                async with self.app.sessions() as session, session.begin():
                    until = now + timedelta(seconds=LEASE_SECONDS)
                    kept = await leases.acquire(session, LEASE, self.holder, now, until)
            except Exception:
                log.exception("could not renew the scheduler lease")
                continue
            if not kept:
                log.error("the scheduler lease was lost; stopping the sender to never send twice")
                await self.sender.stop()
                if self.scheduler.running:
                    self.scheduler.shutdown(wait=False)
                return

    async def plan_letter(self) -> None:
        """The open letter goes to every worker on the publicity date (set up once)."""
        campaign = self.settings.campaign
        zone = campaign.zone
        now = self.app.clock()
        start = datetime.combine(campaign.publicity_start, time(9, 0), zone)
        end = datetime.combine(campaign.publicity_end, time(23, 59, 59), zone)
        if now > end:
            return
        async with self.app.sessions() as session, session.begin():
            await broadcasts.ensure_letter_broadcast(session, max(start, now), now)

    # Matching broadcasts with jobs ----------------------------------------------------------

    async def _sync_regularly(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            try:
                await self.sync()
            except Exception:
                log.exception("could not match scheduled broadcasts with jobs")

    async def sync(self) -> None:
        """Give every scheduled broadcast its job, and drop jobs of cancelled ones."""
        now = self.app.clock()
        grace = timedelta(seconds=self.settings.scheduler.misfire_grace_seconds)
        async with self.app.sessions() as session, session.begin():
            wanted = {job_id(b.id): b for b in await broadcasts.scheduled(session)}
            for job in self.scheduler.get_jobs():
                if job.id.startswith("broadcast:") and job.id not in wanted:
                    job.remove()
            for key, broadcast in wanted.items():
                if self.scheduler.get_job(key) is not None:
                    continue
                trigger = self._trigger(broadcast, now, grace)
                if trigger is None:
                    log.warning("broadcast %s was due while no scheduler ran; missed", broadcast.id)
                    await broadcasts.mark_missed(session, broadcast.id)
                    continue
                self.scheduler.add_job(
                    run_broadcast,
                    trigger,
                    args=[broadcast.id],
                    id=key,
                    replace_existing=True,
                )

    def _trigger(self, broadcast: Broadcast, now: datetime, grace: timedelta) -> Any:
        zone = self.settings.campaign.zone
        if broadcast.daily_until is None:
            if broadcast.send_at + grace < now:
                return None
            return DateTrigger(run_date=broadcast.send_at)
        last = datetime.combine(broadcast.daily_until, time(23, 59, 59), zone)
        if last < now:
            return None
        local = broadcast.send_at.astimezone(zone)
        return CronTrigger(
            hour=local.hour,
            minute=local.minute,
            second=local.second,
            start_date=broadcast.send_at,
            end_date=last,
            timezone=zone,
        )

    # The job's work ----------------------------------------------------------------------

    async def enqueue(self, broadcast_id: int) -> None:
        """Write the deliveries of the run due now, then wake the sender."""
        now = self.app.clock()
        zone = self.settings.campaign.zone
        async with self.app.sessions() as session, session.begin():
            broadcast = await broadcasts.get(session, broadcast_id)
            if broadcast is None or broadcast.status is not BroadcastStatus.SCHEDULED:
                return
            if broadcast.daily_until is None:
                due_at, last = broadcast.send_at, True
            else:
                today = now.astimezone(zone).date()
                at = broadcast.send_at.astimezone(zone).timetz()
                due_at = datetime.combine(today, at)
                last = today >= broadcast.daily_until
            run = await broadcasts.enqueue_run(session, broadcast, due_at, now)
            if last:
                await broadcasts.mark_done(session, broadcast.id)
        if run is not None:
            log.info("broadcast %s: %d deliveries enqueued", broadcast_id, run.total)
        self.sender.wake()


def _pid_here(holder: str) -> int | None:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    return int(pid_text)


def _is_alive_here(holder: str) -> bool:
    pid = _pid_here(holder)
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_dead_here(holder: str) -> bool:
    pid = _pid_here(holder)
    if pid is None:
        return False
    return pid == os.getpid() or not _is_alive_here(holder)


@contextlib.asynccontextmanager
async def background(
    app: App, messenger: Messenger | None = None
) -> AsyncIterator[Background | None]:
    """Run the scheduler and the sender for the duration, where this process is meant to."""
    if not app.settings.scheduler.enabled:
        yield None
        return
    service = Background(app, messenger)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
