"""People who talk to the bot: workers, enterprise contacts and staff, with their profile."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    false,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement

from models.base import Base, UTCDateTime


class Role(StrEnum):
    """What a person may do; checked on the server for every action."""

    WORKER = "worker"
    CONTACT = "contact"
    TOWN_OFFICER = "town_officer"
    STAFF = "staff"
    ADMIN = "admin"
    # A contact replaced by staff or by a newer contact: no longer acts for the enterprise,
    # may still read and erase what is stored about them.
    FORMER = "former"


def enum_column(enum: type[StrEnum], length: int = 16) -> Enum:
    """A portable string column holding the values of a StrEnum."""
    return Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
    )


# The channels a person may use; the flows never look at it, the runtimes and the sender do.
TELEGRAM = "telegram"
WEB = "web"
# In the order staff's figures list them.
CHANNELS = (TELEGRAM, WEB)


class Person(Base):
    """One person known to the bot, by a channel and their identifier on it.

    On Telegram, `telegram_user_id` and `chat_id` are the Telegram user and private chat; on
    the web channel both hold the id of the person's web chat (models/web.py). The column
    keeps its Telegram name: every Telegram person is unchanged, and a pair (channel, id)
    is unique.

    Personal fields (name, phone, origin) are nullable so that erasure can blank them while
    the row, and every count that refers to it, stays.
    """

    __tablename__ = "people"
    # Staff, administrators, labour inspection and a town's officers are found by role (and
    # town) among every enrolled worker: on each ticked need, request and escalation.
    __table_args__ = (
        Index("ix_people_role_town_id", "role", "town_id"),
        UniqueConstraint("channel", "telegram_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), default=TELEGRAM, server_default=TELEGRAM)
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    role: Mapped[Role] = mapped_column(enum_column(Role))
    language: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprises.id"), index=True)
    town_id: Mapped[int | None] = mapped_column(ForeignKey("towns.id"), index=True)
    full_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(24))
    hukou_province: Mapped[str | None] = mapped_column(String(8))
    hukou_city: Mapped[str | None] = mapped_column(String(64))
    consent_version: Mapped[int | None] = mapped_column(Integer)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A contact who stands in for the enterprise's one primary contact.
    deputy: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A staff member of the labour inspection brigade (劳动监察大队): wage matters go to them.
    labour_inspection: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# Built once: asked on every update, and a statement object memoizes its cache key.
_BY_ADDRESS = select(Person).where(
    Person.channel == bindparam("channel"), Person.telegram_user_id == bindparam("user_id")
)


async def by_address(session: AsyncSession, channel: str, user_id: int) -> Person | None:
    """The person known by this identifier on this channel, if enrolled."""
    return await session.scalar(_BY_ADDRESS, {"channel": channel, "user_id": user_id})


async def by_telegram_id(session: AsyncSession, telegram_user_id: int) -> Person | None:
    """The person behind this Telegram account, if enrolled."""
    return await by_address(session, TELEGRAM, telegram_user_id)


async def add(session: AsyncSession, person: Person) -> Person:
    """Store a new person and give it an id."""
    session.add(person)
    await session.flush()
    return person


async def set_active(
    session: AsyncSession, telegram_user_id: int, active: bool, channel: str = TELEGRAM
) -> None:
    """Mark whether the bot can still reach this account (false once the user blocked it)."""
    await session.execute(
        update(Person)
        .where(Person.channel == channel, Person.telegram_user_id == telegram_user_id)
        .values(active=active)
    )


async def make_admin(
    session: AsyncSession, telegram_user_id: int, language: str, now: datetime
) -> tuple[Person, Role | None]:
    """Give this Telegram account the admin role, adding the person if new; returns the person
    and the role it had before (None if new)."""
    person = await by_telegram_id(session, telegram_user_id)
    if person is None:
        person = Person(
            telegram_user_id=telegram_user_id,
            # A private chat's id is the user's id, so the bot can write to them at once.
            chat_id=telegram_user_id,
            role=Role.ADMIN,
            language=language,
            enrolled_at=now,
            active=True,
        )
        await add(session, person)
        return person, None
    previous = person.role
    person.role = Role.ADMIN
    # An administrator speaks for no single town or enterprise, nor for labour inspection.
    person.town_id = None
    person.enterprise_id = None
    person.labour_inspection = False
    await session.flush()
    return person, previous


async def contacts(session: AsyncSession, enterprise_id: int) -> list[Person]:
    """The enterprise's contacts, the primary one first, reachable or not."""
    query = (
        select(Person)
        .where(Person.role == Role.CONTACT, Person.enterprise_id == enterprise_id)
        .order_by(Person.deputy, Person.id)
    )
    return list(await session.scalars(query))


async def relieve_contacts(
    session: AsyncSession, enterprise_id: int, *, deputy: bool, keep: int | None = None
) -> list[Person]:
    """Take the enterprise's primary (or deputy) contact role away at once, from everyone
    but `keep`; returns those relieved."""
    relieved = [
        person
        for person in await contacts(session, enterprise_id)
        if person.deputy == deputy and person.id != keep
    ]
    for person in relieved:
        person.role = Role.FORMER
        person.deputy = False
    await session.flush()
    return relieved


async def staff_ids(session: AsyncSession, town_id: int | None = None) -> list[int]:
    """The district's staff and admins the bot can reach, and the town's officers."""
    district: ColumnElement[bool] = Person.role.in_([Role.STAFF, Role.ADMIN])
    if town_id is not None:
        district = district | ((Person.role == Role.TOWN_OFFICER) & (Person.town_id == town_id))
    query = select(Person.id).where(Person.active.is_(True), Person.chat_id.is_not(None), district)
    return list(await session.scalars(query.order_by(Person.id)))


async def labour_inspection_ids(session: AsyncSession) -> list[int]:
    """The labour inspection staff the bot can reach."""
    query = select(Person.id).where(
        Person.active.is_(True),
        Person.chat_id.is_not(None),
        Person.role == Role.STAFF,
        Person.labour_inspection.is_(True),
    )
    return list(await session.scalars(query.order_by(Person.id)))


async def staff_readers(session: AsyncSession) -> list[Person]:
    """Staff, administrators and town officers the bot can write to (the digest's readers)."""
    roles = [Role.STAFF, Role.ADMIN, Role.TOWN_OFFICER]
    query = select(Person).where(
        Person.active.is_(True), Person.chat_id.is_not(None), Person.role.in_(roles)
    )
    return list(await session.scalars(query.order_by(Person.id)))
