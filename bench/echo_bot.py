"""A bare aiogram echo bot: the baseline the check-in throughput is compared with.

It answers each update in kind, the least any bot does for it: a message is echoed with an
inline button under it; a press of that button is answered and the message edited.

Usage: python -m bench.echo_bot API_BASE_URL (the token comes from BOT_TOKEN).
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

BUTTON = "echo"


async def main(base_url: str) -> None:
    """Echo every message and press until killed."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    bot = Bot(os.environ["BOT_TOKEN"], session=session)
    router = Router()

    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=BUTTON, callback_data="echo")]]
    )

    @router.message()
    async def echo(message: Message) -> None:
        await message.answer(message.text or "?", reply_markup=keyboard)

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(f"{query.data} {query.id}", reply_markup=keyboard)

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    await dispatcher.start_polling(bot, polling_timeout=1, tasks_concurrency_limit=64)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
