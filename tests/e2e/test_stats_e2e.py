"""Staff figures through the real runtime: the export arrives as a file, the chart as a photo."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from bot.exports import SHEETS
from models.db import create_engine, create_sessionmaker
from models.people import Person, Role
from tests.botprocess import BotProcess

pytestmark = pytest.mark.e2e
STAFF = 680_001


def add_staff(bot: BotProcess, telegram_id: int) -> None:
    async def write() -> None:
        engine = create_engine(bot.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                session.add(
                    Person(
                        telegram_user_id=telegram_id,
                        chat_id=telegram_id,
                        role=Role.STAFF,
                        language="zh_Hans",
                        full_name="统计员",
                        enrolled_at=datetime.now(UTC),
                        active=True,
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(write())


def test_export_and_trend(shared_bot: BotProcess) -> None:
    api = shared_bot.api
    telegram_id = STAFF + shared_bot.starts * 10 + len(shared_bot.runtime)
    add_staff(shared_bot, telegram_id)
    staff = api.user(telegram_id)
    mark = api.mark()
    staff.command("export")
    sent = api.wait_for(
        lambda c: c.method == "sendDocument" and c.chat_id == telegram_id, timeout=60, after=mark
    )
    [(filename, data)] = sent.files.values()
    # Named by the campaign's local date, not by UTC's (the day before until 08:00).
    assert filename == f"outreach-{datetime.now(ZoneInfo('Asia/Shanghai')).date()}.xlsx"
    workbook = load_workbook(io.BytesIO(data), read_only=True)
    assert len(workbook.sheetnames) == len(SHEETS)
    mark = api.mark()
    staff.command("trend")
    photo = api.wait_for(
        lambda c: c.method == "sendPhoto" and c.chat_id == telegram_id, timeout=60, after=mark
    )
    [(_name, png)] = photo.files.values()
    assert png.startswith(b"\x89PNG")
