"""The reference echo bots: each runtime's own transport and update reading, and nothing else.

The check-in bot's aiogram runtime reads updates as raw Bot API JSON and answers through its
messenger; its python-telegram-bot runtime reads them through PTB's application over the
aiohttp transport. The echo bot of each runtime is built from those same pieces
(bot/runtimes/), so that the check-in bot's ratio to it measures what the flows, the
rendering and the database cost, and nothing of the framework. Each update is answered in
kind, the least any bot does: a message is echoed with an inline button under it; a press
of that button is answered and the message edited.

With --database URL, each update is first recorded in one transaction, as the bot's engine
opens every update (models/conversations.py: the update id, the person and the conversation
read together, the conversation written back): the floor under any bot that keeps its
conversations in the database and guards against redelivery, on this stack. With --driver as
well, the same three statements, compiled once by SQLAlchemy, are run by SQLite's own driver
past SQLAlchemy's session and execution: what the transaction costs SQLite itself.

Usage: python -m bench.echo_raw aiogram|ptb [--database URL [--driver]] API_BASE_URL (the
token comes from BOT_TOKEN).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pydantic import SecretStr
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.config import Settings, TelegramSettings
from bot.messenger import Markup, Messenger
from bot.runtimes import aiogram_runtime, ptb_runtime
from bot.runtimes.common import stop_on_signals
from handlers.events import ButtonPress, Command, Inbound, Text
from models import conversations, migrate
from models.db import create_engine, create_sessionmaker, is_sqlite

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


Recorder = Callable[[Inbound], Awaitable[None]]


async def nothing(_: Inbound) -> None:
    """No database: the echo alone."""


async def recorder(url: str) -> Recorder:
    """One transaction per update, as the engine opens and closes each one."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessions = create_sessionmaker(engine)

    async def record(event: Inbound) -> None:
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            opened = await conversations.open_turn(
                session, event.update_id, event.chat_id, event.user_id, now
            )
            if opened.fresh:
                state = {"echo": event.update_id}
                await conversations.save(
                    session, event.chat_id, event.user_id, language="zh_Hans", state=state, now=now
                )

    return record


class DriverRecorder:
    """The same transaction on SQLite, its statements run by the driver directly."""

    def __init__(self, held: AsyncConnection, connection: sqlite3.Connection) -> None:
        # Checked out of the engine's pool for as long as this records: the pool closes a
        # connection whose holder is collected.
        self.held = held
        self.connection = connection
        # The engine's own statements (models/conversations.py), compiled as it compiles them.
        self.mark, self.opening, self.save = (
            (str(compiled), list(compiled.positiontup or []))
            for compiled in (
                statement.compile(dialect=sqlite.dialect())
                for statement in (
                    conversations._MARK["sqlite"],
                    conversations._OPEN["sqlite", False],
                    conversations._SAVE["sqlite"],
                )
            )
        )

    @classmethod
    async def open(cls, url: str) -> DriverRecorder:
        """Migrate the database and take the engine's own connection, set up as the bot's."""
        engine = create_engine(url)
        await migrate.upgrade(engine)
        held = await engine.connect()
        driver = (await held.get_raw_connection()).driver_connection
        assert driver is not None
        return cls(held, driver._conn)

    def _run(self, statement: tuple[str, list[str]], values: dict[str, object]) -> sqlite3.Cursor:
        sql, names = statement
        return self.connection.execute(sql, [values[name] for name in names])

    async def __call__(self, event: Inbound) -> None:
        values: dict[str, object] = {
            "channel": conversations.TELEGRAM,
            "update_id": event.update_id,
            "processed_at": datetime.now(UTC).isoformat(),
            "chat_id": event.chat_id,
            "user_id": event.user_id,
        }
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self._run(self.mark, values).rowcount == 1:
                self._run(self.opening, values).fetchall()
                changed = {
                    "language": "zh_Hans",
                    "state": json.dumps({"echo": event.update_id}),
                    "updated_at": values["processed_at"],
                }
                self._run(self.save, {**values, **changed})
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")


async def run_aiogram(base_url: str, token: str, record: Recorder) -> None:
    """The aiogram runtime's polling loop, Bot and messenger, echoing."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    bot = aiogram_runtime.new_bot(token, base_url)
    messenger = aiogram_runtime.AiogramMessenger(bot)

    async def on_event(event: Inbound) -> None:
        await record(event)
        await echo(messenger, event)

    try:
        await aiogram_runtime.poll(bot, stop, LONG_POLL, on_event)
    finally:
        await bot.session.close()


async def run_ptb(base_url: str, token: str, record: Recorder) -> None:
    """The PTB runtime's application (aiohttp transport, concurrent updates), echoing."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    settings = Settings(
        telegram=TelegramSettings(token=SecretStr(token), api_base_url=base_url, runtime="ptb")
    )
    application = ptb_runtime.make_application(settings, polling=True)
    messenger = ptb_runtime.PtbMessenger(application.bot)

    async def on_event(event: Inbound) -> None:
        await record(event)
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


async def main() -> None:
    """Echo through the runtime named, recording each update when given a database."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("runtime", choices=("aiogram", "ptb"))
    parser.add_argument("--database", help="record each update in this database first")
    parser.add_argument(
        "--driver", action="store_true", help="past SQLAlchemy, on SQLite's driver directly"
    )
    parser.add_argument("base_url")
    args = parser.parse_args()
    if args.driver and not (args.database and is_sqlite(args.database)):
        parser.error("--driver needs a SQLite --database")
    record: Recorder = nothing
    if args.database:
        record = await (DriverRecorder.open if args.driver else recorder)(args.database)
    runners = {"aiogram": run_aiogram, "ptb": run_ptb}
    await runners[args.runtime](args.base_url, os.environ["BOT_TOKEN"], record)


if __name__ == "__main__":
    asyncio.run(main())
