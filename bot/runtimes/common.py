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
from bot.config import ConfigError, RetrySettings
from bot.messenger import BotProfile, Messenger, MessengerError, Rejected, RetryAfter, Transient
from bot.resilience import Backoff, Outage, keep_trying
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


async def reach_bot_api(
    app: App, call: Callable[[], Awaitable[object]], stop: asyncio.Event
) -> bool:
    """Make the runtime's first call (getMe) until the Bot API answers, with backoff and one
    line per failed attempt (no network yet, a Telegram outage); False if stopped first.

    `call` raises the messenger's errors; only those worth waiting for are retried.
    """
    where = f"the Bot API at {app.settings.telegram.api_base_url}"
    backoff = Backoff.configured(app.settings.retry)
    try:
        failed = await keep_trying(
            call, where, backoff, lambda error: isinstance(error, Transient | RetryAfter), stop=stop
        )
    except Rejected:
        # Not an outage: waiting would not help, and the operator must act. (The error is
        # not quoted: PTB's repeats the token.)
        raise ConfigError(
            f"telegram.token: {where} refused it; check the token @BotFather gave"
        ) from None
    return failed is None


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


def sender_state(app: App, service: Background | None) -> dict[str, Any] | None:
    """Whether this process's sender runs and how long ago it last got through to the
    database; "stuck" past `broadcast.stuck_seconds`. None where no sender runs here."""
    if service is None:
        return None
    sender = service.sender
    stalled = sender.stalled_for()
    return {
        "alive": sender.running,
        "last_pass_seconds_ago": round(stalled, 1),
        "stuck": not sender.running or stalled > app.settings.broadcast.stuck_seconds,
    }


async def health(
    app: App, service: Background | None = None, outage: Outage | None = None
) -> tuple[int, dict[str, Any]]:
    """For a load balancer in front of webhook instances: 200 while the database answers
    and this instance's sender, if it runs one, is not stuck.

    The body also says whether this instance runs the scheduler and sender, how its sender
    is doing, and which process holds the scheduler lease, so an operator sees at a glance
    that exactly one does. With an `outage`, an unreachable database is logged once per
    outage rather than at every check.
    """
    body: dict[str, Any] = {"scheduler": scheduler_state(app, service)}
    sender = sender_state(app, service)
    if sender is not None:
        body["sender"] = sender
    try:
        async with app.sessions() as session:
            lease = await leases.holder_of(session, scheduler.LEASE)
    except Exception as error:
        if outage is None:
            log.warning("health check: database unreachable: %s", type(error).__name__)
        else:
            outage.failed(error)
        return 503, {"database": "unreachable", **body}
    if outage is not None:
        outage.succeeded()
    holder = lease.holder if lease is not None and lease.expires_at > app.clock() else None
    status = 503 if sender is not None and sender["stuck"] else 200
    return status, {"database": "ok", **body, "scheduler_holder": holder}


def not_an_update(error: Exception) -> web.Response:
    """A webhook's answer to a body that is not an update: 400 and one log line (Telegram
    does not send it again, as it would after a 500)."""
    log.warning("webhook: refused a body that is not an update: %s", error)
    return web.Response(status=400, text="not an update")


def health_handler(
    app: App, service: Background | None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /healthz for an aiohttp webhook server."""

    # Only for saying an outage once: the checker asks again, so its waits go unused.
    outage = Outage("the health check", RetrySettings(), log)

    async def healthz(_: web.Request) -> web.Response:
        status, body = await health(app, service, outage)
        return web.json_response(body, status=status)

    return healthz
