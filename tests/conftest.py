"""Shared fixtures: a migrated database per test (SQLite always, PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# Matplotlib builds its font list on first use, tens of seconds on a fresh machine with the
# CJK fonts: built here once, not inside the first bot that draws a chart under a timeout.
import matplotlib.font_manager  # noqa: F401
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

import models.registry  # noqa: F401 (every model: Base.metadata orders the whole schema)
from models import migrate
from models.base import Base
from models.db import create_engine

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")


def asyncpg_url(url: str) -> str:
    """Accept postgresql:// URLs too; the bot talks to PostgreSQL through asyncpg."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


async def _migrate_fresh(url: str) -> None:
    engine = create_engine(url)
    try:
        if url.startswith("postgresql"):
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate_fresh(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def postgres_migrated() -> Iterator[str]:
    """The PostgreSQL test database, emptied and migrated from scratch once per session."""
    if not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    url = asyncpg_url(POSTGRES_URL)
    asyncio.run(_migrate_fresh(url))
    yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database for this test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_migrated")
    asyncio.run(_truncate(url))
    return url


async def _truncate(url: str) -> None:
    """Empty every table and restart every id sequence, as a new database would have them.

    DELETE, children before parents: a test leaves a handful of rows, and TRUNCATE's new
    files for each of the tables cost more than the deletes (tens of ms, at every test).
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            present = set(
                (
                    await connection.execute(
                        text(
                            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                            "AND tablename <> 'alembic_version'"
                        )
                    )
                ).scalars()
            )
            ours = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name in present]
            for name in sorted(present - set(ours)) + ours:
                await connection.execute(text(f'DELETE FROM "{name}"'))
            await connection.execute(
                text(
                    "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
                )
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An async engine on this test's database."""
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()
