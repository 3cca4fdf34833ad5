"""The migrations build exactly the schema the models describe, from an empty database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import models.registry  # noqa: F401
from models import migrate
from models.base import Base


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
