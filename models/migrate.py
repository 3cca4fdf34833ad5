"""Apply the Alembic migrations that live beside the models."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).with_name("migrations")
# The advisory lock migrating instances share on PostgreSQL (any fixed number will do).
LOCK = 0x6F757472  # "outr"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to an open connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class Upgraded:
    """What an upgrade did: the revision before (None: an empty database) and after."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        """Whether any migration ran."""
        return self.before != self.after

    def __str__(self) -> str:
        if not self.changed:
            return f"database already at revision {self.after}"
        return f"database schema upgraded from {self.before or 'nothing'} to revision {self.after}"


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> Upgraded:
    """Bring the schema up to `revision` (the newest by default); what it did."""

    def run(connection: Connection) -> Upgraded:
        before = _revision(connection)
        command.upgrade(alembic_config(connection), revision)
        return Upgraded(before, _revision(connection))

    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Instances started together take turns: the second waits here until the first
            # has committed, then finds nothing left to do. (SQLite's write lock does this.)
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK})
        return await connection.run_sync(run)


async def current(engine: AsyncEngine) -> str | None:
    """The revision the database is at, if any."""
    async with engine.connect() as connection:
        return await connection.run_sync(_revision)
