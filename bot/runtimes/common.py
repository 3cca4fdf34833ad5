"""What both runtimes do the same way: the command menus and the health check."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text

from bot.app import App

log = logging.getLogger(__name__)


def menus(app: App) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """(Telegram language code, commands) pairs; the default language also serves as default.

    Telegram keys menus by two-letter codes only, so zh_Hant readers get the zh_Hans menu
    unless Traditional Chinese is the configured default.
    """
    default = app.settings.i18n.default_language
    result: list[tuple[str | None, list[tuple[str, str]]]] = [(None, app.menu(default))]
    seen: set[str] = set()
    for language in [default, *app.settings.i18n.languages]:
        code = language.split("_")[0].lower()
        if code in seen:
            continue
        seen.add(code)
        result.append((code, app.menu(language)))
    return result


async def health(app: App) -> tuple[int, dict[str, Any]]:
    """Whether the database answers; for a load balancer in front of webhook instances."""
    try:
        async with app.db.connect() as connection:
            await connection.execute(text("select 1"))
    except Exception as error:
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return 503, {"database": "unreachable"}
    return 200, {"database": "ok"}
