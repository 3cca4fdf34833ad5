"""The audit log: who exported, broadcast, changed a role, made an invite, erased or purged."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime
from models.people import enum_column


class Action(StrEnum):
    """What was done."""

    EXPORT = "export"
    BROADCAST = "broadcast"
    ROLE_CHANGE = "role_change"
    INVITE = "invite"
    ERASURE = "erasure"
    PURGE = "purge"


class AuditEntry(Base):
    """One audited action. People appear by internal id only, never by name or phone."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    # Where it came from when no person did it: "cli", "scheduler".
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[Action] = mapped_column(enum_column(Action), index=True)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer, default=0)


async def record(
    session: AsyncSession,
    action: Action,
    now: datetime,
    *,
    actor_id: int | None = None,
    via: str = "bot",
    scope: dict[str, Any] | None = None,
    rows: int = 0,
) -> AuditEntry:
    """Write one entry in the caller's transaction, so it stands or falls with the action."""
    entry = AuditEntry(
        at=now, actor_id=actor_id, via=via, action=action, scope=dict(scope or {}), rows=rows
    )
    session.add(entry)
    await session.flush()
    return entry


async def recent(
    session: AsyncSession, limit: int, action: Action | None = None
) -> Sequence[AuditEntry]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    return (await session.scalars(query)).all()
