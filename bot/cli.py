"""The `outreach` command line: run the bot, migrate the database, set up enterprises."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from models import invites, migrate, organisation
from models.db import create_engine, create_sessionmaker
from models.invites import InviteKind

log = logging.getLogger(__name__)


def default_config_path() -> Path | None:
    """--config, else $OUTREACH_CONFIG, else ./config.toml when present."""
    if "OUTREACH_CONFIG" in os.environ:
        return Path(os.environ["OUTREACH_CONFIG"])
    local = Path("config.toml")
    return local if local.is_file() else None


def parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    root = argparse.ArgumentParser(prog="outreach", description=__doc__)
    root.add_argument("--config", type=Path, help="the TOML config file (default: ./config.toml)")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot (polling or webhook, as configured)")
    commands.add_parser("migrate", help="bring the database schema up to date")

    enterprise = commands.add_parser("enterprise", help="manage enterprises").add_subparsers(
        dest="action", required=True
    )
    add = enterprise.add_parser("add", help="add an enterprise and print its worker invite link")
    add.add_argument("name")
    add.add_argument("--town", required=True, help="its town (created if new)")
    enterprise.add_parser("list", help="list enterprises with their worker invite links")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `outreach` script and of `python -m bot`."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings(args.config or default_config_path())
        secrets = [
            settings.telegram.token.get_secret_value(),
            settings.telegram.webhook.secret.get_secret_value(),
        ]
        setup_logging(settings.logging.level, secrets)
        if args.command == "run":
            settings.check_for_running()
            return asyncio.run(_run(settings))
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "enterprise":
            if args.action == "add":
                return asyncio.run(_enterprise_add(settings, args.name, args.town))
            return asyncio.run(_enterprise_list(settings))
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    return 1


async def _run(settings: Settings) -> int:
    from bot.app import build_app

    app = await build_app(settings)
    try:
        if settings.telegram.runtime == "aiogram":
            from bot.runtimes import aiogram_runtime

            await aiogram_runtime.run(app)
        else:
            raise ConfigError("telegram.runtime: ptb is not available in this version")
    finally:
        await app.close()
    return 0


async def _migrate(settings: Settings) -> int:
    engine = create_engine(settings.database.url)
    try:
        await migrate.upgrade(engine)
        print(f"database at revision {await migrate.current(engine)}")
    finally:
        await engine.dispose()
    return 0


def invite_link(username: str, code: str) -> str:
    """The t.me deep link of an invite code."""
    if not username:
        return f"/start {code}  (set telegram.bot_username to print the t.me link)"
    return f"https://t.me/{username.lstrip('@')}?start={code}"


def bot_username(settings: Settings) -> str:
    """The bot's @username: configured, or asked of the Bot API when a token is set."""
    if settings.telegram.bot_username:
        return settings.telegram.bot_username
    token = settings.telegram.token.get_secret_value()
    if not token:
        return ""
    try:
        with urlopen(f"{settings.telegram.api_base_url}/bot{token}/getMe", timeout=10) as reply:
            return str(json.load(reply)["result"]["username"])
    except (URLError, OSError, KeyError, ValueError):
        log.warning("could not ask Telegram for the bot's username")
        return ""


async def _enterprise_add(settings: Settings, name: str, town_name: str) -> int:
    from bot.app import utc_now

    name, town_name = name.strip(), town_name.strip()
    if not name or not town_name:
        print("enterprise and town names must not be empty", file=sys.stderr)
        return 2
    engine = create_engine(settings.database.url)
    try:
        await migrate.upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            if await organisation.find_enterprise(session, name) is not None:
                print(f"enterprise {name!r} already exists", file=sys.stderr)
                return 1
            town = await organisation.get_or_create_town(session, town_name)
            enterprise = await organisation.add_enterprise(session, name, town, utc_now())
            invite = await invites.add(
                session, InviteKind.WORKER, utc_now(), enterprise_id=enterprise.id
            )
        print(f"enterprise {enterprise.id}: {enterprise.name} ({town.name})")
        print(f"worker invite: {invite_link(bot_username(settings), invite.code)}")
    finally:
        await engine.dispose()
    return 0


async def _enterprise_list(settings: Settings) -> int:
    username = bot_username(settings)
    engine = create_engine(settings.database.url)
    try:
        await migrate.upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            for enterprise, town in await organisation.list_enterprises(session):
                invite = await invites.worker_invite(session, enterprise.id)
                link = invite_link(username, invite.code) if invite else "-"
                state = "" if enterprise.active else " (inactive)"
                print(f"{enterprise.id}\t{town.name}\t{enterprise.name}{state}\t{link}")
    finally:
        await engine.dispose()
    return 0
