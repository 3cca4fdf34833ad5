"""Wiring: builds every service from the settings, once (the composition root)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import made
from bot.config import Settings
from bot.files import FETCH_LIMIT, Files
from bot.i18n import Catalogs
from bot.messenger import Messenger
from bot.render import Maker, Renderer
from handlers import registry
from handlers.actions import Msg
from handlers.engine import Engine
from handlers.events import Inbound
from handlers.flow import FlowSettings
from handlers.ports import Clock
from models import migrate
from models.db import create_engine, create_sessionmaker

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def flow_settings(settings: Settings) -> FlowSettings:
    """The slice of the settings that conversations see."""
    return FlowSettings(
        timezone=settings.campaign.zone,
        default_language=settings.i18n.default_language,
        languages=tuple(settings.i18n.languages),
        conversation_timeout=settings.conversation_timeout,
        consent_version=settings.privacy.consent_version,
        retention_until=settings.retention_until,
        help_phones=tuple(settings.campaign.help_phones),
        ask_again_days=tuple(settings.conversation.ask_again_days),
        note_max_length=settings.conversation.note_max_length,
        campaign_name=settings.campaign.name,
        bot_username=settings.telegram.bot_username,
        invite_days=settings.invites.expire_days,
        report_deadline=settings.reporting.deadline,
        report_max_count=settings.reporting.max_count,
        stale_days=settings.reporting.stale_days,
        request_escalate_after=timedelta(hours=settings.requests.escalate_after_hours),
        description_max_length=settings.requests.description_max_length,
        nomination_deadline=settings.nominations.deadline,
        nomination_target=settings.nominations.target,
        gap_threshold=settings.stats.gap_threshold,
        campaign_start=settings.campaign.service_start,
        holiday=settings.campaign.holiday,
    )


@dataclass
class App:
    """The running program's services, independent of the Telegram framework."""

    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    catalogs: Catalogs
    engine: Engine
    clock: Clock
    # Reads a file reference of any channel as bytes (bot/files.py), for the messengers.
    files: Files
    # What makes the files flows ask for with SendMade (exports, charts): see bot/made.py.
    makers: dict[str, Maker] = field(default_factory=dict)
    # How the sender reaches each channel's people, registered by the runtimes serving them
    # in this process (the web channel's); the scheduler adds Telegram's.
    channels: dict[str, Messenger] = field(default_factory=dict)
    _in_flight: set[asyncio.Task[Any]] = field(default_factory=set)

    async def on_event(self, event: Inbound, messenger: Messenger) -> None:
        """Handle one inbound event and deliver the answer; tracked for a clean shutdown."""
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
        try:
            answer = await self.engine.handle(event)
            await Renderer(messenger, self.catalogs, self.makers).deliver(event, answer)
        finally:
            if task is not None:
                self._in_flight.discard(task)

    async def drain(self, patience: float = 30.0) -> None:
        """Wait for the events in hand to finish (on shutdown)."""
        await asyncio.sleep(0)
        pending = [t for t in self._in_flight if t is not asyncio.current_task()]
        if pending:
            log.info("finishing %d update(s) in hand", len(pending))
            await asyncio.wait(pending, timeout=patience)

    def know_username(self, username: str | None) -> None:
        """The bot's @username as Telegram tells it (getMe) at start: the invite links made
        in the bot then open, whether or not telegram.bot_username is set."""
        if not username:
            return
        configured = self.settings.telegram.bot_username.lstrip("@")
        if configured and configured.lower() != username.lower():
            log.warning("telegram.bot_username is @%s but the token is @%s's", configured, username)
        self.engine.settings = replace(self.engine.settings, bot_username=username)

    def menu(self, language: str) -> list[tuple[str, str]]:
        """The command menu in a language (what everyone may use)."""
        return [
            (spec.name, self.catalogs.label(language, Msg(spec.description)))
            for spec in registry.COMMANDS
            if spec.in_menu and None in spec.roles
        ]

    async def close(self) -> None:
        """Release the database."""
        await self.db.dispose()


async def build_app(
    settings: Settings, *, clock: Clock = utc_now, run_migrations: bool = True
) -> App:
    """Every service, wired from the settings; the schema is brought up to date first."""
    db = create_engine(settings.database.url)
    if run_migrations:
        upgraded = await migrate.upgrade(db)
        if upgraded.changed:
            log.info("%s", upgraded)
    sessions = create_sessionmaker(db)
    catalogs = Catalogs(
        settings.i18n.locales_dir,
        tuple(settings.i18n.languages),
        settings.i18n.default_language,
        settings.campaign.zone,
    )
    engine = Engine(
        sessions=sessions,
        flows=registry.FLOWS,
        commands=registry.COMMANDS,
        buttons=registry.BUTTONS,
        idle=registry.idle,
        gate=registry.GATE,
        home_keyboards=registry.HOME_KEYBOARDS,
        shortcuts=registry.SHORTCUTS,
        settings=flow_settings(settings),
        texts=catalogs,
        clock=clock,
    )
    files = Files(
        sessions,
        api_base_url=settings.telegram.api_base_url,
        token=settings.telegram.token.get_secret_value(),
        limit=FETCH_LIMIT,
    )
    app = App(settings, db, sessions, catalogs, engine, clock, files)
    app.makers = made.makers(app)
    return app
