"""The two Telegram runtimes (aiogram, python-telegram-bot) over one seam."""
