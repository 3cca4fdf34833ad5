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
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
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


# The statements of a request's path, built once: SQLAlchemy then finds each compiled in
# its cache instead of building and hashing a new statement object per call.
_CHATS = cast(Table, WebChat.__table__)
_SESSIONS = cast(Table, WebSession.__table__)
_MESSAGES = cast(Table, WebMessage.__table__)
_FILES = cast(Table, WebFile.__table__)
_NEW_CHAT = insert(_CHATS).returning(_CHATS.c.id)
_NEW_SESSION = insert(_SESSIONS)
_SESSION = select(_SESSIONS.c.chat_id, _SESSIONS.c.csrf).where(
    _SESSIONS.c.token_hash == bindparam("token_hash")
)
# The session, and whether its chat holds a message (the one a button was pressed under).
_SESSION_AND_MESSAGE = select(
    _SESSIONS.c.chat_id,
    _SESSIONS.c.csrf,
    exists()
    .where(_MESSAGES.c.chat_id == _SESSIONS.c.chat_id, _MESSAGES.c.id == bindparam("message"))
    .label("holds"),
).where(_SESSIONS.c.token_hash == bindparam("token_hash"))
# Takes `count` sequence numbers at once; the row lock it takes orders the chat's changes
# by commit: a page never sees a number before an earlier one is committed.
_TAKE_SEQS = (
    update(_CHATS)
    .where(_CHATS.c.id == bindparam("chat"))
    .values(last_seq=_CHATS.c.last_seq + bindparam("count"))
    .returning(_CHATS.c.last_seq)
)
_NEW_FILE = insert(_FILES).returning(_FILES.c.id)
_NEW_MESSAGES = insert(_MESSAGES)
_SHOWN = (
    _MESSAGES.c.id,
    _MESSAGES.c.seq,
    _MESSAGES.c.text,
    _MESSAGES.c.markup,
    _MESSAGES.c.mine,
    _MESSAGES.c.photo,
    _MESSAGES.c.voice,
    _MESSAGES.c.file_id,
)
_EDIT_KEY = (_MESSAGES.c.chat_id == bindparam("chat")) & (_MESSAGES.c.id == bindparam("message"))
_EDIT = (
    update(_MESSAGES)
    .where(_EDIT_KEY)
    .values(markup=bindparam("new_markup"), seq=bindparam("new_seq"))
    .returning(*_SHOWN)
)
_EDIT_TEXT = _EDIT.values(text=bindparam("new_text"))
_HAS_MESSAGE = select(_MESSAGES.c.id).where(_EDIT_KEY)
_CHANGES = select(*_SHOWN).where(
    _MESSAGES.c.chat_id == bindparam("chat"), _MESSAGES.c.seq > bindparam("after")
)
_CHANGES_NEXT = _CHANGES.order_by(_MESSAGES.c.seq).limit(bindparam("limit"))
_CHANGES_NEWEST = _CHANGES.order_by(_MESSAGES.c.seq.desc()).limit(bindparam("limit"))


@dataclass(frozen=True)
class Hold:
    """A browser's session as a request needs it: the chat it holds and its CSRF token."""

    chat_id: int
    csrf: str
    token_hash: str


@dataclass(frozen=True)
class Outgoing:
    """A new message for a chat: sanitised HTML, its keyboard, and a file it carries
    (type, name, content) or one already stored (`file_id`)."""

    html: str
    markup: dict[str, Any] | None = None
    file: tuple[str, str, bytes] | None = None
    file_id: int | None = None
    photo: bool = False
    voice: bool = False
    mine: bool = False


@dataclass(frozen=True)
class Edit:
    """A change to a message: its new text (None keeps it) and its keyboard."""

    message_id: int
    html: str | None
    markup: dict[str, Any] | None


@dataclass(frozen=True)
class Shown:
    """A message as stored, with the sequence number of its latest change."""

    id: int
    seq: int
    html: str
    markup: dict[str, Any] | None
    mine: bool
    photo: bool
    voice: bool
    file_id: int | None


@dataclass(frozen=True)
class Written:
    """What one `write` stored: the sequence numbers it took (`first` to `last`, every one
    of them this transaction's) and the messages as they now are; an edit of a message that
    was gone is missing from `messages`, its number unused."""

    first: int
    last: int
    messages: list[Shown]
    new_ids: list[int]


def _shown(row: Any) -> Shown:
    return Shown(
        int(row.id),
        int(row.seq),
        row.text,
        row.markup,
        bool(row.mine),
        bool(row.photo),
        bool(row.voice),
        None if row.file_id is None else int(row.file_id),
    )


async def _execute(session: AsyncSession, statement: Any, params: Any) -> CursorResult[Any]:
    # Core statements on the session's connection: the ORM's execution layer (events,
    # compile state, autoflush) would cost more than the statement itself.
    connection = await session.connection()
    return cast(CursorResult[Any], await connection.execute(statement, params))


async def open_chat(session: AsyncSession, now: datetime) -> tuple[Hold, str]:
    """A new chat with its first session; the session and the cookie's token."""
    result = await _execute(session, _NEW_CHAT, {"created_at": now, "last_seq": 0, "read_seq": 0})
    return await add_session(session, int(result.scalar_one()), now)


async def add_session(session: AsyncSession, chat_id: int, now: datetime) -> tuple[Hold, str]:
    """Another browser's hold on a chat; the session and the cookie's token."""
    token = new_secret()
    held = Hold(chat_id, new_secret(), digest(token))
    values = {
        "token_hash": held.token_hash,
        "chat_id": chat_id,
        "csrf": held.csrf,
        "created_at": now,
    }
    await _execute(session, _NEW_SESSION, values)
    return held, token


async def session_for(session: AsyncSession, token: str) -> Hold | None:
    """The session a cookie's token belongs to."""
    token_hash = digest(token)
    row = (await _execute(session, _SESSION, {"token_hash": token_hash})).first()
    return None if row is None else Hold(int(row.chat_id), str(row.csrf), token_hash)


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


async def session_with_message(
    session: AsyncSession, token: str, message_id: int
) -> tuple[Hold, bool] | None:
    """The session a cookie's token belongs to, and whether its chat holds the message."""
    token_hash = digest(token)
    values = {"token_hash": token_hash, "message": message_id}
    row = (await _execute(session, _SESSION_AND_MESSAGE, values)).first()
    if row is None:
        return None
    return Hold(int(row.chat_id), str(row.csrf), token_hash), bool(row.holds)


async def has_message(session: AsyncSession, chat_id: int, message_id: int) -> bool:
    """Whether the chat holds the message (an edit of it can be made)."""
    found = await _execute(session, _HAS_MESSAGE, {"chat": chat_id, "message": message_id})
    return found.first() is not None


async def write(
    session: AsyncSession,
    chat_id: int,
    changes: Sequence[Outgoing | Edit],
    now: datetime,
) -> Written | None:
    """Store new messages and edits for a chat's page, in order, with one sequence number
    each; None if there is no such chat. A new message's id is its sequence number."""
    count = len(changes)
    if count == 0:
        return Written(0, 0, [], [])
    taken = await _execute(session, _TAKE_SEQS, {"chat": chat_id, "count": count})
    last = taken.scalar_one_or_none()
    if last is None:
        return None
    first = int(last) - count + 1
    rows: list[dict[str, Any]] = []
    shown: list[Shown] = []
    for seq, change in enumerate(changes, start=first):
        if isinstance(change, Edit):
            values = {
                "chat": chat_id,
                "message": change.message_id,
                "new_markup": change.markup,
                "new_seq": seq,
            }
            if change.html is None:
                edited = await _execute(session, _EDIT, values)
            else:
                edited = await _execute(session, _EDIT_TEXT, {**values, "new_text": change.html})
            row = edited.first()
            if row is not None:
                shown.append(_shown(row))
            continue
        file_id = change.file_id
        if change.file is not None:
            file_id = await add_file(session, chat_id, *change.file, now)
        rows.append(
            {
                "chat_id": chat_id,
                "id": seq,
                "seq": seq,
                "created_at": now,
                "text": change.html,
                "markup": change.markup,
                "file_id": file_id,
                "photo": change.photo,
                "voice": change.voice,
                "mine": change.mine,
            }
        )
        shown.append(
            Shown(
                seq,
                seq,
                change.html,
                change.markup,
                change.mine,
                change.photo,
                change.voice,
                file_id,
            )
        )
    if rows:
        await _execute(session, _NEW_MESSAGES, rows)
    await notify(session, chat_id)
    shown.sort(key=lambda message: message.seq)
    return Written(first, int(last), shown, [row["id"] for row in rows])


async def changes_after(
    session: AsyncSession, chat_id: int, seq: int, limit: int = 100
) -> list[Shown]:
    """The chat's messages changed after sequence number `seq`, oldest change first.

    From 0 (a page opened afresh) it is the newest `limit` of them; after that, at most
    `limit` at a time, and the page asks again after the last it got.
    """
    values = {"chat": chat_id, "after": seq, "limit": limit}
    if seq <= 0:
        newest = await _execute(session, _CHANGES_NEWEST, values)
        return [_shown(row) for row in reversed(newest.all())]
    return [_shown(row) for row in await _execute(session, _CHANGES_NEXT, values)]


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
    values = {"chat_id": chat_id, "mime": mime, "name": name[:128], "data": data, "created_at": now}
    return int((await _execute(session, _NEW_FILE, values)).scalar_one())


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
