"""Conversation state as data: one row per chat and user, and the update ids already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Conversation(Base):
    """Where a person is in a conversation, and their chosen language before they enrol."""

    __tablename__ = "conversations"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ProcessedUpdate(Base):
    """A Telegram update id already handled; Telegram redelivers after a crash."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


async def load(
    session: AsyncSession, chat_id: int, user_id: int, *, for_update: bool = True
) -> Conversation | None:
    """The conversation row, locked for this transaction where the database can lock rows."""
    query = select(Conversation).where(
        Conversation.chat_id == chat_id, Conversation.user_id == user_id
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def save(session: AsyncSession, conversation: Conversation) -> None:
    """Store a new or changed conversation row."""
    session.add(conversation)
    await session.flush()


async def remove(session: AsyncSession, chat_id: int, user_id: int) -> None:
    """Forget the conversation row entirely."""
    await session.execute(
        delete(Conversation).where(Conversation.chat_id == chat_id, Conversation.user_id == user_id)
    )


async def mark_processed(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Record the update id; false if it was already processed (by this or another instance)."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    return getattr(result, "rowcount", 0) == 1


async def forget_processed_before(session: AsyncSession, cutoff: datetime) -> int:
    """Drop update ids older than the cutoff; Telegram keeps undelivered updates for 24 h."""
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
    )
    return int(getattr(result, "rowcount", 0))
