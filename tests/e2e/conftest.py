"""End-to-end fixtures: the real bot program in a subprocess against a local fake Bot API.

One bot process (per runtime) serves most tests, each test with its own users; tests that
stop, kill or reconfigure the bot start their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import TOKEN, BotProcess
from tests.fakebotapi import FakeBotAPI, FakeUser

RUNTIMES = ["aiogram"]
_user_ids = count(10_000)


@pytest.fixture(scope="session")
def shared_api() -> Iterator[FakeBotAPI]:
    """The fake Bot API of the shared bot processes."""
    with FakeBotAPI(token=TOKEN) as api:
        yield api


@pytest.fixture(scope="session", params=RUNTIMES)
def shared_bot(
    request: pytest.FixtureRequest, shared_api: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    """One running bot per runtime, shared by the tests that only talk to it."""
    bot = BotProcess(shared_api, tmp_path_factory.mktemp(f"bot-{request.param}"), request.param)
    bot.start()
    yield bot
    assert bot.stop() == 0, bot.log()


@pytest.fixture
def new_user(shared_api: FakeBotAPI) -> Iterator[Callable[..., FakeUser]]:
    """Makes fresh users (distinct ids) of the shared bot."""

    def make(language_code: str = "zh-hans") -> FakeUser:
        return shared_api.user(next(_user_ids), language_code=language_code)

    yield make


@pytest.fixture
def own_bot(tmp_path: Path) -> Iterator[Callable[..., BotProcess]]:
    """Bot processes of this test's own, each on its own fake Bot API."""
    bots: list[BotProcess] = []

    def make(**options: Any) -> BotProcess:
        api = FakeBotAPI(token=TOKEN).start()
        bot = BotProcess(api, tmp_path / f"bot{len(bots)}", **options)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        if bot.process is not None:
            bot.kill()
        bot.api.stop()
