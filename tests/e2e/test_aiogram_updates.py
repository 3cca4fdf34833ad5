"""The aiogram runtime's intake of updates, polling and webhook, with a stand-in app.

The runtime reads updates as Bot API JSON and hands each to the app as an inbound event;
these check what aiogram's dispatcher did for it before: every update reaches the app once,
a failing fetch or a failing update does not stop the bot, and a stop ends a long poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from aiogram import Bot
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods.base import TelegramMethod, TelegramType

from bot.app import App
from bot.messenger import Messenger
from bot.runtimes import aiogram_runtime
from bot.runtimes.aiogram_runtime import AiogramMessenger, PinnedResponseSession
from handlers.events import ButtonPress, Inbound, Text
from tests.botprocess import TOKEN, free_port
from tests.fakebotapi import FakeBotAPI

pytestmark = pytest.mark.e2e
SECRET = "s3cret-s3cret-s3cret-s3cret"


class StandInApp:
    """Records the events it is handed; a text "boom" fails, as a bug would."""

    def __init__(self, polling_timeout: int = 1, port: int = 0) -> None:
        self.events: list[Inbound] = []
        webhook = SimpleNamespace(
            secret=SimpleNamespace(get_secret_value=lambda: SECRET),
            path="/telegram",
            listen_host="127.0.0.1",
            listen_port=port,
            public_url=f"http://127.0.0.1:{port}/telegram",
        )
        self.settings = SimpleNamespace(
            telegram=SimpleNamespace(polling_timeout=polling_timeout, webhook=webhook)
        )

    async def on_event(self, event: Inbound, messenger: Messenger) -> None:
        if isinstance(event, Text) and event.text == "boom":
            raise RuntimeError("boom")
        self.events.append(event)


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotAPI) -> AsyncIterator[Bot]:
    session = PinnedResponseSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(TOKEN, session=session)
    yield bot
    await bot.session.close()


async def eventually(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def polling(app: StandInApp, bot: Bot, body: Callable[[], Any], api: FakeBotAPI) -> float:
    """Poll while `body` runs; the seconds the poll took to stop once told."""
    stop = asyncio.Event()
    messenger = AiogramMessenger(bot)
    task = asyncio.create_task(aiogram_runtime._poll(cast(App, app), bot, messenger, stop))
    await asyncio.to_thread(api.wait_polling)
    await body()
    stop.set()
    started = time.monotonic()
    await asyncio.wait_for(task, timeout=10)
    return time.monotonic() - started


async def test_every_polled_update_reaches_the_app_once_and_is_confirmed(
    api: FakeBotAPI, bot: Bot
) -> None:
    app = StandInApp()

    async def body() -> None:
        api.push_update(api.message(41, "hello"))
        question = {"message_id": 7, "date": 0, "chat": {"id": 41, "type": "private"}, "text": "?"}
        api.push_update(api.callback(41, question, "a|b|c"))
        await eventually(lambda: len(app.events) == 2)
        await eventually(lambda: api.pending() == [])  # confirmed by the next getUpdates

    await polling(app, bot, body, api)
    text, press = app.events
    assert isinstance(text, Text) and text.text == "hello" and text.chat_id == 41
    assert isinstance(press, ButtonPress) and press.data == "a|b|c" and press.message_id == 7


async def test_a_stop_ends_a_long_poll_at_once(api: FakeBotAPI, bot: Bot) -> None:
    app = StandInApp(polling_timeout=30)

    async def body() -> None:
        await asyncio.sleep(0.2)

    assert await polling(app, bot, body, api) < 2


class FlakySession(PinnedResponseSession):
    """Fails the first getUpdates calls, as a network outage would."""

    failures = 2

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 (aiogram's signature)
    ) -> TelegramType:
        if method.__api_method__ == "getUpdates" and self.failures:
            self.failures -= 1
            raise TelegramNetworkError(method, "the network is down")
        return await super().make_request(bot, method, timeout)


async def test_polling_goes_on_after_the_bot_api_fails(
    api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    app = StandInApp()
    session = FlakySession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(TOKEN, session=session)
    stop = asyncio.Event()
    api.push_update(api.message(42, "still here"))
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(
            aiogram_runtime._poll(cast(App, app), bot, AiogramMessenger(bot), stop)
        )
        await eventually(lambda: len(app.events) == 1)
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    await bot.session.close()
    assert session.failures == 0
    assert caplog.text.count("could not fetch updates (TelegramNetworkError)") == 2


async def test_an_update_that_fails_is_logged_and_the_next_is_handled(
    api: FakeBotAPI, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    app = StandInApp()

    async def body() -> None:
        failing = api.push_update(api.message(43, "boom"))
        api.push_update(api.message(43, "after"))
        await eventually(lambda: len(app.events) == 1)
        await eventually(lambda: f"update {failing} failed" in caplog.text)

    with caplog.at_level(logging.ERROR):
        await polling(app, bot, body, api)
    [event] = app.events
    assert isinstance(event, Text) and event.text == "after"


def _post(url: str, body: bytes, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    try:
        with urlopen(Request(url, data=body, headers=headers), timeout=10) as reply:
            return int(reply.status)
    except HTTPError as error:
        return int(error.code)


async def test_the_webhook_takes_updates_with_the_secret_only(api: FakeBotAPI, bot: Bot) -> None:
    port = free_port()
    app = StandInApp(port=port)
    stop = asyncio.Event()
    messenger = AiogramMessenger(bot)
    mark = api.mark()
    serving = asyncio.create_task(
        aiogram_runtime._serve_webhook(cast(App, app), bot, messenger, stop, None)
    )
    await eventually(lambda: any(c.method == "setWebhook" for c in api.calls[mark:]))
    url = f"http://127.0.0.1:{port}/telegram"
    update = json.dumps({**api.message(44, "via webhook"), "update_id": 900}).encode()

    def post(body: bytes, secret: str | None) -> Any:
        return asyncio.to_thread(_post, url, body, secret)

    assert await post(update, None) == 401
    assert await post(update, "wrong-secret") == 401
    assert await post(b"[1, 2]", SECRET) == 400
    assert await post(b"not json", SECRET) == 400
    assert app.events == []
    assert await post(update, SECRET) == 200
    [event] = app.events  # handled before the answer
    assert isinstance(event, Text) and event.text == "via webhook"
    stop.set()
    await asyncio.wait_for(serving, timeout=10)
