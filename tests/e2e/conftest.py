"""End-to-end fixtures: the real bot program in a subprocess against a local fake Bot API.

One bot process per runtime and database (aiogram and python-telegram-bot, each on SQLite
and, when TEST_DATABASE_URL is set, on PostgreSQL) serves most tests, each test with its own
users; tests that stop, kill or reconfigure the bot start their own, on each runtime too
(the `runtime` fixture).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import POSTGRES_URL, TOKEN, BotProcess, postgres_database
from tests.fakebotapi import FakeBotAPI, FakeUser

RUNTIMES = ["aiogram", "ptb"]
DATABASES = ["sqlite", "postgresql"]
_user_ids = count(10_000)


@pytest.fixture(scope="session")
def shared_api() -> Iterator[FakeBotAPI]:
    """The fake Bot API of the shared bot processes."""
    with FakeBotAPI(token=TOKEN) as api:
        yield api


SHARED = [
    pytest.param((runtime, database), id=runtime if database == "sqlite" else f"{runtime}-pg")
    for database in DATABASES
    for runtime in RUNTIMES
]


@pytest.fixture(scope="session", params=SHARED)
def shared_bot(
    request: pytest.FixtureRequest, shared_api: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    """One running bot per runtime and database, shared by the tests that only talk to it."""
    runtime, database = request.param
    home = tmp_path_factory.mktemp(f"bot-{runtime}-{database}")
    if database == "sqlite":
        yield from _serve(BotProcess(shared_api, home, runtime))
        return
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL end-to-end tests skipped")
    with postgres_database(f"e2e_{runtime}") as url:
        yield from _serve(BotProcess(shared_api, home, runtime, database_url=url))


def _serve(bot: BotProcess) -> Iterator[BotProcess]:
    bot.start()
    yield bot
    assert bot.stop() == 0, bot.log()


@pytest.fixture
def new_user(shared_api: FakeBotAPI) -> Iterator[Callable[..., FakeUser]]:
    """Makes fresh users (distinct ids) of the shared bot."""

    def make(language_code: str = "zh-hans") -> FakeUser:
        return shared_api.user(next(_user_ids), language_code=language_code)

    yield make


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """Each runtime in turn, for tests that start bots of their own."""
    return str(request.param)


@pytest.fixture
def own_bot(tmp_path: Path, runtime: str) -> Iterator[Callable[..., BotProcess]]:
    """Bot processes of this test's own, each on its own fake Bot API, on each runtime."""
    bots: list[BotProcess] = []

    def make(**options: Any) -> BotProcess:
        options.setdefault("runtime", runtime)
        api = FakeBotAPI(token=TOKEN).start()
        bot = BotProcess(api, tmp_path / f"bot{len(bots)}", **options)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        if bot.process is not None:
            bot.kill()
        bot.api.stop()
