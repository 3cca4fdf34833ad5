"""Role invites: what one makes of its opener, making one, and starting on one from /start.

Also relieving an enterprise's contact when someone takes their place (by invite or by
staff's hand on the enterprise card).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.access import role_title
from handlers.actions import Action, Msg, Raw, SendText, Tell, say
from handlers.flow import CommandResult, Context, Switch
from models import audit, invites, organisation, people
from models.broadcasts import Purpose
from models.invites import Invite, InviteKind
from models.people import Person, Role

log = logging.getLogger(__name__)

ROLE_OF_KIND: dict[InviteKind, Role] = {
    InviteKind.CONTACT: Role.CONTACT,
    InviteKind.DEPUTY: Role.CONTACT,
    InviteKind.STAFF: Role.STAFF,
    InviteKind.INSPECTION: Role.STAFF,
    InviteKind.TOWN_OFFICER: Role.TOWN_OFFICER,
    InviteKind.ADMIN: Role.ADMIN,
}


@dataclass(frozen=True)
class Target:
    """What an invite makes of the person who opens it."""

    role: Role
    town_id: int | None = None
    enterprise_id: int | None = None
    place: str = ""
    deputy: bool = False
    inspection: bool = False

    def to_data(self) -> dict[str, Any]:
        """The JSON form kept in the conversation."""
        return {
            "role": self.role.value,
            "town_id": self.town_id,
            "enterprise_id": self.enterprise_id,
            "place": self.place,
            "deputy": self.deputy,
            "inspection": self.inspection,
        }

    @staticmethod
    def from_data(data: dict[str, Any]) -> Target:
        """Read back what `to_data` wrote."""
        return Target(
            Role(data["role"]),
            data["town_id"],
            data["enterprise_id"],
            data["place"],
            bool(data.get("deputy", False)),
            bool(data.get("inspection", False)),
        )

    def matches(self, person: Person) -> bool:
        """Whether the person already holds exactly this role."""
        held = (person.role, person.town_id, person.enterprise_id, person.deputy)
        return (*held, person.labour_inspection) == (
            self.role,
            self.town_id,
            self.enterprise_id,
            self.deputy,
            self.inspection,
        )

    @property
    def title(self) -> Msg:
        """The role as the person reads it."""
        return role_title(self.role, self.place, deputy=self.deputy, inspection=self.inspection)


async def invite_target(session: AsyncSession, invite: Invite) -> Target | None:
    """The role the invite gives, or None when its town or enterprise is gone or inactive."""
    role = ROLE_OF_KIND.get(invite.kind)
    if role is Role.STAFF or role is Role.ADMIN:
        return Target(role, inspection=invite.kind is InviteKind.INSPECTION)
    if role is Role.TOWN_OFFICER and invite.town_id is not None:
        town = await organisation.get_town(session, invite.town_id)
        if town is not None and town.active:
            return Target(role, town_id=town.id, place=town.name)
    if role is Role.CONTACT and invite.enterprise_id is not None:
        enterprise = await organisation.get_enterprise(session, invite.enterprise_id)
        if enterprise is not None and enterprise.active:
            deputy = invite.kind is InviteKind.DEPUTY
            return Target(role, enterprise_id=enterprise.id, place=enterprise.name, deputy=deputy)
    return None


async def relieve(
    ctx: Context, enterprise_id: int, place: str, *, deputy: bool, keep: int | None = None
) -> list[Action]:
    """Take the enterprise's primary (or deputy) contact role away at once, audited; tell
    the people relieved and return those messages."""
    told: list[Action] = []
    actor = ctx.person.id if ctx.person else None
    for person in await people.relieve_contacts(
        ctx.session, enterprise_id, deputy=deputy, keep=keep
    ):
        if not deputy:
            await organisation.forget_contact_details(ctx.session, enterprise_id, person)
        log.info("contact %s of enterprise %s relieved by %s", person.id, enterprise_id, actor)
        scope = {
            "person_id": person.id,
            "from": Role.CONTACT.value,
            "to": Role.FORMER.value,
            "enterprise_id": enterprise_id,
            "deputy": deputy,
        }
        await audit.record(
            ctx.session, audit.Action.ROLE_CHANGE, ctx.now, actor_id=actor, scope=scope
        )
        title = role_title(Role.CONTACT, place, deputy=deputy)
        told.append(Tell((person.id,), Msg("role.relieved", role=title), Purpose.ROLE_CHANGE))
    return told


# Making invites (used by /invite and the enterprise card) --------------------------------


async def issue_invite(
    ctx: Context,
    kind: InviteKind,
    *,
    town_id: int | None = None,
    enterprise_id: int | None = None,
    place: str = "",
) -> SendText:
    """Create a single-use, expiring role invite and say its link."""
    expires = ctx.now + timedelta(days=ctx.settings.invite_days)
    invite = await invites.add(
        ctx.session,
        kind,
        ctx.now,
        town_id=town_id,
        enterprise_id=enterprise_id,
        max_uses=1,
        expires_at=expires,
    )
    creator = ctx.person.id if ctx.person else None
    log.info("invite %s made by person %s for %s", kind.value, creator, place or "-")
    scope = {"kind": kind.value, "town_id": town_id, "enterprise_id": enterprise_id}
    await audit.record(ctx.session, audit.Action.INVITE, ctx.now, actor_id=creator, scope=scope)
    return say(
        "invite.created",
        role=role_title(
            ROLE_OF_KIND[kind],
            place,
            deputy=kind is InviteKind.DEPUTY,
            inspection=kind is InviteKind.INSPECTION,
        ),
        link=Raw(invites.deep_link(ctx.settings.bot_username, invite.code)),
        expires=expires,
    )


# /start with a role invite ----------------------------------------------------------------


async def start_with_invite(ctx: Context, invite: Invite) -> CommandResult:
    """Begin enrolment or a change of role, or explain why the link cannot be used."""
    target = await invite_target(ctx.session, invite)
    person = ctx.person
    if person is not None and target is not None and target.matches(person):
        return [say("role.already_has", role=target.title)]
    if invite.used_up():
        return [say("role.invite_used")]
    if not invite.usable(ctx.now):
        return [say("role.invite_expired")]
    if target is None:
        return [say("role.invite_unusable")]
    data = {"invite": invite.code, **target.to_data()}
    if person is None:
        welcome = say("role.invited", role=target.title)
        return Switch("role_enrolment", data, say=(welcome,))
    if person.role is Role.ADMIN:
        return [say("role.already_admin")]
    return Switch("role_change", data)
