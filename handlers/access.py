"""Who may do what: the role sets flows admit, which town a person sees, a role in words."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions import Msg, Raw
from handlers.flow import Context
from handlers.labels import ROLE_NAMES
from models import organisation
from models.people import Person, Role

# Anyone who writes, enrolled or not.
EVERYONE: frozenset[Role | None] = frozenset({None, *Role})
# Someone not enrolled yet (a role invite's newcomer).
NEWCOMERS: frozenset[Role | None] = frozenset({None})
ENROLLED: frozenset[Role | None] = frozenset(Role)
WORKERS: frozenset[Role | None] = frozenset({Role.WORKER})
CONTACTS: frozenset[Role | None] = frozenset({Role.CONTACT})
# Staff, administrators and town officers: a town officer only for their own town.
STAFF_ROLES: frozenset[Role | None] = frozenset({Role.STAFF, Role.ADMIN, Role.TOWN_OFFICER})
# District staff and administrators see every town (and manage the towns).
DISTRICT_STAFF: frozenset[Role | None] = frozenset({Role.STAFF, Role.ADMIN})
ADMINS: frozenset[Role | None] = frozenset({Role.ADMIN})
# Whoever answers workers' requests: the employer's contact and staff.
REQUEST_HANDLERS: frozenset[Role | None] = frozenset({Role.CONTACT, *STAFF_ROLES})
# Who receives event notices and may sign up.
ATTENDEES: frozenset[Role | None] = frozenset({Role.WORKER, Role.CONTACT})


def town_of(person: Person | None) -> int | None:
    """The town a town officer is bound to (None for anyone else, district staff included)."""
    if person is not None and person.role is Role.TOWN_OFFICER:
        return person.town_id
    return None


def own_town(ctx: Context) -> int | None:
    """The town a town officer is bound to (None for district staff, who see every town)."""
    return town_of(ctx.person)


def is_town_officer(ctx: Context) -> bool:
    """Whether the person is a town officer."""
    return ctx.person is not None and ctx.person.role is Role.TOWN_OFFICER


def is_staff(ctx: Context) -> bool:
    """Whether the person is staff, an administrator or a town officer."""
    return ctx.person is not None and ctx.person.role in STAFF_ROLES


def is_district_staff(ctx: Context) -> bool:
    """Whether the person is district staff or an administrator (who see every town)."""
    return ctx.person is not None and ctx.person.role in DISTRICT_STAFF


def role_title(
    role: Role, place: str = "", *, deputy: bool = False, inspection: bool = False
) -> Msg:
    """A role as a person reads it, with its town or enterprise."""
    if role is Role.STAFF and inspection:
        return Msg("role.labour_inspection")
    if role is Role.TOWN_OFFICER and place:
        return Msg("role.as_town_officer", town=Raw(place))
    if role is Role.CONTACT and place and deputy:
        return Msg("role.as_deputy", enterprise=Raw(place))
    if role is Role.CONTACT and place:
        return Msg("role.as_contact", enterprise=Raw(place))
    if role is Role.FORMER and place:
        return Msg("role.as_former", enterprise=Raw(place))
    return Msg(ROLE_NAMES[role])


async def person_title(session: AsyncSession, person: Person) -> Msg:
    """The person's current role, with its town or enterprise."""
    place = ""
    if person.role is Role.TOWN_OFFICER and person.town_id is not None:
        town = await organisation.get_town(session, person.town_id)
        place = town.name if town else ""
    elif person.enterprise_id is not None:
        enterprise = await organisation.get_enterprise(session, person.enterprise_id)
        place = enterprise.name if enterprise else ""
    if person.role is Role.WORKER:
        return Msg("role.as_worker", enterprise=Raw(place)) if place else Msg("role.worker")
    return role_title(person.role, place, deputy=person.deputy, inspection=person.labour_inspection)
