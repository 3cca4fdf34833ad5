"""The SQLite engine: a transaction holds the write lock from its start, unless read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from models import db as db_module
from models.db import SQLITE_READ_ONLY, create_engine, create_sessionmaker


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, Path]]:
    """An engine on an empty SQLite file, and the file."""
    path = tmp_path / "lock.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield engine, path
    await engine.dispose()


async def test_a_transaction_takes_the_write_lock_before_its_first_statement(
    sqlite_file: tuple[AsyncEngine, Path],
) -> None:
    engine, path = sqlite_file
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            # Only a read so far: a deferred transaction would hold no lock yet.
            await session.execute(text("SELECT 1"))
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_read_only_transaction_leaves_the_write_lock_to_writers(
    sqlite_file: tuple[AsyncEngine, Path],
) -> None:
    engine, path = sqlite_file
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.connection(execution_options={SQLITE_READ_ONLY: True})
            await session.execute(text("SELECT 1"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


async def test_a_database_another_writer_holds_fails_as_a_database_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "SQLITE_BUSY_SECONDS", 0.05)
    path = tmp_path / "busy.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    sessions = create_sessionmaker(engine)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(exc.OperationalError, match="locked"):
            async with sessions() as session, session.begin():
                await session.execute(text("SELECT 1"))
        other.execute("ROLLBACK")
        async with sessions() as session, session.begin():
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1, "usable again"
    finally:
        other.close()
        await engine.dispose()
