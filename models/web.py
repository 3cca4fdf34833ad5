"""The web channel's data: chats opened in a browser, their sessions, messages and files.

A web chat is the web's counterpart of a Telegram private chat: the person behind it is a
`Person` on channel "web" whose id on that channel is the chat's id. A browser holds a
session (an unguessable token in an HttpOnly cookie, stored here only as its SHA-256) with
its own CSRF token; a chat may have several (the personal link opens it on another phone).

Messages are numbered per chat, and every change to a chat (a new message, an edit) takes
the chat's next sequence number under the chat row's lock, so a page that asks for the
changes after the last number it saw misses nothing, whichever instance wrote them and
whichever it asks. On PostgreSQL each change also sends NOTIFY on `web_chat` (delivered at
commit) so that every instance can push it to the pages it holds at once.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime

# Autoincrementing keys: BIGINT on PostgreSQL, SQLite's rowid (INTEGER) there.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
NOTIFY_CHANNEL = "web_chat"


class WebChat(Base):
    """One chat held in a browser; its id is the person's id on the web channel."""

    __tablename__ = "web_chats"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The sequence number of the chat's newest change, and of the newest one shown.
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    read_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # SHA-256 of the personal link's key, while there is one.
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class WebSession(Base):
    """A browser's hold on a chat: the cookie's token (hashed) and its CSRF token."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("web_chats.id", ondelete="CASCADE"), index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebFile(Base):
    """A picture or voice a person uploaded, or a file the bot sent to a web chat."""

    __tablename__ = "web_files"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("web_chats.id", ondelete="CASCADE"), index=True
    )
    mime: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebMessage(Base):
    """A message the bot wrote to a web chat, as sanitised HTML with its keyboard."""

    __tablename__ = "web_messages"
    __table_args__ = (Index("ix_web_messages_chat_seq", "chat_id", "seq"),)

    chat_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("web_chats.id", ondelete="CASCADE"), primary_key=True
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The chat's sequence number of the message's latest change (its creation or an edit).
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("web_files.id", ondelete="SET NULL")
    )
    photo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The file is a voice message (the page plays it).
    voice: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # What the person sent (shown on their side of the page), not the bot.
    mine: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


def digest(secret: str) -> str:
    """What is stored of a cookie token or a link key: its SHA-256, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """An unguessable token (256 bits)."""
    return secrets.token_urlsafe(32)


async def open_chat(session: AsyncSession, now: datetime) -> tuple[WebSession, str]:
    """A new chat with its first session; the session and the cookie's token."""
    chat = WebChat(created_at=now, last_seq=0, read_seq=0)
    session.add(chat)
    await session.flush()
    return await add_session(session, chat.id, now)


async def add_session(session: AsyncSession, chat_id: int, now: datetime) -> tuple[WebSession, str]:
    """Another browser's hold on a chat; the session and the cookie's token."""
    token = new_secret()
    held = WebSession(token_hash=digest(token), chat_id=chat_id, csrf=new_secret(), created_at=now)
    session.add(held)
    await session.flush()
    return held, token


async def session_for(session: AsyncSession, token: str) -> WebSession | None:
    """The session a cookie's token belongs to."""
    return await session.get(WebSession, digest(token))


async def end_other_sessions(session: AsyncSession, chat_id: int, keep: str) -> int:
    """Sign out every browser holding the chat but this one (by token hash); how many."""
    result = await session.execute(
        delete(WebSession).where(WebSession.chat_id == chat_id, WebSession.token_hash != keep)
    )
    return int(getattr(result, "rowcount", 0))


async def new_link(session: AsyncSession, chat_id: int) -> str:
    """A new personal link key for the chat; the previous key stops working."""
    key = new_secret()
    await session.execute(
        update(WebChat).where(WebChat.id == chat_id).values(link_hash=digest(key))
    )
    return key


async def revoke_link(session: AsyncSession, chat_id: int) -> None:
    """The chat's personal link stops working."""
    await session.execute(update(WebChat).where(WebChat.id == chat_id).values(link_hash=None))


async def chat_by_link(session: AsyncSession, key: str) -> int | None:
    """The chat a personal link key opens, if it is still valid."""
    found = await session.scalar(select(WebChat.id).where(WebChat.link_hash == digest(key)))
    return None if found is None else int(found)


async def _next_seq(session: AsyncSession, chat_id: int) -> int | None:
    # The row lock taken here orders the chat's changes by commit: a page never sees a
    # number before an earlier one is committed.
    result = await session.execute(
        update(WebChat)
        .where(WebChat.id == chat_id)
        .values(last_seq=WebChat.last_seq + 1)
        .returning(WebChat.last_seq)
    )
    seq = result.scalar_one_or_none()
    return None if seq is None else int(seq)


async def append(
    session: AsyncSession,
    chat_id: int,
    html: str,
    markup: dict[str, Any] | None,
    now: datetime,
    *,
    file_id: int | None = None,
    photo: bool = False,
    voice: bool = False,
    mine: bool = False,
) -> int | None:
    """Store a message for the chat's page; its id, or None if there is no such chat."""
    seq = await _next_seq(session, chat_id)
    if seq is None:
        return None
    session.add(
        WebMessage(
            chat_id=chat_id,
            id=seq,
            seq=seq,
            created_at=now,
            text=html,
            markup=markup,
            file_id=file_id,
            photo=photo,
            voice=voice,
            mine=mine,
        )
    )
    await session.flush()
    await notify(session, chat_id)
    return seq


async def edit(
    session: AsyncSession,
    chat_id: int,
    message_id: int,
    *,
    html: str | None,
    markup: dict[str, Any] | None,
) -> bool:
    """Change a message's text (unless None) and keyboard; false if there is no such message."""
    message = await session.get(WebMessage, (chat_id, message_id))
    if message is None:
        return False
    seq = await _next_seq(session, chat_id)
    if seq is None:
        return False
    if html is not None:
        message.text = html
    message.markup = markup
    message.seq = seq
    await session.flush()
    await notify(session, chat_id)
    return True


async def changes_after(
    session: AsyncSession, chat_id: int, seq: int, limit: int = 100
) -> list[WebMessage]:
    """The chat's messages changed after sequence number `seq`, oldest change first.

    From 0 (a page opened afresh) it is the newest `limit` of them; after that, at most
    `limit` at a time, and the page asks again after the last it got.
    """
    query = select(WebMessage).where(WebMessage.chat_id == chat_id, WebMessage.seq > seq)
    if seq <= 0:
        newest = await session.scalars(query.order_by(WebMessage.seq.desc()).limit(limit))
        return list(reversed(list(newest)))
    return list(await session.scalars(query.order_by(WebMessage.seq).limit(limit)))


async def mark_read(session: AsyncSession, chat_id: int, seq: int) -> bool:
    """The page showed every change up to `seq`; false if it had said so already."""
    result = await session.execute(
        update(WebChat)
        .where(WebChat.id == chat_id, WebChat.read_seq < seq, WebChat.last_seq >= seq)
        .values(read_seq=seq)
    )
    return getattr(result, "rowcount", 0) == 1


async def unread(session: AsyncSession, chat_id: int) -> int:
    """How many of the chat's messages came (or changed) since the page last showed it."""
    read = select(WebChat.read_seq).where(WebChat.id == chat_id).scalar_subquery()
    query = select(func.count()).where(WebMessage.chat_id == chat_id, WebMessage.seq > read)
    return int(await session.scalar(query) or 0)


async def add_file(
    session: AsyncSession, chat_id: int, mime: str, name: str, data: bytes, now: datetime
) -> int:
    """Keep a file for a chat; its id."""
    stored = WebFile(chat_id=chat_id, mime=mime, name=name[:128], data=data, created_at=now)
    session.add(stored)
    await session.flush()
    return stored.id


async def file_of(session: AsyncSession, chat_id: int, file_id: int) -> WebFile | None:
    """A file of this chat (never another chat's)."""
    stored = await session.get(WebFile, file_id)
    return stored if stored is not None and stored.chat_id == chat_id else None


async def forget_chat(session: AsyncSession, chat_id: int) -> None:
    """Erase the chat's messages and files (what the person asked for and was told)."""
    await session.execute(delete(WebMessage).where(WebMessage.chat_id == chat_id))
    await session.execute(delete(WebFile).where(WebFile.chat_id == chat_id))


async def notify(session: AsyncSession, chat_id: int) -> None:
    """Tell every instance, at commit, that the chat changed (PostgreSQL; no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": NOTIFY_CHANNEL, "payload": str(chat_id)},
        )


@asynccontextmanager
async def listening(engine: AsyncEngine, on_change: Callable[[int], None]) -> AsyncIterator[bool]:
    """Call `on_change(chat_id)` for every chat any instance changes, while in the block.

    Yields whether it listens: only PostgreSQL has LISTEN/NOTIFY; on SQLite (one process)
    the instance that writes is the only one there is.
    """
    if engine.dialect.name != "postgresql":
        yield False
        return

    def received(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            on_change(int(payload))

    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.add_listener(NOTIFY_CHANNEL, received)
        try:
            yield True
        finally:
            await driver.remove_listener(NOTIFY_CHANNEL, received)
