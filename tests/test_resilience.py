"""Riding out outages (bot/resilience.py): said once, tried again with backoff, told from bugs;
the database waited for at start; webhook bodies that are not updates; a stuck sender."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.app import build_app
from bot.cli import DATABASE_UNREACHABLE, Refused, wait_for_database
from bot.config import DatabaseSettings, RetrySettings, SchedulerSettings, Settings
from bot.logs import SeldomRepeated
from bot.resilience import (
    Backoff,
    Outage,
    RetryingExecutor,
    describe,
    keep_trying,
    retrying,
    unavailable,
)
from bot.runtimes.common import health
from bot.scheduler import Background
from bot.sender import Schedule, Sender
from bot.updates import NotAnUpdate, read_update

FAST = RetrySettings(first_seconds=0.01, longest_seconds=0.04)


class DriverError(Exception):
    """Stands in for a driver's error, with the SQLSTATE asyncpg gives."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def dbapi(message: str, sqlstate: str) -> DBAPIError:
    return DBAPIError(
        "SELECT secret FROM people", {"p": "13800000000"}, DriverError(message, sqlstate)
    )


def test_outages_are_told_from_bugs() -> None:
    assert unavailable(ConnectionRefusedError(111, "Connect call failed"))
    assert unavailable(TimeoutError())
    assert unavailable(OperationalError("SELECT 1", {}, Exception("unable to open database")))
    assert unavailable(dbapi('database "x" is not currently accepting connections', "55000"))
    assert unavailable(dbapi("terminating connection due to administrator command", "57P01"))
    assert unavailable(dbapi("the database system is starting up", "57P03"))
    assert not unavailable(dbapi('relation "nope" does not exist', "42P01"))
    assert not unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not unavailable(ValueError("a bug"))


def test_a_database_error_is_described_without_its_statement_or_parameters() -> None:
    said = describe(dbapi('database "x" is not currently accepting connections\nHINT', "55000"))
    assert said == 'DriverError: database "x" is not currently accepting connections'
    assert (
        describe(ConnectionRefusedError(111, "refused"))
        == "ConnectionRefusedError: [Errno 111] refused"
    )


def test_the_backoff_doubles_up_to_the_longest_and_starts_again() -> None:
    backoff = Backoff(1, 5)
    assert [backoff.next() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 1


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("the test loop", RetrySettings(first_seconds=1, longest_seconds=8))
    error = ConnectionRefusedError(111, "refused")
    with caplog.at_level(logging.INFO):
        waits = [outage.failed(error) for _ in range(5)]
        outage.succeeded()
        outage.succeeded()
        outage.failed(error)
    assert waits == [1, 2, 4, 8, 8]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3, said
    assert said[0].startswith("the test loop: the database is out of reach (ConnectionRefused")
    assert (
        said[1].startswith("the test loop: working again after") and "(5 failed tries)" in said[1]
    )
    assert said[2].startswith("the test loop: the database is out of reach")
    assert not any(r.exc_info for r in caplog.records), "no traceback for an outage"


def test_a_bug_is_logged_once_with_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("the test loop", FAST)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            try:
                raise KeyError("bug")
            except KeyError as error:
                outage.failed(error)
    [record] = caplog.records
    # (exc_text where the bot's log filter, set up by an earlier test, formatted it already)
    assert record.levelno == logging.ERROR and (record.exc_info or record.exc_text)


async def test_retrying_goes_on_through_an_outage_but_not_past_a_bug() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise ConnectionRefusedError(111, "refused")
        return "done"

    assert await retrying(flaky, Outage("flaky", FAST)) == "done"
    assert calls == 4

    async def buggy() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        await retrying(buggy, Outage("buggy", FAST))


async def test_keep_trying_says_each_attempt_and_gives_up_when_told(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refused() -> None:
        raise ConnectionRefusedError(111, "refused")

    with caplog.at_level(logging.INFO):
        error = await keep_trying(
            refused, "the thing", Backoff(0.01, 0.02), unavailable, give_up_after=0.1
        )
    assert isinstance(error, ConnectionRefusedError)
    attempts = [r.getMessage() for r in caplog.records]
    assert len(attempts) >= 3
    assert all(a.startswith("the thing unreachable (ConnectionRefusedError") for a in attempts)
    assert "attempt 1, trying again in 0.0 s" in attempts[0]

    stop = asyncio.Event()
    stop.set()
    assert (
        await keep_trying(refused, "the thing", Backoff(5, 5), unavailable, stop=stop) is not None
    )


async def test_a_scheduled_job_is_run_again_until_the_database_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[float] = []
    done = asyncio.Event()

    async def job() -> None:
        runs.append(time.monotonic())
        if len(runs) < 3:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        done.set()

    scheduler = AsyncIOScheduler(executors={"default": RetryingExecutor(FAST)})
    scheduler.start()
    try:
        with caplog.at_level(logging.INFO, logger="bot.resilience"):
            scheduler.add_job(job, id="flaky-job")
            await asyncio.wait_for(done.wait(), 10)
    finally:
        scheduler.shutdown(wait=False)
    assert len(runs) == 3
    said = [r.getMessage() for r in caplog.records if r.name == "bot.resilience"]
    assert said[0].startswith("job flaky-job: the database is out of reach")
    assert said[1].startswith("job flaky-job: working again") and len(said) == 2


# The database at start -------------------------------------------------------------------


async def test_the_database_is_waited_for_at_start(tmp_path: Path) -> None:
    folder = tmp_path / "not-yet"
    settings = Settings(
        database=DatabaseSettings(
            url=f"sqlite+aiosqlite:///{folder / 'bot.db'}", start_wait_seconds=30
        ),
        retry=FAST,
    )

    async def mount() -> None:
        await asyncio.sleep(0.2)
        folder.mkdir()  # the volume the database lives on is there now

    mounting = asyncio.create_task(mount())
    await asyncio.wait_for(wait_for_database(settings), 10)
    await mounting


async def test_an_unreachable_database_at_start_is_named_without_its_password() -> None:
    url = "postgresql+asyncpg://outreach:s3cr3t-pw@127.0.0.1:1/outreach_db"
    settings = Settings(database=DatabaseSettings(url=url, start_wait_seconds=0), retry=FAST)
    with pytest.raises(Refused) as refused:
        await wait_for_database(settings)
    assert refused.value.code == DATABASE_UNREACHABLE
    said = str(refused.value)
    assert said.startswith("the database 127.0.0.1:1/outreach_db is unreachable")
    assert "s3cr3t-pw" not in said and "outreach:" not in said


# Webhook bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"update_id": 1, "message": {"message_id": 1, "from": {"id": 5}}}', "no 'chat'"),
        (b'{"message": {"message_id": 1, "from": {"id": 5}, "chat": {"id": 5}}}', "no 'update_id'"),
        (b"[" * 50_000 + b"]" * 50_000, "not JSON (RecursionError)"),
        (b'{"update_id": "x", "message": {}}', "wrong shape (ValueError)"),
        (b'{"update_id": 1, "message": {"from": [[1]], "chat": {"id": 5}}}', "wrong shape"),
        (b"[]", "a JSON list, not an object"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_body_that_is_not_an_update_is_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(NotAnUpdate, match=reason.replace("(", r"\(").replace(")", r"\)")):
        read_update(body)


def test_an_update_is_read_with_its_event() -> None:
    body = (
        b'{"update_id": 7, "message": {"message_id": 1, "from": {"id": 5},'
        b' "chat": {"id": 5, "type": "private"}, "text": "hi"}}'
    )
    update, event = read_update(body)
    assert update["update_id"] == 7 and event is not None and event.chat_id == 5


# A stuck sender -----------------------------------------------------------------------------


async def test_health_is_503_while_the_sender_is_stuck(tmp_path: Path) -> None:
    settings = Settings(
        database=DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"),
        scheduler=SchedulerSettings(enabled=True),
    )
    app = await build_app(settings)
    try:
        schedule = Schedule(settings.campaign.zone, settings.scheduler.misfire_grace_seconds)
        sender = Sender(app.sessions, {}, app.catalogs, settings.broadcast, app.clock, schedule)
        # The service as health() reads it: its sender, and whether it runs.
        service = cast(Background, SimpleNamespace(sender=sender, running=lambda: True))
        sender.running = True
        status, body = await health(app, service)
        assert (status, body["sender"]["alive"], body["sender"]["stuck"]) == (200, True, False)
        sender.last_pass = time.monotonic() - settings.broadcast.stuck_seconds - 1
        status, body = await health(app, service)
        assert (status, body["sender"]["stuck"]) == (503, True)
        assert body["database"] == "ok" and body["sender"]["last_pass_seconds_ago"] > 60
        sender.running = False
        sender.last_pass = time.monotonic()
        assert (await health(app, service))[0] == 503, "a sender that has ended is stuck"
    finally:
        await app.close()


def test_apschedulers_own_job_store_warning_is_seldom_repeated() -> None:
    quiet = SeldomRepeated("Error getting due jobs", every=300)

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("apscheduler.scheduler", logging.WARNING, "", 0, message, (), None)

    said = [quiet.filter(record("Error getting due jobs from job store %r: %s")) for _ in range(5)]
    assert said == [True, False, False, False, False]
    assert quiet.filter(record("Added job %s")), "other messages pass"
