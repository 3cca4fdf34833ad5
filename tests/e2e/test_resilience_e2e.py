"""The real bot through outages: the database gone mid-run, the Bot API or the database
unreachable at start, and webhook bodies that are not updates. Never a traceback."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.cli import DATABASE_UNREACHABLE
from bot.runtimes.common import SECRET_HEADER
from handlers import outbox
from models.broadcasts import Audience, ContentKind, Purpose
from models.db import create_engine, create_sessionmaker
from tests.botprocess import (
    POSTGRES_URL,
    TOKEN,
    BotProcess,
    free_port,
    postgres_database,
    wait_until,
)
from tests.e2e.test_broadcast_e2e import received, seed
from tests.fakebotapi import FakeBotAPI

# Short waits between tries, so that an outage of a few seconds is many tries.
FAST_RETRY = "[retry]\nfirst_seconds = 0.2\nlongest_seconds = 0.5\n"


@pytest.fixture
def closed_port_api() -> Iterator[FakeBotAPI]:
    """A fake Bot API whose port is chosen but nothing listens on it until start()."""
    api = FakeBotAPI(token=TOKEN, port=free_port())
    yield api
    api.stop()


def lines_with(log: str, words: str) -> list[str]:
    """The log's lines that contain `words`."""
    return [line for line in log.splitlines() if words in line]


# The database out of reach mid-run -------------------------------------------------------


def allow_connections(url: str, allowed: bool) -> None:
    """Let the database take connections, or refuse them and end the ones it has."""
    name = make_url(url).database
    server = make_url(POSTGRES_URL).set(drivername="postgresql+asyncpg")

    async def run() -> None:
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                flag = "true" if allowed else "false"
                await connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {flag}'))
                if not allowed:
                    await connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    )
        finally:
            await engine.dispose()

    asyncio.run(run())


def post_to_workers(bot: BotProcess, send_at: datetime) -> None:
    """A text to every worker in the outbox, due at `send_at`, as staff would send it."""

    async def write() -> None:
        engine = create_engine(bot.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                content = outbox.StaffContent(ContentKind.TEXT, "今晚联欢会")
                now = datetime.now(UTC)
                await outbox.post(
                    session, content, Audience(), Purpose.BROADCAST, now, send_at=send_at
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def sender_of(bot: BotProcess) -> tuple[int, dict[str, Any]]:
    """/healthz's status and what it says of the sender."""
    status, body = bot.health()
    return status, body.get("sender", {})


def test_the_sender_rides_out_a_database_outage(tmp_path: Path) -> None:
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: the outage needs PostgreSQL")
    with postgres_database("outage") as url, FakeBotAPI(token=TOKEN) as api:
        config = "[broadcast]\nstuck_seconds = 1.5\n" + FAST_RETRY
        bot = BotProcess(api, tmp_path, "aiogram", "webhook", url, extra_config=config)
        try:
            seed(bot, 3)
            bot.start()
            wait_until(lambda: sender_of(bot)[0] == 200, timeout=20)
            status, sender = sender_of(bot)
            assert (status, sender["alive"], sender["stuck"]) == (200, True, False)
            # Due in a moment: whatever writes its deliveries meets the outage first.
            due = datetime.now(UTC) + timedelta(seconds=1)
            post_to_workers(bot, due)
            allow_connections(url, False)
            out_since = time.monotonic()
            wait_until(lambda: sender_of(bot)[1].get("stuck") is True, timeout=30)
            status, sender = sender_of(bot)
            assert status == 503
            assert sender["alive"] is True and sender["last_pass_seconds_ago"] >= 1.5
            # Out for three seconds (sender passes come every second), and past the due time.
            while (
                datetime.now(UTC) < due + timedelta(seconds=1) or time.monotonic() < out_since + 3
            ):
                time.sleep(0.1)
            assert not received(bot), "nothing can be sent while its rows are out of reach"
            allow_connections(url, True)
            wait_until(lambda: len(received(bot)) == 3, timeout=60)
            wait_until(lambda: sender_of(bot)[0] == 200, timeout=20)
            assert sender_of(bot)[1]["stuck"] is False
            bot.assert_alive()
            assert bot.stop() == 0, bot.log()
        finally:
            if bot.process is not None:
                bot.kill()
            allow_connections(url, True)
    log = bot.log()
    assert set(received(bot).values()) == {1}, "each worker once"
    assert len(lines_with(log, "the broadcast sender: the database is out of reach")) == 1, log
    assert len(lines_with(log, "the broadcast sender: working again")) == 1, log
    assert "Traceback" not in log, log


# Out of reach at start -----------------------------------------------------------------------


def test_the_bot_waits_for_an_unreachable_bot_api(
    tmp_path: Path, runtime: str, closed_port_api: FakeBotAPI
) -> None:
    bot = BotProcess(closed_port_api, tmp_path, runtime, extra_config=FAST_RETRY)
    try:
        bot.launch()
        wait_until(lambda: len(lines_with(bot.log(), "unreachable")) >= 3, timeout=60)
        bot.assert_alive()
        closed_port_api.start()  # the network is back
        closed_port_api.wait_for(lambda c: c.method == "getUpdates", timeout=60)
        assert bot.stop() == 0, bot.log()
    finally:
        if bot.process is not None:
            bot.kill()
    log = bot.log()
    attempts = lines_with(log, "unreachable")
    place = f"the Bot API at {closed_port_api.base_url} unreachable"
    assert all(place in line and "trying again in" in line for line in attempts), log
    assert "attempt 1," in attempts[0] and "attempt 3," in attempts[2], log
    assert "Traceback" not in log, log


def test_a_token_the_bot_api_refuses_is_one_line_and_exit_2(tmp_path: Path, runtime: str) -> None:
    with FakeBotAPI(token="999:not-this-bot") as api:
        bot = BotProcess(api, tmp_path, runtime, log_level="INFO")
        bot.launch()
        assert bot.process is not None
        assert bot.process.wait(60) == 2
    log = bot.log()
    said = lines_with(log, "config error: telegram.token: the Bot API at")
    assert len(said) == 1 and "refused it" in said[0], log
    assert TOKEN not in log and "Traceback" not in log and "Unclosed" not in log, log


def test_an_unreachable_database_at_start_is_named_then_the_bot_exits(
    tmp_path: Path, closed_port_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = "hunter2-not-for-logs"
    port = free_port()
    url = f"postgresql+asyncpg://outreach:{password}@127.0.0.1:{port}/outreach_db"
    place = f"the database 127.0.0.1:{port}/outreach_db"
    for wait, tries in (("0", 0), ("1", 2)):
        monkeypatch.setenv("OUTREACH_DATABASE__START_WAIT_SECONDS", wait)
        bot = BotProcess(
            closed_port_api,
            tmp_path / f"wait{wait}",
            database_url=url,
            log_level="INFO",
            extra_config=FAST_RETRY,
        )
        bot.launch()
        assert bot.process is not None
        assert bot.process.wait(60) == DATABASE_UNREACHABLE
        log = bot.log()
        said = lines_with(log, place)
        assert len(lines_with(log, "trying again in")) >= tries, log
        assert len(said) == len(log.strip().splitlines()), f"only lines naming it:\n{log}"
        assert "giving up after database.start_wait_seconds" in said[-1], log
        assert password not in log and "Traceback" not in log, log


# Webhook bodies that are not updates ---------------------------------------------------------

NESTED = b"[" * 100_000 + b"]" * 100_000
NOT_UPDATES: list[bytes] = [
    json.dumps(
        {
            "update_id": 1,
            "message": {"message_id": 1, "date": 0, "from": {"id": 5, "first_name": "A"}},
        }
    ).encode(),  # no chat
    json.dumps(
        {
            "message": {
                "message_id": 1,
                "date": 0,
                "from": {"id": 5, "first_name": "A"},
                "chat": {"id": 5, "type": "private"},
                "text": "hi",
            }
        }
    ).encode(),  # no update id
    NESTED,
    b'{"update_id": 2, "message": ' + NESTED + b"}",
    b'{"update_id": 3, "callback_query": {"id": "x", "from": [[[1]]]}}',
    b'"just a string"',
    b"not json at all",
]


def post(bot: BotProcess, body: bytes) -> int:
    """POST a raw body to the bot's webhook with the right secret; the HTTP status."""
    request = Request(
        bot.webhook_url,
        data=body,
        headers={"Content-Type": "application/json", SECRET_HEADER: bot.webhook_secret},
    )
    try:
        with urlopen(request, timeout=30) as reply:
            return int(reply.status)
    except HTTPError as error:
        return int(error.code)


def test_webhook_bodies_that_are_not_updates_get_400_and_one_line(
    own_bot: Callable[..., BotProcess],
) -> None:
    bot = own_bot(mode="webhook", log_level="INFO")
    bot.start()
    assert [post(bot, body) for body in NOT_UPDATES] == [400] * len(NOT_UPDATES)
    update = bot.api.message(77, "/start")
    assert post(bot, json.dumps({**update, "update_id": 4}).encode()) == 200
    bot.assert_alive()
    assert bot.stop() == 0, bot.log()
    log = bot.log()
    refused = lines_with(log, "refused a body that is not an update")
    assert len(refused) == len(NOT_UPDATES), log
    assert "no 'chat'" in refused[0] and "no 'update_id'" in refused[1], log
    assert "Traceback" not in log, log
