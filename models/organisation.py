"""Towns and the enterprises (employers) grouped under them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class Town(Base):
    """A town or sub-district office (镇/办事处); enterprises belong to one."""

    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Enterprise(Base):
    """An employer (用人单位) with out-of-town workers."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


async def get_or_create_town(session: AsyncSession, name: str) -> Town:
    """The town with this name, created if it does not exist yet."""
    town = await session.scalar(select(Town).where(Town.name == name))
    if town is None:
        town = Town(name=name, active=True)
        session.add(town)
        await session.flush()
    return town


async def find_enterprise(session: AsyncSession, name: str) -> Enterprise | None:
    """The enterprise with exactly this name."""
    return await session.scalar(select(Enterprise).where(Enterprise.name == name))


async def add_enterprise(session: AsyncSession, name: str, town: Town, now: datetime) -> Enterprise:
    """A new active enterprise in the town."""
    enterprise = Enterprise(name=name, town_id=town.id, active=True, created_at=now)
    session.add(enterprise)
    await session.flush()
    return enterprise


async def get_enterprise(session: AsyncSession, enterprise_id: int) -> Enterprise | None:
    """The enterprise by id."""
    return await session.get(Enterprise, enterprise_id)


async def get_town(session: AsyncSession, town_id: int) -> Town | None:
    """The town by id."""
    return await session.get(Town, town_id)


async def list_enterprises(session: AsyncSession) -> list[tuple[Enterprise, Town]]:
    """Every enterprise with its town, by town and name."""
    rows = await session.execute(
        select(Enterprise, Town)
        .join(Town, Town.id == Enterprise.town_id)
        .order_by(Town.name, Enterprise.name)
    )
    return [(e, t) for e, t in rows]


async def count_enterprises(session: AsyncSession) -> int:
    """How many enterprises exist."""
    return int(await session.scalar(select(func.count(Enterprise.id))) or 0)
