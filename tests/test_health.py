"""GET /healthz's answer: the database, and who runs the scheduler (for a load balancer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.config import DatabaseSettings, SchedulerSettings, Settings
from bot.runtimes.common import health
from models import leases

NOW = datetime(2027, 1, 20, 8, 0, tzinfo=UTC)


async def make_app(url: str, *, scheduler: bool) -> App:
    settings = Settings(
        database=DatabaseSettings(url=url), scheduler=SchedulerSettings(enabled=scheduler)
    )
    return await build_app(settings, clock=lambda: NOW, run_migrations=False)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[App]:
    app = await make_app(database_url, scheduler=False)
    yield app
    await app.close()


async def test_a_reachable_database_and_no_scheduler_here(app: App) -> None:
    assert await health(app) == (
        200,
        {"database": "ok", "scheduler": "off", "scheduler_holder": None},
    )


async def test_the_live_lease_holder_is_named(app: App) -> None:
    async with app.sessions() as session, session.begin():
        assert await leases.acquire(session, "scheduler", "host:42:abc", NOW, NOW + timedelta(1))
    status, body = await health(app)
    assert (status, body["scheduler_holder"]) == (200, "host:42:abc")


async def test_an_expired_lease_names_nobody(app: App) -> None:
    async with app.sessions() as session, session.begin():
        await leases.acquire(session, "scheduler", "host:42:abc", NOW, NOW - timedelta(seconds=1))
    assert (await health(app))[1]["scheduler_holder"] is None


async def test_an_unreachable_database_is_503(tmp_path: Path) -> None:
    app = await make_app(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'bot.db'}", scheduler=True)
    try:
        assert await health(app) == (503, {"database": "unreachable", "scheduler": "stopped"})
    finally:
        await app.close()
