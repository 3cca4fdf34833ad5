"""The `outreach` command line: run the bot, migrate, set up towns, enterprises and invites."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError
from urllib.request import urlopen

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

if TYPE_CHECKING:
    from bot.app import App

from bot import importer
from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.resilience import Backoff, describe, keep_trying, unavailable
from handlers import validation
from models import audit, invites, migrate, organisation, people, privacy
from models.db import create_engine, create_sessionmaker, location, ping
from models.invites import InviteKind
from models.organisation import ENTERPRISE_NAME_LENGTH, TOWN_NAME_LENGTH, Enterprise, Town
from models.people import Person, Role

log = logging.getLogger(__name__)
# Made on a fresh machine with no enterprise yet, so the printed worker link leads somewhere.
DEMO_TOWN = "示范镇"
DEMO_ENTERPRISE = "示范企业"


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

    admin = commands.add_parser("admin", help="administrators").add_subparsers(
        dest="action", required=True
    )
    add_admin = admin.add_parser("add", help="make a Telegram account an administrator")
    add_admin.add_argument("telegram_id", type=int, help="the account's numeric Telegram user id")

    town = commands.add_parser("town", help="manage towns").add_subparsers(
        dest="action", required=True
    )
    town.add_parser("add", help="add a town (or reactivate it)").add_argument("name")
    rename = town.add_parser("rename", help="rename a town")
    rename.add_argument("name")
    rename.add_argument("new_name")
    town.add_parser("list", help="list towns with their active enterprises")
    town.add_parser(
        "deactivate", help="deactivate a town and its enterprises (their links stop working)"
    ).add_argument("name")
    town.add_parser("activate", help="reactivate a town").add_argument("name")

    enterprise = commands.add_parser("enterprise", help="manage enterprises").add_subparsers(
        dest="action", required=True
    )
    add = enterprise.add_parser("add", help="add an enterprise and print its worker invite link")
    add.add_argument("name")
    add.add_argument("--town", required=True, help="its town (created if new)")
    add.add_argument("--contact-name", help="the name of its contact person")
    add.add_argument("--contact-phone", help="the contact's mainland mobile number")
    enterprise.add_parser("list", help="list enterprises with their worker invite links")
    rename = enterprise.add_parser("rename", help="rename an enterprise")
    rename.add_argument("name")
    rename.add_argument("new_name")
    enterprise.add_parser(
        "deactivate", help="deactivate an enterprise (its links stop working)"
    ).add_argument("name")
    enterprise.add_parser("activate", help="reactivate an enterprise").add_argument("name")
    enterprise.add_parser(
        "import",
        help="import enterprises from an .xlsx or .csv sheet (enterprise, town, contact name, "
        "contact phone); nothing is imported if any row is wrong",
    ).add_argument("file", type=Path)

    invite = commands.add_parser("invite", help="make invite links and posters").add_subparsers(
        dest="action", required=True
    )
    days = argparse.ArgumentParser(add_help=False)
    days.add_argument("--days", type=int, help="days the link stays valid (invites.expire_days)")
    invite.add_parser(
        "contact",
        parents=[days],
        help="a single-use link for an enterprise's contact person (whoever opens it replaces "
        "the present contact)",
    ).add_argument("enterprise")
    invite.add_parser(
        "deputy", parents=[days], help="a single-use link for an enterprise's deputy contact"
    ).add_argument("enterprise")
    invite.add_parser("staff", parents=[days], help="a single-use link for a district staff member")
    invite.add_parser(
        "inspection",
        parents=[days],
        help="a single-use link for a labour inspection staff member (wage matters go to them)",
    )
    officer = invite.add_parser(
        "town-officer", parents=[days], help="a single-use link for a town's officer"
    )
    officer.add_argument("--town", required=True)
    poster = invite.add_parser(
        "poster", help="a printable A4 poster with the QR code of an enterprise's worker invite"
    )
    poster.add_argument("enterprise")
    poster.add_argument("--out", type=Path, required=True, help="FILE.png or FILE.pdf")
    poster.add_argument("--language", default="zh_Hans", help="zh_Hans (default), zh_Hant or en")
    purge = commands.add_parser(
        "purge", help="anonymise every worker's personal data once the retention date has passed"
    )
    purge.add_argument("--dry-run", action="store_true", help="only show what would be erased")
    purge.set_defaults(action="")
    audit_log = commands.add_parser("audit", help="the newest entries of the audit log")
    audit_log.add_argument("--limit", type=int, default=50)
    audit_log.set_defaults(action="")
    export = commands.add_parser(
        "export",
        help="write the Excel workbook (summary, daily reports, real-name ledger, check-ins, "
        "deliveries); phone numbers are masked unless --unmasked; every export is audited",
    )
    export.add_argument("--out", type=Path, required=True, help="FILE.xlsx")
    export.add_argument(
        "--from", dest="first", type=iso_day, help="first day (YYYY-MM-DD); default: all"
    )
    export.add_argument(
        "--to",
        dest="last",
        type=iso_day,
        help="last day (YYYY-MM-DD; the ledger shows plans as of that day); default: all",
    )
    export.add_argument("--town", help="only this town")
    export.add_argument("--language", help="of the headers (default: i18n.default_language)")
    export.add_argument(
        "--unmasked", action="store_true", help="write phone numbers in full (audited)"
    )
    export.set_defaults(action="")
    return root


def iso_day(text: str) -> date:
    """A date typed as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Refused(Exception):
    """An operator's request that cannot be carried out; said in one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# The exit code of `outreach run` when the database cannot be reached at start.
DATABASE_UNREACHABLE = 3

Command = Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]


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
        return asyncio.run(COMMANDS[args.command, args.action](settings, args))
    except ConfigError as error:
        print(f"config error: {error}", file=sys.stderr)
        return 2
    except Refused as refused:
        print(refused, file=sys.stderr)
        return refused.code


async def wait_for_database(settings: Settings) -> None:
    """Return once the database answers, trying again with backoff for at most
    `database.start_wait_seconds` (one line per attempt); else Refused, exit code 3."""
    where = location(settings.database.url)
    wait = settings.database.start_wait_seconds
    engine = create_engine(settings.database.url)
    try:
        failed = await keep_trying(
            lambda: ping(engine),
            f"the database {where}",
            Backoff.configured(settings.retry),
            unavailable,
            give_up_after=wait,
        )
    finally:
        await engine.dispose()
    if failed is not None:
        raise Refused(
            f"the database {where} is unreachable ({describe(failed)}); giving up after "
            f"database.start_wait_seconds = {wait:g}",
            code=DATABASE_UNREACHABLE,
        )


async def _run(settings: Settings) -> int:
    from bot.app import build_app

    await wait_for_database(settings)
    app = await build_app(settings)
    try:
        await _configured_admins(settings, app.sessions)
        if not settings.telegram_on:
            from bot.runtimes.web import server

            await _announce_web(settings, app.sessions)
            await server.run(app)
        elif settings.web.enabled:
            await _run_both(app)
        else:
            await _run_telegram(app)
    finally:
        await app.close()
    return 0


async def _make_admin(
    session: AsyncSession, telegram_id: int, settings: Settings
) -> tuple[Person, Role | None]:
    """The account made an administrator; a contact's name and phone leave their enterprise."""
    known = await people.by_telegram_id(session, telegram_id)
    if known is not None:
        await organisation.leave_contact_role(session, known)
    return await people.make_admin(session, telegram_id, settings.i18n.default_language, utc_now())


async def _run_telegram(app: App, stop: asyncio.Event | None = None) -> None:
    # Only the chosen framework is imported: each costs seconds at start.
    if app.settings.telegram.runtime == "ptb":
        from bot.runtimes import ptb_runtime

        await ptb_runtime.run(app, stop)
    else:
        from bot.runtimes import aiogram_runtime

        await aiogram_runtime.run(app, stop)


async def _run_both(app: App) -> None:
    """Telegram and the web channel in one process; the scheduler runs with Telegram's."""
    from bot.runtimes.web.server import WebRuntime

    async with WebRuntime(app).serving():
        print(f"web channel: {app.settings.web.base_url}", flush=True)
        await _run_telegram(app)


async def _announce_web(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
    """Print where the page is, a worker link of a demo enterprise and a one-time admin link."""
    base = settings.web.base_url
    now = utc_now()
    async with sessions() as session, session.begin():
        demo = None
        if not await organisation.list_enterprises(session):
            town = await organisation.get_or_create_town(session, DEMO_TOWN)
            _, demo = await organisation.add_enterprise_with_invite(
                session, DEMO_ENTERPRISE, town, now
            )
        admin = await invites.add(
            session, InviteKind.ADMIN, now, max_uses=1, expires_at=now + timedelta(days=1)
        )
        scope = {"kind": InviteKind.ADMIN.value, "town_id": None, "enterprise_id": None}
        await audit.record(session, audit.Action.INVITE, now, via="cli", scope=scope)
    print(f"web channel: {base}", flush=True)
    if demo is not None:
        print(f"demo enterprise {DEMO_ENTERPRISE} ({DEMO_TOWN}), worker link: {base}/j/{demo.code}")
    else:
        print("worker links of the enterprises: outreach enterprise list")
    print(f"one-time admin link (works once, for 24 hours): {base}/j/{admin.code}")
    print(
        "Telegram is off until a bot token is set (telegram.token in the config, or BOT_TOKEN)",
        flush=True,
    )


async def _configured_admins(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Give the administrator role to the accounts telegram.admins lists."""
    if not settings.telegram.admins:
        return
    async with sessions() as session, session.begin():
        for telegram_id in settings.telegram.admins:
            person, previous = await _make_admin(session, telegram_id, settings)
            if previous is not Role.ADMIN:
                log.info("person %s made admin from the config (was %s)", person.id, previous)
                scope = {"person_id": person.id, "from": previous, "to": Role.ADMIN.value}
                await audit.record(
                    session, audit.Action.ROLE_CHANGE, utc_now(), via="config", scope=scope
                )


async def _migrate(settings: Settings) -> int:
    engine = create_engine(settings.database.url)
    try:
        print(await migrate.upgrade(engine))
    finally:
        await engine.dispose()
    return 0


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def invite_link(username: str, code: str) -> str:
    """The t.me deep link of an invite code (or how to use the code without one)."""
    link = invites.deep_link(username, code)
    if not username:
        return f"{link}  (set telegram.bot_username to print the t.me link)"
    return link


def web_link(settings: Settings, code: str) -> str:
    """The web page an invite code opens (in any phone browser, WeChat's included)."""
    return f"{settings.web.base_url}/j/{code}"


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


async def upgrade_quietly(engine: AsyncEngine) -> None:
    """Bring the schema up to date before a command; one line on stderr if that did anything."""
    upgraded = await migrate.upgrade(engine)
    if upgraded.changed:
        print(upgraded, file=sys.stderr)


@asynccontextmanager
async def transaction(settings: Settings) -> AsyncIterator[AsyncSession]:
    """One session and transaction on the migrated database; a Refused rolls it back."""
    engine = create_engine(settings.database.url)
    try:
        await upgrade_quietly(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


def org_name(text: str, what: str, max_len: int) -> str:
    """A town or enterprise name typed by the operator, cleaned, or Refused."""
    name = validation.parse_org_name(text, max_len=max_len)
    if isinstance(name, validation.Invalid):
        reason = importer.REASONS.get(name.key, name.key).format(**name.params)
        raise Refused(f"{what} name {text!r} {reason}", 2)
    return name


async def town_named(session: AsyncSession, text: str) -> Town:
    """The existing town with this name, or Refused."""
    town = await organisation.find_town(session, validation.clean(text))
    if town is None:
        raise Refused(f"no town {text!r}; see `outreach town list`")
    return town


async def enterprise_named(session: AsyncSession, text: str) -> Enterprise:
    """The existing enterprise with this name, or Refused."""
    enterprise = await organisation.find_enterprise(session, validation.clean(text))
    if enterprise is None:
        raise Refused(f"no enterprise {text!r}; see `outreach enterprise list`")
    return enterprise


# admin ------------------------------------------------------------------------------------


async def _admin_add(settings: Settings, args: argparse.Namespace) -> int:
    telegram_id: int = args.telegram_id
    if telegram_id <= 0:
        raise Refused("a Telegram user id is a positive number", 2)
    async with transaction(settings) as session:
        person, previous = await _make_admin(session, telegram_id, settings)
        if previous is not Role.ADMIN:
            scope = {"person_id": person.id, "from": previous, "to": Role.ADMIN.value}
            await audit.record(session, audit.Action.ROLE_CHANGE, utc_now(), via="cli", scope=scope)
    if previous is Role.ADMIN:
        print(f"person {person.id} (Telegram {telegram_id}) is already an administrator")
    else:
        was = f"was {previous.value}" if previous else "new"
        log.info("person %s made admin from the command line (%s)", person.id, was)
        print(f"person {person.id} (Telegram {telegram_id}) is now an administrator ({was})")
    return 0


# town -------------------------------------------------------------------------------------


async def _town_add(settings: Settings, args: argparse.Namespace) -> int:
    name = org_name(args.name, "town", TOWN_NAME_LENGTH)
    async with transaction(settings) as session:
        town = await organisation.find_town(session, name)
        if town is not None and town.active:
            raise Refused(f"town {name!r} already exists")
        if town is not None:
            await organisation.activate_town(session, town)
            print(f"town {town.id}: {name} reactivated")
            return 0
        town = await organisation.add_town(session, name)
    print(f"town {town.id}: {name}")
    return 0


async def _town_rename(settings: Settings, args: argparse.Namespace) -> int:
    new_name = org_name(args.new_name, "town", TOWN_NAME_LENGTH)
    async with transaction(settings) as session:
        town = await town_named(session, args.name)
        old = town.name
        if not await organisation.rename_town(session, town, new_name):
            raise Refused(f"there is already a town {new_name!r}")
    print(f"town {town.id}: {old} renamed {new_name}")
    return 0


async def _town_list(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        summaries = await organisation.town_summaries(session)
    for summary in summaries:
        state = "" if summary.town.active else " (inactive)"
        town = summary.town
        print(f"{town.id}\t{town.name}{state}\t{summary.active_enterprises} active enterprises")
    return 0


async def _town_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        town = await town_named(session, args.name)
        if not town.active:
            raise Refused(f"town {town.name!r} is already inactive")
        count = await organisation.deactivate_town(session, town)
    print(f"town {town.id}: {town.name} deactivated, with {count} enterprises")
    return 0


async def _town_activate(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        town = await town_named(session, args.name)
        await organisation.activate_town(session, town)
    print(f"town {town.id}: {town.name} is active (its enterprises stay as they are)")
    return 0


# enterprise -------------------------------------------------------------------------------


async def _enterprise_add(settings: Settings, args: argparse.Namespace) -> int:
    name = org_name(args.name, "enterprise", ENTERPRISE_NAME_LENGTH)
    town_name = org_name(args.town, "town", TOWN_NAME_LENGTH)
    checked = importer.check_row(
        0,
        {
            importer.ENTERPRISE: name,
            importer.TOWN: town_name,
            importer.CONTACT_NAME: args.contact_name or "",
            importer.CONTACT_PHONE: args.contact_phone or "",
        },
    )
    if isinstance(checked, list):
        raise Refused("; ".join(checked), 2)
    username = bot_username(settings)
    async with transaction(settings) as session:
        if await organisation.find_enterprise(session, name) is not None:
            raise Refused(f"enterprise {name!r} already exists")
        town = await organisation.get_or_create_town(session, town_name)
        if not town.active:
            raise Refused(f"town {town_name!r} is inactive; `outreach town activate` it first")
        enterprise, invite = await organisation.add_enterprise_with_invite(
            session,
            name,
            town,
            utc_now(),
            contact_name=checked.contact_name,
            contact_phone=checked.contact_phone,
        )
    print(f"enterprise {enterprise.id}: {enterprise.name} ({town.name})")
    print(f"worker invite: {invite_link(username, invite.code)}")
    print(f"worker web page: {web_link(settings, invite.code)}")
    return 0


async def _enterprise_list(settings: Settings, args: argparse.Namespace) -> int:
    username = bot_username(settings)
    async with transaction(settings) as session:
        for enterprise, town in await organisation.list_enterprises(session):
            invite = await invites.worker_invite(session, enterprise.id)
            link = invite_link(username, invite.code) if invite else "-"
            state = "" if enterprise.active else " (inactive)"
            contact = " ".join(filter(None, [enterprise.contact_name, enterprise.contact_phone]))
            print(
                f"{enterprise.id}\t{town.name}\t{enterprise.name}{state}\t{link}\t{contact or '-'}"
            )
    return 0


async def _enterprise_rename(settings: Settings, args: argparse.Namespace) -> int:
    new_name = org_name(args.new_name, "enterprise", ENTERPRISE_NAME_LENGTH)
    async with transaction(settings) as session:
        enterprise = await enterprise_named(session, args.name)
        old = enterprise.name
        if not await organisation.rename_enterprise(session, enterprise, new_name):
            raise Refused(f"there is already an enterprise {new_name!r}")
    print(f"enterprise {enterprise.id}: {old} renamed {new_name}")
    return 0


async def _enterprise_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        enterprise = await enterprise_named(session, args.name)
        if not enterprise.active:
            raise Refused(f"enterprise {enterprise.name!r} is already inactive")
        await organisation.set_enterprise_active(session, enterprise, False)
    print(f"enterprise {enterprise.id}: {enterprise.name} deactivated; its links stop working")
    return 0


async def _enterprise_activate(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        enterprise = await enterprise_named(session, args.name)
        town = await organisation.get_town(session, enterprise.town_id)
        if town is None or not town.active:
            raise Refused("its town is inactive; `outreach town activate` it first")
        await organisation.set_enterprise_active(session, enterprise, True)
    print(f"enterprise {enterprise.id}: {enterprise.name} is active")
    return 0


async def _enterprise_import(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        rows, problems = importer.load(path)
    except importer.SheetError as error:
        raise Refused(f"{path.name}: {error}", 2) from None
    except OSError as error:
        raise Refused(f"{path}: {error.strerror or error}", 2) from None
    async with transaction(settings) as session:
        outcome = await importer.import_rows(session, rows, utc_now(), problems)
        if not outcome.ok:
            # Leave by an exception: the transaction is rolled back, whatever was read.
            raise Refused(_problems(outcome.problems))
    print(
        f"imported {outcome.enterprises_created} enterprises "
        f"({outcome.towns_created} new towns); {outcome.already_present} were already there "
        f"({outcome.contacts_updated} with new contact details)"
    )
    return 0


def _problems(problems: Sequence[importer.Problem]) -> str:
    lines = [f"nothing imported: {len(problems)} rows are wrong"]
    lines += [f"row {p.row}: {p.reason}" for p in problems]
    return "\n".join(lines)


# invite -----------------------------------------------------------------------------------


async def _role_invite(
    settings: Settings,
    args: argparse.Namespace,
    kind: InviteKind,
    *,
    town_id: int | None = None,
    enterprise_id: int | None = None,
) -> tuple[str, datetime]:
    days: int = settings.invites.expire_days if args.days is None else args.days
    if not 1 <= days <= 365:
        raise Refused("--days must be from 1 to 365", 2)
    now = utc_now()
    expires = now + timedelta(days=days)
    async with transaction(settings) as session:
        invite = await invites.add(
            session,
            kind,
            now,
            town_id=town_id,
            enterprise_id=enterprise_id,
            max_uses=1,
            expires_at=expires,
        )
        scope = {"kind": kind.value, "town_id": town_id, "enterprise_id": enterprise_id}
        await audit.record(session, audit.Action.INVITE, now, via="cli", scope=scope)
    return invite.code, expires


def _print_invite(settings: Settings, what: str, code: str, expires: datetime) -> None:
    local = expires.astimezone(settings.campaign.zone).strftime("%Y-%m-%d %H:%M")
    print(f"invite for {what} (works once, until {local}):")
    print(invite_link(bot_username(settings), code))
    print(web_link(settings, code))


async def _invite_contact(
    settings: Settings, args: argparse.Namespace, kind: InviteKind = InviteKind.CONTACT
) -> int:
    async with transaction(settings) as session:
        enterprise = await enterprise_named(session, args.enterprise)
        if not enterprise.active:
            raise Refused(f"enterprise {enterprise.name!r} is inactive")
    code, expires = await _role_invite(settings, args, kind, enterprise_id=enterprise.id)
    who = "the deputy contact" if kind is InviteKind.DEPUTY else "the contact"
    _print_invite(settings, f"{who} of {enterprise.name}", code, expires)
    return 0


async def _invite_deputy(settings: Settings, args: argparse.Namespace) -> int:
    return await _invite_contact(settings, args, InviteKind.DEPUTY)


async def _invite_staff(settings: Settings, args: argparse.Namespace) -> int:
    code, expires = await _role_invite(settings, args, InviteKind.STAFF)
    _print_invite(settings, "a staff member", code, expires)
    return 0


async def _invite_inspection(settings: Settings, args: argparse.Namespace) -> int:
    code, expires = await _role_invite(settings, args, InviteKind.INSPECTION)
    _print_invite(settings, "a labour inspection staff member", code, expires)
    return 0


async def _invite_town_officer(settings: Settings, args: argparse.Namespace) -> int:
    async with transaction(settings) as session:
        town = await town_named(session, args.town)
        if not town.active:
            raise Refused(f"town {town.name!r} is inactive")
    code, expires = await _role_invite(settings, args, InviteKind.TOWN_OFFICER, town_id=town.id)
    _print_invite(settings, f"a town officer of {town.name}", code, expires)
    return 0


async def _invite_poster(settings: Settings, args: argparse.Namespace) -> int:
    from bot import poster
    from bot.i18n import Catalogs

    out: Path = args.out
    if out.suffix.lower() not in poster.SUFFIXES:
        raise Refused(f"--out must end in .png or .pdf, not {out.name!r}", 2)
    if args.language not in settings.i18n.languages:
        raise Refused(f"--language: choose from {', '.join(settings.i18n.languages)}", 2)
    campaign = settings.campaign
    if not campaign.issuer:
        raise Refused("the poster names the unit that issues it: set campaign.issuer", 2)
    web = settings.web.public_base_url
    username = bot_username(settings)
    if not web and not username:
        raise Refused(
            "the poster's QR code needs where to open: set web.public_base_url "
            "(WeChat and any browser) or telegram.bot_username",
            2,
        )
    async with transaction(settings) as session:
        enterprise = await enterprise_named(session, args.enterprise)
        if not enterprise.active:
            raise Refused(f"enterprise {enterprise.name!r} is inactive")
        invite = await invites.worker_invite(session, enterprise.id)
        if invite is None:
            invite = await invites.add(
                session, InviteKind.WORKER, utc_now(), enterprise_id=enterprise.id
            )
    catalogs = Catalogs(
        settings.i18n.locales_dir,
        tuple(settings.i18n.languages),
        settings.i18n.default_language,
        campaign.zone,
    )
    bot_link = invites.deep_link(username, invite.code) if username else ""
    link = poster.poster_link(bot_link, web, invite.code)
    try:
        text = poster.poster_text(
            catalogs,
            args.language,
            enterprise=enterprise.name,
            campaign=campaign.name,
            link=link,
            web=bool(web),
            phones=campaign.help_phones,
            issuer=campaign.issuer,
        )
        font = poster.render_poster(out, link, text)
    except poster.NoFont as error:
        raise Refused(f"no poster made: {error}") from None
    if not campaign.help_phones:
        print("warning: campaign.help_phones is empty, so the poster lists no phone number",
              file=sys.stderr)  # fmt: skip
    opens = "the web page (WeChat, any browser)" if web else "the bot in Telegram"
    print(f"poster for {enterprise.name} written to {out}: its QR code opens {opens}")
    log.info("poster font: %s", font.family)
    return 0


# privacy ----------------------------------------------------------------------------------


async def _purge(settings: Settings, args: argparse.Namespace) -> int:
    until = settings.retention_until
    zone = settings.campaign.zone
    async with transaction(settings) as session:
        if args.dry_run:
            preview = await privacy.purge_preview(session)
            due = "is due" if privacy.retention_over(until, zone, utc_now()) else "is not due yet"
            print(
                f"retention until {until}; the purge {due}. It would anonymise "
                f"{preview.people} worker(s) and blank the note or destination of "
                f"{preview.checkins} check-in(s)."
            )
            return 0
        erased = await privacy.purge_after_retention(session, until, zone, utc_now(), "cli")
    if erased is None:
        raise Refused(f"personal data is kept until {until}; nothing was purged", 1)
    print(
        f"anonymised {erased.people} worker(s) and blanked the note or destination of "
        f"{erased.checkins} check-in(s)"
    )
    return 0


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    zone = settings.campaign.zone
    async with transaction(settings) as session:
        entries = await audit.recent(session, max(1, args.limit))
    for entry in entries:
        who = f"person {entry.actor_id}" if entry.actor_id is not None else entry.via
        at = entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        print(f"#{entry.id} {at} {entry.action.value} by {who}: {entry.rows} row(s) {entry.scope}")
    if not entries:
        print("the audit log is empty")
    return 0


# export -----------------------------------------------------------------------------------


async def _export(settings: Settings, args: argparse.Namespace) -> int:
    from bot import exports
    from bot.i18n import Catalogs

    out: Path = args.out
    if out.suffix.lower() != ".xlsx":
        raise Refused(f"--out must end in .xlsx, not {out.name!r}", 2)
    if not out.parent.is_dir():
        raise Refused(f"--out: there is no folder {str(out.parent)!r}", 2)
    language = args.language or settings.i18n.default_language
    if language not in settings.i18n.languages:
        raise Refused(f"--language: choose from {', '.join(settings.i18n.languages)}", 2)
    first, last = args.first, args.last
    if first is not None and last is not None and last < first:
        raise Refused("--to is before --from", 2)
    catalogs = Catalogs(
        settings.i18n.locales_dir,
        tuple(settings.i18n.languages),
        settings.i18n.default_language,
        settings.campaign.zone,
    )
    engine = create_engine(settings.database.url)
    try:
        await upgrade_quietly(engine)
        sessions = create_sessionmaker(engine)
        town_id = None
        if args.town:
            async with sessions() as session:
                town_id = (await town_named(session, args.town)).id
        rows = await exports.export(
            sessions,
            out,
            actor_id=None,
            via="cli",
            now=utc_now(),
            catalogs=catalogs,
            language=language,
            first=first,
            last=last,
            town_id=town_id,
            mask_phones=not args.unmasked,
            zone=settings.campaign.zone,
            issuer=settings.campaign.issuer,
        )
    except OSError as error:
        raise Refused(f"{out}: {error.strerror or error}") from None
    finally:
        await engine.dispose()
    phones = "in full" if args.unmasked else "masked"
    print(f"{rows} rows written to {out} (phone numbers {phones}); the export is audited")
    return 0


COMMANDS: dict[tuple[str, str], Command] = {
    ("export", ""): _export,
    ("purge", ""): _purge,
    ("audit", ""): _audit,
    ("admin", "add"): _admin_add,
    ("town", "add"): _town_add,
    ("town", "rename"): _town_rename,
    ("town", "list"): _town_list,
    ("town", "deactivate"): _town_deactivate,
    ("town", "activate"): _town_activate,
    ("enterprise", "add"): _enterprise_add,
    ("enterprise", "list"): _enterprise_list,
    ("enterprise", "rename"): _enterprise_rename,
    ("enterprise", "deactivate"): _enterprise_deactivate,
    ("enterprise", "activate"): _enterprise_activate,
    ("enterprise", "import"): _enterprise_import,
    ("invite", "contact"): _invite_contact,
    ("invite", "deputy"): _invite_deputy,
    ("invite", "staff"): _invite_staff,
    ("invite", "inspection"): _invite_inspection,
    ("invite", "town-officer"): _invite_town_officer,
    ("invite", "poster"): _invite_poster,
}
