"""The reference echo bots: each runtime's own transport and update reading, and nothing else.

The check-in bot's aiogram runtime reads updates as raw Bot API JSON and answers through its
messenger; its python-telegram-bot runtime reads them through PTB's application over the
aiohttp transport. The echo bot of each runtime is built from those same pieces
(bot/runtimes/), so that the check-in bot's ratio to it measures what the flows, the
rendering and the database cost, and nothing of the framework. Each update is answered in
kind, the least any bot does: a message is echoed with an inline button under it; a press
of that button is answered and the message edited.

Usage: python -m bench.echo_raw aiogram|ptb API_BASE_URL (the token comes from BOT_TOKEN).
"""

from __future__ import annotations

import asyncio
import os
import sys

from pydantic import SecretStr

from bot.config import Settings, TelegramSettings
from bot.messenger import Markup, Messenger
from bot.runtimes import aiogram_runtime, ptb_runtime
from bot.runtimes.common import stop_on_signals
from handlers.events import ButtonPress, Command, Inbound, Text

BUTTON = "echo"
KEYBOARD: Markup = {"inline_keyboard": [[{"text": BUTTON, "callback_data": BUTTON}]]}
LONG_POLL = 1


async def echo(messenger: Messenger, event: Inbound) -> None:
    """Answer one event in kind."""
    if isinstance(event, ButtonPress):
        await messenger.answer_button(event.callback_id, None, False)
        if event.message_id is not None:
            text = f"{event.data} {event.callback_id}"
            await messenger.edit_text(event.chat_id, event.message_id, text, KEYBOARD)
    elif isinstance(event, Text):
        await messenger.send_text(event.chat_id, event.text, KEYBOARD)
    elif isinstance(event, Command):
        await messenger.send_text(event.chat_id, f"/{event.name} {event.arg}", KEYBOARD)


async def run_aiogram(base_url: str, token: str) -> None:
    """The aiogram runtime's polling loop, Bot and messenger, echoing."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    bot = aiogram_runtime.new_bot(token, base_url)
    messenger = aiogram_runtime.AiogramMessenger(bot)

    async def on_event(event: Inbound) -> None:
        await echo(messenger, event)

    try:
        await aiogram_runtime.poll(bot, stop, LONG_POLL, on_event)
    finally:
        await bot.session.close()


async def run_ptb(base_url: str, token: str) -> None:
    """The PTB runtime's application (aiohttp transport, concurrent updates), echoing."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    settings = Settings(
        telegram=TelegramSettings(token=SecretStr(token), api_base_url=base_url, runtime="ptb")
    )
    application = ptb_runtime.make_application(settings, polling=True)
    messenger = ptb_runtime.PtbMessenger(application.bot)

    async def on_event(event: Inbound) -> None:
        await echo(messenger, event)

    ptb_runtime.add_handlers(application, on_event)
    await application.initialize()
    try:
        await application.start()
        try:
            await ptb_runtime.poll(application, stop, LONG_POLL)
        finally:
            await application.stop()
    finally:
        await application.shutdown()


if __name__ == "__main__":
    runners = {"aiogram": run_aiogram, "ptb": run_ptb}
    asyncio.run(runners[sys.argv[1]](sys.argv[2], os.environ["BOT_TOKEN"]))
