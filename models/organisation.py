"""Towns and the enterprises (employers) grouped under them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models import invites
from models.base import Base, UTCDateTime
from models.invites import Invite, InviteKind
from models.people import Person, Role

TOWN_NAME_LENGTH = 64
ENTERPRISE_NAME_LENGTH = 128
CONTACT_NAME_LENGTH = 64
CONTACT_PHONE_LENGTH = 24


class Town(Base):
    """A town or sub-district office (镇/办事处); enterprises belong to one."""

    __tablename__ = "towns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TOWN_NAME_LENGTH), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Enterprise(Base):
    """An employer (用人单位) with out-of-town workers, and the contact it named."""

    __tablename__ = "enterprises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(ENTERPRISE_NAME_LENGTH), unique=True)
    town_id: Mapped[int] = mapped_column(ForeignKey("towns.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # As the district's sheet gives them; the contact's own Telegram account is a Person.
    contact_name: Mapped[str | None] = mapped_column(String(CONTACT_NAME_LENGTH))
    contact_phone: Mapped[str | None] = mapped_column(String(CONTACT_PHONE_LENGTH))


@dataclass(frozen=True)
class TownSummary:
    """A town with how many of its enterprises are active."""

    town: Town
    active_enterprises: int


# Towns ---------------------------------------------------------------------------------


async def get_or_create_town(session: AsyncSession, name: str) -> Town:
    """The town with this name, created if it does not exist yet."""
    town = await find_town(session, name)
    if town is None:
        town = await add_town(session, name)
    return town


async def find_town(session: AsyncSession, name: str) -> Town | None:
    """The town with exactly this name."""
    return await session.scalar(select(Town).where(Town.name == name))


async def add_town(session: AsyncSession, name: str) -> Town:
    """A new active town (the name must be free)."""
    town = Town(name=name, active=True)
    session.add(town)
    await session.flush()
    return town


async def get_town(session: AsyncSession, town_id: int) -> Town | None:
    """The town by id."""
    return await session.get(Town, town_id)


async def list_towns(session: AsyncSession, *, active_only: bool = False) -> list[Town]:
    """Towns by name."""
    query = select(Town).order_by(Town.name)
    if active_only:
        query = query.where(Town.active.is_(True))
    return list(await session.scalars(query))


async def town_summaries(session: AsyncSession, *, town_id: int | None = None) -> list[TownSummary]:
    """Towns by name (or just one), each with its number of active enterprises."""
    active = (
        select(func.count(Enterprise.id))
        .where(Enterprise.town_id == Town.id, Enterprise.active.is_(True))
        .scalar_subquery()
    )
    query = select(Town, active).order_by(Town.name)
    if town_id is not None:
        query = query.where(Town.id == town_id)
    rows = await session.execute(query)
    return [TownSummary(town, int(count or 0)) for town, count in rows]


async def rename_town(session: AsyncSession, town: Town, name: str) -> bool:
    """Rename the town; false if another town already has the name."""
    other = await find_town(session, name)
    if other is not None and other.id != town.id:
        return False
    town.name = name
    await session.flush()
    return True


async def deactivate_town(session: AsyncSession, town: Town) -> int:
    """Deactivate the town and its active enterprises; returns how many enterprises."""
    town.active = False
    result = await session.execute(
        update(Enterprise)
        .where(Enterprise.town_id == town.id, Enterprise.active.is_(True))
        .values(active=False)
        .execution_options(synchronize_session="fetch")
    )
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


async def activate_town(session: AsyncSession, town: Town) -> None:
    """Make the town active again (its enterprises stay as they are)."""
    town.active = True
    await session.flush()


# Enterprises ---------------------------------------------------------------------------


async def find_enterprise(session: AsyncSession, name: str) -> Enterprise | None:
    """The enterprise with exactly this name."""
    return await session.scalar(select(Enterprise).where(Enterprise.name == name))


async def find_enterprises(session: AsyncSession, names: list[str]) -> dict[str, Enterprise]:
    """The enterprises with these exact names, by name (one query for a whole sheet)."""
    found: dict[str, Enterprise] = {}
    # Chunked: PostgreSQL and SQLite both limit the parameters of one statement.
    for start in range(0, len(names), 500):
        chunk = names[start : start + 500]
        for enterprise in await session.scalars(
            select(Enterprise).where(Enterprise.name.in_(chunk))
        ):
            found[enterprise.name] = enterprise
    return found


async def add_enterprise(
    session: AsyncSession,
    name: str,
    town: Town,
    now: datetime,
    *,
    contact_name: str | None = None,
    contact_phone: str | None = None,
) -> Enterprise:
    """A new active enterprise in the town."""
    enterprise = Enterprise(
        name=name,
        town_id=town.id,
        active=True,
        created_at=now,
        contact_name=contact_name,
        contact_phone=contact_phone,
    )
    session.add(enterprise)
    await session.flush()
    return enterprise


async def add_enterprise_with_invite(
    session: AsyncSession,
    name: str,
    town: Town,
    now: datetime,
    *,
    contact_name: str | None = None,
    contact_phone: str | None = None,
) -> tuple[Enterprise, Invite]:
    """A new enterprise and the standing many-use invite its workers enrol with."""
    enterprise = await add_enterprise(
        session, name, town, now, contact_name=contact_name, contact_phone=contact_phone
    )
    invite = await invites.add(session, InviteKind.WORKER, now, enterprise_id=enterprise.id)
    return enterprise, invite


async def set_contact_details(
    session: AsyncSession, enterprise_id: int, name: str | None, phone: str | None
) -> None:
    """The enterprise's contact is now this person (shown in /missing and the export)."""
    await session.execute(
        update(Enterprise)
        .where(Enterprise.id == enterprise_id)
        .values(contact_name=name, contact_phone=phone)
    )


async def forget_contact_details(
    session: AsyncSession, enterprise_id: int | None, person: Person
) -> None:
    """Take a former contact's name and phone off the enterprise, where they stand there;
    with no enterprise, off every enterprise that shows their phone (a person erased after
    moving on from being a contact)."""
    matches = []
    if person.phone is not None:
        matches.append(Enterprise.contact_phone == person.phone)
    if person.full_name is not None and enterprise_id is not None:
        matches.append(Enterprise.contact_name == person.full_name)
    if not matches:
        return
    query = update(Enterprise).where(or_(*matches))
    if enterprise_id is not None:
        query = query.where(Enterprise.id == enterprise_id)
    await session.execute(query.values(contact_name=None, contact_phone=None))


async def leave_contact_role(session: AsyncSession, person: Person) -> None:
    """A primary contact takes up another role: their name and phone leave the enterprise
    (which /missing, its card and the export show) until its next contact's arrive."""
    if person.role is Role.CONTACT and not person.deputy and person.enterprise_id is not None:
        await forget_contact_details(session, person.enterprise_id, person)


async def get_enterprise(session: AsyncSession, enterprise_id: int) -> Enterprise | None:
    """The enterprise by id."""
    return await session.get(Enterprise, enterprise_id)


async def list_enterprises(session: AsyncSession) -> list[tuple[Enterprise, Town]]:
    """Every enterprise with its town, by town and name."""
    rows = await session.execute(
        select(Enterprise, Town)
        .join(Town, Town.id == Enterprise.town_id)
        .order_by(Town.name, Enterprise.name)
    )
    return [(e, t) for e, t in rows]


async def search_enterprises(
    session: AsyncSession,
    *,
    town_id: int | None = None,
    query: str = "",
    offset: int = 0,
    limit: int = 10,
) -> tuple[list[tuple[Enterprise, Town]], int]:
    """One page of enterprises (in a town, whose name contains `query`), and how many match."""
    condition = Enterprise.town_id == town_id if town_id is not None else None
    if query:
        found = func.lower(Enterprise.name).contains(query.lower(), autoescape=True)
        condition = found if condition is None else condition & found
    page = (
        select(Enterprise, Town)
        .join(Town, Town.id == Enterprise.town_id)
        .order_by(Enterprise.active.desc(), Enterprise.name)
        .offset(offset)
        .limit(limit)
    )
    total = select(func.count(Enterprise.id))
    if condition is not None:
        page, total = page.where(condition), total.where(condition)
    rows = await session.execute(page)
    return [(e, t) for e, t in rows], int(await session.scalar(total) or 0)


async def rename_enterprise(session: AsyncSession, enterprise: Enterprise, name: str) -> bool:
    """Rename the enterprise; false if another enterprise already has the name."""
    other = await find_enterprise(session, name)
    if other is not None and other.id != enterprise.id:
        return False
    enterprise.name = name
    await session.flush()
    return True


async def set_enterprise_active(
    session: AsyncSession, enterprise: Enterprise, active: bool
) -> None:
    """Deactivate (its invite links stop working) or reactivate the enterprise."""
    enterprise.active = active
    await session.flush()


async def count_enterprises(session: AsyncSession) -> int:
    """How many enterprises exist."""
    return int(await session.scalar(select(func.count(Enterprise.id))) or 0)


async def count_workers(session: AsyncSession, enterprise_id: int) -> int:
    """How many workers are registered with the enterprise."""
    return int(
        await session.scalar(
            select(func.count(Person.id)).where(
                Person.enterprise_id == enterprise_id, Person.role == Role.WORKER
            )
        )
        or 0
    )
