"""Invite codes: the deep links that bind a person to an enterprise or give them a role."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from models.base import Base, UTCDateTime
from models.people import enum_column


class InviteKind(StrEnum):
    """Who an invite enrols."""

    WORKER = "worker"
    CONTACT = "contact"
    DEPUTY = "deputy"
    STAFF = "staff"
    # A staff member of the labour inspection brigade (劳动监察大队).
    INSPECTION = "inspection"
    TOWN_OFFICER = "town_officer"
    # An administrator: made only by the operator (`outreach run` with the web channel alone).
    ADMIN = "admin"


class Invite(Base):
    """A code carried by a t.me deep link (`/start <code>`)."""

    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[InviteKind] = mapped_column(enum_column(InviteKind))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"))
    max_uses: Mapped[int | None] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def usable(self, now: datetime) -> bool:
        """Whether the code may still enrol someone at `now`."""
        if self.revoked_at is not None:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return self.max_uses is None or self.uses < self.max_uses

    def used_up(self) -> bool:
        """Whether every use of the code is spent (a single-use link that was opened)."""
        return self.max_uses is not None and self.uses >= self.max_uses


def new_code() -> str:
    """A fresh unguessable code that fits Telegram's start parameter ([A-Za-z0-9_-], <= 64)."""
    return secrets.token_urlsafe(9)


def deep_link(bot_username: str, code: str) -> str:
    """The t.me link that opens the bot with the code; `/start CODE` when the bot has no name."""
    if not bot_username:
        return f"/start {code}"
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


async def get(session: AsyncSession, code: str) -> Invite | None:
    """The invite with this code."""
    return await session.get(Invite, code)


async def add(
    session: AsyncSession,
    kind: InviteKind,
    now: datetime,
    *,
    enterprise_id: int | None = None,
    town_id: int | None = None,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
) -> Invite:
    """Create an invite with a fresh code."""
    invite = Invite(
        code=new_code(),
        kind=kind,
        enterprise_id=enterprise_id,
        town_id=town_id,
        max_uses=max_uses,
        uses=0,
        expires_at=expires_at,
        created_at=now,
    )
    session.add(invite)
    await session.flush()
    return invite


async def worker_invite(session: AsyncSession, enterprise_id: int) -> Invite | None:
    """The enterprise's standing (many-use, unrevoked) worker invite."""
    return await session.scalar(
        select(Invite)
        .where(
            Invite.enterprise_id == enterprise_id,
            Invite.kind == InviteKind.WORKER,
            Invite.revoked_at.is_(None),
        )
        .order_by(Invite.created_at.desc())
        .limit(1)
    )


async def claim(session: AsyncSession, invite: Invite, now: datetime) -> bool:
    """Count one use of the invite atomically; false if it was used up or expired meanwhile.

    The count is written once, by the database (`uses + 1`), and read back from it: the
    loaded invite takes the new count as already stored, so no later flush writes it again
    (a value read before other enrolments through the same link counted theirs).
    """
    uses = await session.scalar(
        update(Invite)
        .where(
            Invite.code == invite.code,
            Invite.revoked_at.is_(None),
            or_(Invite.expires_at.is_(None), Invite.expires_at > now),
            or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses),
        )
        .values(uses=Invite.uses + 1)
        .returning(Invite.uses)
        .execution_options(synchronize_session=False)
    )
    if uses is None:
        return False
    set_committed_value(invite, "uses", uses)
    return True
