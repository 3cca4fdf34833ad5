"""The migrations build exactly the schema the models describe, from an empty database."""

from __future__ import annotations

import asyncio
from contextlib import nullcontext
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import models.registry  # noqa: F401
from models import migrate
from models.base import Base
from models.db import create_engine
from tests.botprocess import POSTGRES_URL, postgres_database


async def test_migrated_schema_matches_the_models(db: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []
    assert await migrate.current(db) is not None


async def test_upgrading_twice_is_harmless(db: AsyncEngine) -> None:
    before = await migrate.current(db)
    await migrate.upgrade(db)
    assert await migrate.current(db) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_instances_starting_together_on_an_empty_database(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql" and not POSTGRES_URL:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    empty = (
        postgres_database("migrate")
        if backend == "postgresql"
        else nullcontext(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    )

    async def both(url: str) -> list[str | None]:
        engines = [create_engine(url) for _ in range(2)]
        try:
            # Without taking turns, the two PostgreSQL transactions wait on each other.
            together = asyncio.gather(*(migrate.upgrade(engine) for engine in engines))
            await asyncio.wait_for(together, timeout=60)
            return [await migrate.current(engine) for engine in engines]
        finally:
            for engine in engines:
                await engine.dispose()

    with empty as url:
        revisions = asyncio.run(both(url))
    assert revisions[0] is not None and revisions == [revisions[0]] * 2
