"""Engines and sessions: SQLite (WAL, one writer at a time) by default, PostgreSQL via URL.

Erased means erased on disk too: SQLite overwrites deleted content with zeros
(secure_delete), and a transaction that erased someone's data (wipe_after_commit) has the
write-ahead log checkpointed and truncated when its connection comes back to the pool, so
the old name and phone do not linger in the -wal file until some later checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import AsyncAdaptedQueuePool

# How long a statement waits for another process's write lock before failing.
SQLITE_BUSY_SECONDS = 10.0
# An execution option: begin the SQLite transaction deferred, as a reader (models.exports).
SQLITE_READ_ONLY = "sqlite_read_only"
# PostgreSQL connections, kept open. Each of the updates a runtime has in hand (64) holds one
# only for its transaction, a few milliseconds, so 20 serve them in turn: waiting for the pool
# is an await, where an overflow connection was a new server backend, opened and closed again,
# at every peak. Several instances stay within the server's default 100 connections.
POSTGRES_POOL_SIZE = 20
# Connections are replaced after this long, before a server or proxy idle limit drops them.
POSTGRES_RECYCLE_SECONDS = 1800

# A connection's info key: personal data was erased in its transaction (wipe_after_commit).
WIPE = "wipe_after_commit"

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    """Whether the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def location(url: str) -> str:
    """Where the URL's database is, for a log line: host, port and database, or the SQLite
    file; never the user name or the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"file {parsed.database or ':memory:'}"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host or 'localhost'}{port}/{parsed.database or ''}"


async def ping(engine: AsyncEngine) -> None:
    """Connect and ask the database the simplest question: raises if it is out of reach."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


class _RunNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[Any, Any]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineSQLite(aiosqlite.Connection):
    """aiosqlite's interface, with every SQLite call made on the event loop's own thread.

    SQLite answers the bot's statements in microseconds, while handing each call to
    aiosqlite's worker thread and back costs about 0.1 ms, four times per statement: that
    hand-off, not SQLite, was what limited the bot (bench/checkin_throughput.py). Writes are
    serialised by SQLite anyway, so nothing is lost by not overlapping them.
    """

    def __init__(self, database: str) -> None:
        connector = partial(
            sqlite3.connect, database, timeout=SQLITE_BUSY_SECONDS, isolation_level=None
        )
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Any:
        return self._connect().__await__()

    def begin_transaction(self, mode: str) -> None:
        """BEGIN DEFERRED or IMMEDIATE, on this thread like every other call."""
        self._conn.execute(f"BEGIN {mode}")

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and truncate it; False when a reader
        elsewhere kept some of it (it goes at the next checkpoint)."""
        busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine tuned for its backend."""
    if is_sqlite(url):
        database = make_url(url).database or ":memory:"

        async def connect() -> Any:
            return await InlineSQLite(database)

        # One connection, handed out in turn: a second connection's BEGIN IMMEDIATE would
        # wait for the write lock inside SQLite's busy handler, blocking the event loop that
        # the first connection needs to finish. Waiting for the pool is an await instead.
        engine = create_async_engine(
            url,
            echo=echo,
            async_creator=connect,
            poolclass=AsyncAdaptedQueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=SQLITE_BUSY_SECONDS * 6,
        )
        _tune_sqlite(engine)
        return engine
    # No pre-ping: it was a round trip on every checkout, that is on every update. A
    # connection the server dropped fails its statement instead, which invalidates the
    # whole pool, and the engine runs that update again (handlers/engine.py).
    return create_async_engine(
        url,
        echo=echo,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=0,
        pool_recycle=POSTGRES_RECYCLE_SECONDS,
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets readers (exports, the test process) read while the bot writes. Transactions
    # start with BEGIN IMMEDIATE: a deferred transaction that reads and then writes fails at
    # once with SQLITE_BUSY when another writer got in between, instead of waiting its turn.
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Deleted and overwritten content is zeroed, not left in free space (erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
        cursor.close()

    @event.listens_for(sync_engine.pool, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        # After the transaction that erased someone ended: their old rows leave the log.
        if dbapi_connection is None or not record.info.pop(WIPE, False):
            return
        if not dbapi_connection.driver_connection.checkpoint():
            log.warning(
                "the write-ahead log is in use: erased data leaves it at the next checkpoint"
            )

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only snapshot (an export) neither waits for nor holds the write lock.
        read_only = connection.get_execution_options().get(SQLITE_READ_ONLY)
        mode = "DEFERRED" if read_only else "IMMEDIATE"
        # Straight to the driver: exec_driver_sql built a cursor, an execution context and
        # a result for it, a tenth of each update's database time (bench/checkin_throughput.py).
        connection.connection.driver_connection.begin_transaction(mode)


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def wipe_after_commit(session: AsyncSession) -> None:
    """Have the erasure this transaction writes leave no trace on disk once it commits: on
    SQLite the write-ahead log is checkpointed and truncated (PostgreSQL keeps no such copy
    readable through the database)."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        connection.info[WIPE] = True
