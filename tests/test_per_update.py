"""The per-update path: one transaction, few statements, redelivery, lost connections, the
prune of old update ids, and an invite's use count under many enrolments at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import jobs
from handlers.events import ButtonPress, Text
from models import conversations
from models.conversations import ProcessedUpdate
from models.db import create_engine
from models.invites import Invite
from models.people import Person
from tests.harness import Kit, before_the_city, keys
from tests.test_jobs import background, no_job_store_left  # noqa: F401 (a fixture)


class Counted:
    """Statements and transactions an engine ran inside a block."""

    def __init__(self) -> None:
        self.statements = 0
        self.transactions = 0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Counted]:
    """Count what the engine sends to its database inside the block."""
    counted = Counted()

    def statement(*_: Any) -> None:
        counted.statements += 1

    def begin(_: Connection) -> None:
        counted.transactions += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "begin", begin)
    try:
        yield counted
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(engine.sync_engine, "begin", begin)


async def test_a_step_is_one_transaction_of_few_statements(db: AsyncEngine) -> None:
    kit = Kit(db)
    _, code = await kit.add_enterprise()
    user = await before_the_city(kit, 100, code)
    await user.send("信阳市")
    await user.press("plan.stay")
    button, message = user.find("need.heating")
    # Ticking a need changes the conversation and nothing else. (The engine alone: the
    # harness reads the state back after each event.)
    press = ButtonPress(
        update_id=9_000,
        user_id=100,
        chat_id=100,
        language_code="zh-hans",
        data=button.data,
        callback_id="cb",
        message_id=message.message_id,
    )
    with counting(db) as counted:
        answer = await kit.engine.handle(press)
    assert keys(answer) == ["checkin.ask_needs"]
    # The update id, the person with their conversation (one statement on PostgreSQL), the
    # conversation written back.
    expected = 2 if db.dialect.name == "postgresql" else 3
    assert (counted.transactions, counted.statements) == (1, expected)


async def test_a_redelivered_update_changes_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    _, code = await kit.add_enterprise()
    user = await before_the_city(kit, 100, code)
    typed = Text(update_id=5_000, user_id=100, chat_id=100, language_code="zh-hans", text="信阳市")
    first = await kit.engine.handle(typed)
    assert first.actions
    again = await kit.engine.handle(typed)
    assert again.actions == ()
    assert await kit.count(Person) == 1
    state = await user.state()
    assert state is not None and state.flow == "checkin"


@pytest.mark.usefixtures("no_job_store_left")
async def test_old_update_ids_are_pruned_by_the_job(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await user.command("help")
    kit.clock.advance(hours=20)
    await user.command("help")
    kit.clock.advance(hours=6)
    async with background(db, kit.clock) as service:
        service.scheduler.start()
        jobs.register(service)
        assert service.scheduler.get_job(jobs.PRUNE_UPDATES_JOB) is not None
        await jobs.prune_processed_updates(service=service)
    # The first is past Telegram's redelivery window (26 h), the second not (6 h).
    async with kit.sessions() as session:
        kept = list(await session.scalars(select(ProcessedUpdate.processed_at)))
    assert kept == [kit.clock() - timedelta(hours=6)]
    assert timedelta(hours=24) == conversations.REDELIVERY_WINDOW


async def test_a_lost_database_connection_costs_the_update_nothing(db: AsyncEngine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL")
    kit = Kit(db)
    _, code = await kit.add_enterprise()
    user = await before_the_city(kit, 100, code)
    # The server ends the bot's sessions (a restart, say): its pooled connections are dead,
    # and nothing checks them before use.
    other = create_engine(db.url.render_as_string(hide_password=False))
    try:
        async with other.connect() as connection:
            ended = await connection.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await other.dispose()
    assert ended
    # The first statement fails, the pool is renewed, and the update runs again.
    assert "enrol.done" in keys(await user.send("信阳市"))
    assert await kit.count(Person) == 1


async def test_200_enrolments_through_one_invite_at_once_count_200_uses(
    db: AsyncEngine,
) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("concurrent transactions: PostgreSQL (SQLite takes one writer at a time)")
    kit = Kit(db)
    _, code = await kit.add_enterprise()
    users = [await before_the_city(kit, 1_000 + n, code) for n in range(200)]
    answers = await asyncio.gather(*(user.send("信阳市") for user in users))
    assert all("enrol.done" in keys(answer) for answer in answers)
    assert await kit.count(Person) == 200
    async with kit.sessions() as session:
        invite = await session.get(Invite, code)
    assert invite is not None and invite.uses == 200
