"""Leases: which process holds a singleton duty (the scheduler and sender) until when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Lease(Base):
    """A named duty held by one process until it expires or is renewed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def acquire(
    session: AsyncSession, name: str, holder: str, now: datetime, until: datetime
) -> bool:
    """Take or renew the lease; false while another holder's lease has not expired."""
    dialect = session.get_bind().dialect.name
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(Lease)
    statement = insert.values(name=name, holder=holder, expires_at=until).on_conflict_do_update(
        index_elements=[Lease.name],
        set_={"holder": insert.excluded.holder, "expires_at": insert.excluded.expires_at},
        where=(Lease.expires_at < now) | (Lease.holder == holder),
    )
    result = await session.execute(statement)
    return getattr(result, "rowcount", 0) == 1


async def holder_of(session: AsyncSession, name: str) -> Lease | None:
    """The current lease row, expired or not."""
    return await session.scalar(select(Lease).where(Lease.name == name))


async def take_over(
    session: AsyncSession, name: str, old_holder: str, holder: str, until: datetime
) -> bool:
    """Take the lease from a holder known to be dead."""
    result = await session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == old_holder)
        .values(holder=holder, expires_at=until)
    )
    return getattr(result, "rowcount", 0) == 1


async def release(session: AsyncSession, name: str, holder: str) -> None:
    """Give the lease up (on a clean shutdown)."""
    await session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
