"""The scheduler and the sender, run by the one process configured for them.

The sender finds due outgoing messages in the outbox itself (a broadcast confirmed on any
instance, a reminder for later), so nothing mirrors that table into a job store. APScheduler
runs only the recurring jobs (bot/jobs.py), in a SQLAlchemy job store so that one due while
the bot was down runs once on restart within the misfire grace time; each job is called with
this service as its `service` argument and only writes outbox rows. A lease in the database
keeps a second process from running the scheduler and the sender at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import make_url

from bot import jobs
from bot.app import App
from bot.config import ConfigError
from bot.messenger import Messenger
from bot.resilience import Outage, RetryingExecutor, describe
from bot.sender import Schedule, Sender
from bot.telegram_http import HttpMessenger
from models import broadcasts, leases
from models.people import TELEGRAM

log = logging.getLogger(__name__)
LEASE = "scheduler"
LEASE_SECONDS = 30.0


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


@dataclass(frozen=True)
class _Call:
    """A stored job as the executor runs it: its function bound to the running service."""

    id: str
    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    misfire_grace_time: int | None
    _jobstore_alias: str
    name: str

    def __str__(self) -> str:
        return self.name


class _ServiceExecutor(RetryingExecutor):
    """Runs each stored job with the service as its `service` argument: a job store keeps
    only a reference to a module-level function, and no global is needed to find it. A job
    that finds the database out of reach is run again with backoff (RetryingExecutor)."""

    def __init__(self, service: Background) -> None:
        super().__init__(service.settings.retry)
        self._service = service

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        call = _Call(
            job.id,
            partial(job.func, service=self._service),
            tuple(job.args),
            dict(job.kwargs),
            job.misfire_grace_time,
            job._jobstore_alias,
            str(job),
        )
        super()._do_submit_job(call, run_times)


class Background:
    """The scheduler, the sender and the lease that makes them one of a kind."""

    def __init__(self, app: App, messengers: Mapping[str, Messenger] | None = None) -> None:
        self.app = app
        self.settings = app.settings
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.messengers: dict[str, Messenger] = dict(messengers or app.channels)
        self._own: HttpMessenger | None = None
        if TELEGRAM not in self.messengers and app.settings.telegram.token:
            telegram = app.settings.telegram
            self._own = HttpMessenger(
                telegram.api_base_url, app.settings.require_token(), app.files
            )
            self.messengers[TELEGRAM] = self._own
        grace = app.settings.scheduler.misfire_grace_seconds
        schedule = Schedule(app.settings.campaign.zone, grace)
        self.sender = Sender(
            app.sessions,
            self.messengers,
            app.catalogs,
            app.settings.broadcast,
            app.clock,
            schedule,
            retry=app.settings.retry,
        )
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=job_store_url(app.settings.database.url))},
            executors={"default": _ServiceExecutor(self)},
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
        """Take the lease (or fail), then start the scheduler and the sender."""
        await self._take_lease()
        await self.plan_letter()
        self.scheduler.start()
        jobs.register(self)
        self._tasks = [
            asyncio.create_task(self.sender.run(), name="sender"),
            asyncio.create_task(self._renew_regularly(), name="lease"),
        ]
        log.info("scheduler and sender running (%s)", self.holder)

    async def stop(self) -> None:
        """Stop scheduling, let the sender finish what is in flight, and give the lease up."""
        for task in self._tasks[1:]:
            task.cancel()
        await self.sender.stop()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.close()
        try:
            async with self.app.sessions() as session, session.begin():
                await leases.release(session, LEASE, self.holder)
        except Exception as error:
            # It lapses by itself within LEASE_SECONDS; a new process waits that long at most.
            log.warning("the scheduler lease was not given up: %s", describe(error))

    async def close(self) -> None:
        """Close the Telegram connection this service opened for itself."""
        if self._own is not None:
            await self._own.close()
            self._own = None

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
        outage = Outage("the scheduler lease", self.settings.retry, log)
        wait = LEASE_SECONDS / 3
        while True:
            await asyncio.sleep(wait)
            now = self.app.clock()
            try:
                async with self.app.sessions() as session, session.begin():
                    until = now + timedelta(seconds=LEASE_SECONDS)
                    kept = await leases.acquire(session, LEASE, self.holder, now, until)
            except Exception as error:
                # Sooner than the usual renewal: the lease must not lapse over a short outage.
                wait = min(outage.failed(error), LEASE_SECONDS / 3)
                continue
            outage.succeeded()
            wait = LEASE_SECONDS / 3
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

    def running(self) -> bool:
        """Whether the scheduler and the sender are running (not stopped, lease not lost)."""
        return bool(self.scheduler.running) and any(
            t.get_name() == "sender" and not t.done() for t in self._tasks
        )


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
    app: App, messengers: Mapping[str, Messenger] | None = None
) -> AsyncIterator[Background | None]:
    """Run the scheduler and the sender for the duration, where this process is meant to;
    `messengers` reach each channel (by default those the runtimes registered in the app;
    Telegram's is made here when not given and a token is set)."""
    if not app.settings.scheduler.enabled:
        yield None
        return
    service = Background(app, messengers)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
