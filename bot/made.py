"""The files flows ask for by name (SendMade): the Excel export and the trend chart."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from bot.render import Made, Maker
from handlers.actions import Msg
from models import organisation, stats
from models.db import create_engine, create_sessionmaker

if TYPE_CHECKING:
    from bot.app import App

Params = Mapping[str, str | int | bool | None]


def _day(value: str | int | bool | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else None


def _int(value: str | int | bool | None) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def _export(app: App, buffer: io.BytesIO, params: Params, language: str) -> int:
    from bot.exports import export as write_export  # imported when used, as trend below

    engine = create_engine(app.settings.database.url)
    try:
        return await write_export(
            create_sessionmaker(engine),
            buffer,
            catalogs=app.catalogs,
            language=language,
            first=_day(params.get("first")),
            last=_day(params.get("last")),
            town_id=_int(params.get("town_id")),
            mask_phones=bool(params.get("mask", True)),
            zone=app.settings.campaign.zone,
            issuer=app.settings.campaign.issuer,
            actor_id=_int(params.get("actor_id")),
            via="bot",
            now=app.clock(),
        )
    finally:
        await engine.dispose()


def makers(app: App) -> dict[str, Maker]:
    """The makers of this program, bound to its database and catalogs."""

    async def export(params: Params, language: str) -> Made:
        # Tens of thousands of rows take XlsxWriter seconds of CPU: the workbook is written
        # in a thread with its own event loop and database connection, so the bot keeps
        # answering everyone else meanwhile (an SQLite reader does not block the writer).
        buffer = io.BytesIO()
        rows = await asyncio.to_thread(asyncio.run, _export(app, buffer, params, language))
        last = _day(params.get("last"))
        # The campaign's local date: in Shanghai the UTC date is the day before until 08:00.
        today = app.clock().astimezone(app.settings.campaign.zone).date()
        name = f"outreach-{(last or today).isoformat()}.xlsx"
        return Made(name, buffer.getvalue(), caption=Msg("stats.export_caption", rows=rows))

    async def trend(params: Params, language: str) -> Made:
        # matplotlib takes most of a second to import: a bot starts (and restarts after a
        # crash) without it, and the first chart anyone asks for pays it once.
        from bot.charts import trend_png

        first, last = _day(params.get("first")), _day(params.get("last"))
        assert first is not None and last is not None
        town_id = _int(params.get("town_id"))
        async with app.sessions() as session:
            days = await stats.trend(session, first, last, town_id, zone=app.settings.campaign.zone)
            town = await organisation.get_town(session, town_id) if town_id is not None else None
        # Drawing takes a tenth of a second of CPU: off the event loop, like the export.
        png = await asyncio.to_thread(
            trend_png,
            days,
            catalogs=app.catalogs,
            language=language,
            scope=town.name if town is not None else None,
        )
        return Made("trend.png", png, photo=True, caption=Msg("stats.trend_caption"))

    return {"export": export, "trend": trend}
