"""What both runtimes do the same way: command menus, signals and the health check."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

from aiohttp import web

from bot import scheduler
from bot.app import App
from bot.messenger import BotProfile, Messenger, MessengerError
from bot.scheduler import Background
from handlers.actions import N_, Msg
from models import leases

log = logging.getLogger(__name__)

# Telegram sends the webhook's secret in this header.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def language_codes(app: App) -> list[tuple[str | None, str]]:
    """(Telegram language code, catalog language) pairs; the default language also serves
    as the default (None).

    Telegram keys menus and descriptions by two-letter codes only, so zh_Hant readers get
    the zh_Hans texts unless Traditional Chinese is the configured default.
    """
    default = app.settings.i18n.default_language
    result: list[tuple[str | None, str]] = [(None, default)]
    seen: set[str] = set()
    for language in [default, *app.settings.i18n.languages]:
        code = language.split("_")[0].lower()
        if code in seen:
            continue
        seen.add(code)
        result.append((code, language))
    return result


def menus(app: App) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """(Telegram language code, commands) pairs: the menu of someone not enrolled yet; each
    person's chat gets their role's own when the role is set (handlers/menus.py)."""
    return [(code, app.menu(language)) for code, language in language_codes(app)]


async def set_menus(app: App, messenger: Messenger) -> None:
    """The per-language command menu, set through any runtime's messenger."""
    for language_code, commands in menus(app):
        try:
            await messenger.set_commands(commands, language_code, None)
        except MessengerError as error:
            log.warning("could not set the %s menu: %s", language_code or "default", error)


async def set_descriptions(app: App, profile: BotProfile) -> None:
    """What the bot is, per language: the first screen after scanning the QR code shows it."""
    for language_code, language in language_codes(app):
        description = app.catalogs.label(language, Msg(N_("bot.description")))
        short = app.catalogs.label(language, Msg(N_("bot.short_description")))
        try:
            await profile.set_description(description, short, language_code)
        except MessengerError as error:
            log.warning("could not describe the bot (%s): %s", language_code or "default", error)


async def introduce(app: App, messenger: Messenger, profile: BotProfile) -> None:
    """At start: the default menus and the bot's descriptions."""
    await set_menus(app, messenger)
    await set_descriptions(app, profile)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and SIGINT set `stop`, so the runtime finishes the updates in hand and exits."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def scheduler_state(app: App, service: Background | None) -> str:
    """Whether this process runs the scheduler and sender.

    "running": it does; "off": scheduler.enabled is false here (another instance runs it);
    "stopped": it is meant to, but is not running (starting, stopping, or the lease was lost).
    """
    if not app.settings.scheduler.enabled:
        return "off"
    if service is None or not service.running():
        return "stopped"
    return "running"


async def health(app: App, service: Background | None = None) -> tuple[int, dict[str, Any]]:
    """For a load balancer in front of webhook instances: 200 while the database answers.

    The body also says whether this instance runs the scheduler and sender, and which
    process holds the scheduler lease, so an operator sees at a glance that exactly one does.
    """
    body: dict[str, Any] = {"scheduler": scheduler_state(app, service)}
    try:
        async with app.sessions() as session:
            lease = await leases.holder_of(session, scheduler.LEASE)
    except Exception as error:
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return 503, {"database": "unreachable", **body}
    holder = lease.holder if lease is not None and lease.expires_at > app.clock() else None
    return 200, {"database": "ok", **body, "scheduler_holder": holder}


def health_handler(
    app: App, service: Background | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /healthz for an aiohttp webhook server."""

    async def healthz(_: web.Request) -> web.Response:
        status, body = await health(app, service)
        return web.json_response(body, status=status)

    return healthz
