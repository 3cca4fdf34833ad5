"""A bare python-telegram-bot echo bot: the PTB baseline beside bench/echo_bot.py's aiogram one.

It answers each update in kind, exactly as the aiogram echo bot does: a message is echoed
with an inline button under it; a press of that button is answered and the message edited.
Updates are handled concurrently, as the bot's PTB runtime handles them.

Usage: python -m bench.echo_bot_ptb API_BASE_URL (the token comes from BOT_TOKEN).
"""

from __future__ import annotations

import os
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bench.echo_bot import BUTTON


def main(base_url: str) -> None:
    """Echo every message and press until killed."""
    application = (
        ApplicationBuilder()
        .token(os.environ["BOT_TOKEN"])
        .base_url(f"{base_url}/bot")
        .base_file_url(f"{base_url}/file/bot")
        .concurrent_updates(64)
        .job_queue(None)
        .build()
    )
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(BUTTON, callback_data="echo")]])

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        if update.message is not None:
            await update.message.reply_text(update.message.text or "?", reply_markup=keyboard)

    async def pressed(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_text(f"{query.data} {query.id}", reply_markup=keyboard)

    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling(timeout=1, allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main(sys.argv[1])
