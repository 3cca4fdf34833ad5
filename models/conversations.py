"""Conversation state as data: one row per chat and user, and the update ids already handled.

Both are keyed by channel too (`telegram`, `web`): a web chat's id and a Telegram user's id
are numbered apart and may be equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, String, bindparam, delete, literal_column, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.people import Person

# Telegram keeps an update it could not deliver for 24 hours: an id older than that is never
# seen again, and its row may go (a recurring job, bot/jobs.py).
REDELIVERY_WINDOW = timedelta(hours=24)

TELEGRAM = "telegram"


class Conversation(Base):
    """Where a person is in a conversation, and their chosen language before they enrol."""

    __tablename__ = "conversations"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True, server_default=TELEGRAM)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProcessedUpdate(Base):
    """A Telegram update id already handled; Telegram redelivers after a crash."""

    __tablename__ = "processed_updates"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True, server_default=TELEGRAM)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class StoredConversation:
    """A conversation row as read: plain values, so the engine's hot path skips the ORM."""

    language: str | None
    state: dict[str, Any] | None
    updated_at: datetime


@dataclass(frozen=True)
class Opened:
    """What the start of an update's transaction found: whether the update is new, the
    person behind the account (if enrolled) and their conversation row (if any)."""

    fresh: bool
    person: Person | None
    conversation: StoredConversation | None


_TABLE = Conversation.__table__
_KEY = (
    (_TABLE.c.channel == bindparam("channel"))
    & (_TABLE.c.chat_id == bindparam("chat_id"))
    & (_TABLE.c.user_id == bindparam("user_id"))
)
# Built once: a statement object memoizes its cache key, saving that work on every update.
_LOAD = select(_TABLE.c.language, _TABLE.c.state, _TABLE.c.updated_at).where(_KEY)
_LOAD_FOR_UPDATE = _LOAD.with_for_update()


def _upsert(insert: Any) -> Any:
    statement = insert(_TABLE)
    return statement.on_conflict_do_update(
        index_elements=[_TABLE.c.channel, _TABLE.c.chat_id, _TABLE.c.user_id],
        set_={
            "language": statement.excluded.language,
            "state": statement.excluded.state,
            "updated_at": statement.excluded.updated_at,
        },
    )


def _mark(insert: Any) -> Any:
    table = ProcessedUpdate.__table__
    return insert(table).on_conflict_do_nothing(index_elements=[table.c.channel, table.c.update_id])


# Built once per dialect, like _LOAD: building an upsert (its `excluded` columns above all)
# cost more than running it, on every update (bench/checkin_throughput.py).
_SAVE = {"postgresql": _upsert(pg_insert), "sqlite": _upsert(sqlite_insert)}
_MARK = {"postgresql": _mark(pg_insert), "sqlite": _mark(sqlite_insert)}


def _opening(dialect: str, marking: bool) -> Any:
    """One statement reading the person and their conversation row together (and, on
    PostgreSQL, recording the update id in the same round trip)."""
    one = select(literal_column("1").label("one")).subquery("one")
    person_key = (Person.channel == bindparam("channel")) & (
        Person.telegram_user_id == bindparam("user_id")
    )
    if dialect == "postgresql":
        # FOR UPDATE may not lock the nullable side of an outer join; inside a lateral
        # subquery it locks the conversation row, and waits for another instance's turn.
        row = _LOAD_FOR_UPDATE.lateral("conversation")
        query = select(Person, row.c.language, row.c.state, row.c.updated_at)
        query = query.select_from(one).outerjoin(row, true())
    else:
        # SQLite's transaction holds the database's write lock from its start (models/db.py).
        query = select(Person, _TABLE.c.language, _TABLE.c.state, _TABLE.c.updated_at)
        query = query.select_from(one).outerjoin(_TABLE, _KEY)
    query = query.outerjoin(Person, person_key)
    if dialect == "postgresql" and marking:
        mark = (
            pg_insert(ProcessedUpdate)
            .values(
                channel=bindparam("channel"),
                update_id=bindparam("update_id"),
                processed_at=bindparam("now"),
            )
            .on_conflict_do_nothing(
                index_elements=[ProcessedUpdate.channel, ProcessedUpdate.update_id]
            )
            .returning(ProcessedUpdate.update_id)
            .cte("mark")
        )
        query = query.add_columns(mark.c.update_id).outerjoin(mark, true())
    return query


# Built once, like _SAVE: by dialect, and whether the event carries an update id to record.
_OPEN = {
    (dialect, marking): _opening(dialect, marking)
    for dialect in ("postgresql", "sqlite")
    for marking in (True, False)
}


def _dialect(session: AsyncSession) -> str:
    return "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"


async def open_turn(
    session: AsyncSession,
    update_id: int | None,
    chat_id: int,
    user_id: int,
    now: datetime,
    channel: str = TELEGRAM,
) -> Opened:
    """Begin handling an update: record its id (an update seen before is not fresh), and
    read the person and their conversation row, locked where the database can lock rows.

    One statement on PostgreSQL; on SQLite the id is recorded by a second one, first.
    """
    dialect = _dialect(session)
    marking = update_id is not None
    params = {
        "channel": channel,
        "chat_id": chat_id,
        "user_id": user_id,
        "update_id": update_id,
        "now": now,
    }
    on_sqlite = update_id is not None and dialect == "sqlite"
    if on_sqlite and not await mark_processed(session, update_id or 0, now, channel):
        return Opened(False, None, None)
    row = (await session.execute(_OPEN[dialect, marking], params)).one()
    if marking and dialect == "postgresql" and row.update_id is None:
        return Opened(False, None, None)
    conversation = (
        None
        if row.updated_at is None
        else StoredConversation(row.language, row.state, row.updated_at)
    )
    return Opened(True, row.Person, conversation)


async def load(
    session: AsyncSession,
    chat_id: int,
    user_id: int,
    *,
    for_update: bool = True,
    channel: str = TELEGRAM,
) -> StoredConversation | None:
    """The conversation row, locked for this transaction where the database can lock rows."""
    query = _LOAD_FOR_UPDATE if for_update else _LOAD
    key = {"channel": channel, "chat_id": chat_id, "user_id": user_id}
    row = (await session.execute(query, key)).first()
    return None if row is None else StoredConversation(row.language, row.state, row.updated_at)


async def save(
    session: AsyncSession,
    chat_id: int,
    user_id: int,
    *,
    language: str | None,
    state: dict[str, Any] | None,
    now: datetime,
    channel: str = TELEGRAM,
) -> None:
    """Store the conversation row, new or changed, in one statement."""
    values = {
        "channel": channel,
        "chat_id": chat_id,
        "user_id": user_id,
        "language": language,
        "state": state,
    }
    await session.execute(_SAVE[_dialect(session)], {**values, "updated_at": now})


async def remove(
    session: AsyncSession, chat_id: int, user_id: int, channel: str = TELEGRAM
) -> None:
    """Forget the conversation row entirely."""
    await session.execute(
        delete(Conversation).where(
            Conversation.channel == channel,
            Conversation.chat_id == chat_id,
            Conversation.user_id == user_id,
        )
    )


async def mark_processed(
    session: AsyncSession, update_id: int, now: datetime, channel: str = TELEGRAM
) -> bool:
    """Record the update id; false if it was already processed (by this or another instance)."""
    statement = _MARK[_dialect(session)]
    values = {"channel": channel, "update_id": update_id, "processed_at": now}
    result = await session.execute(statement, values)
    return getattr(result, "rowcount", 0) == 1


async def forget_processed_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop update ids recorded before the cutoff (see REDELIVERY_WINDOW); how many."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0))
