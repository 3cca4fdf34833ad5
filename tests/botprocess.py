"""The bot program in a subprocess, configured for a local fake Bot API (tests and benches)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from secrets import token_hex
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.cli import main as outreach
from models.db import create_engine
from tests.fakebotapi import FakeBotAPI
from tests.harness import ROOT, catalogs
from tests.warmstart import WarmProcess

TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTESTtoken1"
#: The PostgreSQL server of the tests (a database on it, e.g. postgresql://postgres@host/test).
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def label(key: str, language: str = "zh_Hans") -> str:
    """A button's text as the person sees it."""
    return catalogs().plain(language, key)


def free_port() -> int:
    """An unused loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BotProcess:
    """`outreach run` in a subprocess, configured for one fake Bot API."""

    api: FakeBotAPI
    home: Path
    runtime: str = "aiogram"
    mode: str = "polling"
    database_url: str = ""
    webhook_secret: str = "s3cret-s3cret-s3cret-s3cret"
    log_level: str = "DEBUG"
    python_args: tuple[str, ...] = ()
    # More TOML sections, e.g. "[broadcast]\nrate_per_second = 300".
    extra_config: str = ""
    # The module run as the program: `bot`, or a wrapper such as bench/counted_bot.py.
    module: str = "bot"
    # Off: telegram.bot_username is left unset, and the bot learns its name from getMe.
    name_in_config: bool = True
    port: int = field(default_factory=free_port)
    # The web channel's port; with telegram=False no token is given and it runs alone.
    web_port: int = field(default_factory=free_port)
    telegram: bool = True
    # More keys of the [web] section, e.g. "rate_per_address = 100000".
    web_config: str = ""
    # Forked from a server with the bot's libraries imported (tests/warmstart.py); off, a
    # new interpreter each time, as a benchmark wants it.
    warm: bool = True
    process: subprocess.Popen[bytes] | WarmProcess | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.home / 'bot.db'}"
        self.config = self.home / "config.toml"
        self.config.write_text(
            "\n".join(
                [
                    "[telegram]",
                    f'api_base_url = "{self.api.base_url}"',
                    f'bot_username = "{self.api.bot_username if self.name_in_config else ""}"',
                    f'runtime = "{self.runtime}"',
                    f'mode = "{self.mode}"',
                    "polling_timeout = 1",
                    "[telegram.webhook]",
                    f'public_url = "http://127.0.0.1:{self.port}/telegram"',
                    f"listen_port = {self.port}",
                    "[web]",
                    f"listen_port = {self.web_port}",
                    self.web_config,
                    "[database]",
                    f'url = "{self.database_url}"',
                    "[campaign]",
                    'help_phones = ["0315-0000001"]',
                    "[logging]",
                    f'level = "{self.log_level}"',
                    self.extra_config,
                    "",
                ]
            ),
            encoding="utf-8",
        )
        self.log_path = self.home / "bot.log"

    @property
    def env(self) -> dict[str, str]:
        """The process environment: secrets the way a deployment passes them."""
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "OUTREACH_CONFIG")}
        env.update(WEBHOOK_SECRET=self.webhook_secret, PYTHONUNBUFFERED="1")
        if self.telegram:
            env["BOT_TOKEN"] = TOKEN
        else:
            env.pop("BOT_TOKEN", None)
        return env

    @property
    def web_url(self) -> str:
        """The web channel's address."""
        return f"http://127.0.0.1:{self.web_port}"

    def cli(self, *args: str) -> str:
        """Run an `outreach` command against this bot's configuration; its output."""
        out = StringIO()
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            with redirect_stdout(out):
                assert outreach(["--config", str(self.config), *args]) == 0
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return out.getvalue()

    def add_enterprise(self, name: str, town: str = "开发区") -> str:
        """A new enterprise; returns its worker invite code."""
        out = self.cli("enterprise", "add", name, "--town", town)
        found = re.search(r"\?start=([A-Za-z0-9_-]+)", out)
        assert found, out
        return found.group(1)

    def contact_invite(self, enterprise: str, kind: str = "contact") -> str:
        """The code of a new single-use contact (or deputy) invite, made on the command line."""
        out = self.cli("invite", kind, enterprise)
        found = re.search(r"\?start=([A-Za-z0-9_-]+)", out)
        assert found, out
        return found.group(1)

    def launch(self) -> None:
        """Start the bot's process without waiting for it to serve."""
        args = ["--config", str(self.config), "run"]
        if self.warm and not self.python_args:
            self.process = WarmProcess(self.module, args, self.env, ROOT, self.log_path)
        else:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, *self.python_args, "-m", self.module, *args],
                    cwd=ROOT,
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        self.starts += 1

    def start(self) -> None:
        """Start the bot and wait until it serves."""
        mark = self.api.mark()
        self.launch()
        if not self.telegram:
            wait_until(self._web_serves, timeout=60)
        elif self.mode == "polling":
            # Both runtimes ask getMe first. A poll that arrives after it is ours, not the
            # long poll of a process just killed, which the fake records when it times out.
            me = self.api.wait_for(lambda c: c.method == "getMe", timeout=60, after=mark)
            self.api.wait_poll_after(me.at, timeout=30)
        else:
            self.api.wait_for(lambda c: c.method == "setWebhook", timeout=60, after=mark)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Stop the bot with a signal; its exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def kill(self) -> None:
        """Crash the bot: SIGKILL, no chance to clean up."""
        self.stop(signal.SIGKILL)

    @property
    def webhook_url(self) -> str:
        """Where this bot, in webhook mode, takes updates."""
        return f"http://127.0.0.1:{self.port}/telegram"

    def health(self) -> tuple[int, dict[str, Any]]:
        """GET /healthz of this bot's webhook server: the status and the JSON body."""
        try:
            with urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10) as reply:
                return int(reply.status), json.load(reply)
        except HTTPError as error:
            return int(error.code), json.load(error)

    def _web_serves(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self.log()
        try:
            with urlopen(f"{self.web_url}/healthz", timeout=5) as reply:
                return int(reply.status) == 200
        except (OSError, HTTPError):
            return False

    def log(self) -> str:
        """Everything the bot has logged."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def assert_alive(self) -> None:
        """The process is still running (else show its log)."""
        assert self.process is not None and self.process.poll() is None, self.log()


def wait_until(condition: object, timeout: float = 10.0) -> None:
    """Poll a zero-argument callable until it is true."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def count_rows(bot: BotProcess, table: str, where: str = "") -> int:
    """Rows in one of the bot's tables, read from outside the bot."""

    async def query() -> int:
        engine = create_engine(bot.database_url)
        try:
            async with engine.connect() as connection:
                sql = f"SELECT count(*) FROM {table}" + (f" WHERE {where}" if where else "")
                return int((await connection.execute(text(sql))).scalar_one())
        finally:
            await engine.dispose()

    return asyncio.run(query())


@contextmanager
def postgres_database(tag: str, server_url: str = "") -> Iterator[str]:
    """A new, empty database on the TEST_DATABASE_URL server (or on `server_url`), dropped
    afterwards; its URL.

    A database of its own, not the shared test database, so that bot processes never meet
    the schema resets of the PostgreSQL unit tests running beside them.
    """
    server = make_url(server_url or POSTGRES_URL).set(drivername="postgresql+asyncpg")
    name = f"outreach_{tag}_{token_hex(4)}"

    async def admin(statement: str) -> None:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        engine = create_async_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
