"""A bare aiogram echo bot: the baseline the check-in throughput is compared with.

Usage: python -m bench.echo_bot API_BASE_URL (the token comes from BOT_TOKEN).
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def main(base_url: str) -> None:
    """Echo every text message back until killed."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    router = Router()

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    await dispatcher.start_polling(bot, polling_timeout=1, tasks_concurrency_limit=64)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
