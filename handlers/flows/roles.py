"""Staff, town officers and enterprise contacts enrol through their single-use invite links.

Someone new agrees to what is kept and gives their name (a contact also their phone, for
district staff to call); someone the bot already knows
confirms the change of role. The invite is claimed only at the end, atomically, so a
single-use link enrols exactly one person; an administrator is never demoted by a link.
An enterprise has one primary contact and may have one deputy: whoever takes either place
relieves its holder at once, who is told. A labour inspection invite makes district staff
who also receive the workers' wage matters; any other role given by invite drops that mark.

```mermaid
stateDiagram-v2
    [*] --> role_consent
    role_consent --> role_name
    role_consent --> [*]
    role_name --> role_phone
    role_name --> [*]
    role_phone --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> confirm_role
    confirm_role --> [*]
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import phone, validation
from handlers.actions import N_, Action, Button, Inline, Msg, Raw, SendText, say
from handlers.consent import AGREE_OR_DECLINE
from handlers.events import ContactShared
from handlers.flow import (
    CommandResult,
    Context,
    Finish,
    Flow,
    Goto,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
    refuse,
)
from models import audit, invites, organisation, people
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
ROLE_NAMES: dict[Role, str] = {
    Role.WORKER: N_("role.worker"),
    Role.CONTACT: N_("role.contact"),
    Role.TOWN_OFFICER: N_("role.town_officer"),
    Role.STAFF: N_("role.staff"),
    Role.ADMIN: N_("role.admin"),
    Role.FORMER: N_("role.former"),
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
        if person.chat_id is not None and person.active:
            title = role_title(Role.CONTACT, place, deputy=deputy)
            told.append(
                SendText(
                    Msg("role.relieved", role=title),
                    chat_id=person.chat_id,
                    language=person.language,
                )
            )
    return told


async def _take_up(ctx: Context, person: Person, claimed: Target) -> list[Action]:
    """An enterprise has one primary contact and at most one deputy: whoever held the place
    the person now takes loses it at once."""
    if claimed.role is not Role.CONTACT or claimed.enterprise_id is None:
        return []
    told = await relieve(
        ctx, claimed.enterprise_id, claimed.place, deputy=claimed.deputy, keep=person.id
    )
    if not claimed.deputy:
        await organisation.set_contact_details(
            ctx.session, claimed.enterprise_id, person.full_name, person.phone
        )
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


async def _claim(ctx: Context, state: State) -> Target | Msg:
    """Check the invite once more and use it up; the target, or why it failed."""
    invite = await invites.get(ctx.session, state.data["invite"])
    if invite is None:
        return Msg("role.invite_unusable")
    target = await invite_target(ctx.session, invite)
    if target is None or target != Target.from_data(state.data):
        return Msg("role.invite_unusable")
    if not await invites.claim(ctx.session, invite, ctx.now):
        # Someone else may have used it meanwhile: read its row again to say which.
        await ctx.session.refresh(invite)
        return Msg("role.invite_used") if invite.used_up() else Msg("role.invite_expired")
    return target


# role_enrolment: someone new -------------------------------------------------------------


async def ask_consent(state: State, ctx: Context) -> list[Action]:
    """What is kept about a staff member or contact, and why; Agree or Decline."""
    target = Target.from_data(state.data)
    return [SendText(Msg("role.consent", role=target.title), AGREE_OR_DECLINE)]


async def on_consent(state: State, value: str, ctx: Context) -> Outcome:
    """Agree goes on to the name; Decline forgets everything."""
    if value == "yes":
        state.data["consent_at"] = ctx.now.isoformat()
        return Goto("role_name")
    if value == "no":
        return Finish((say("role.declined"),), forget=True)
    return Reject(Msg("error.stale_button"))


async def ask_name(state: State, ctx: Context) -> list[Action]:
    """The person's real name, so that others know who they deal with."""
    return [say("role.ask_name")]


async def on_name(state: State, text: str, ctx: Context) -> Outcome:
    """Keep the name; a contact goes on to their phone, anyone else is enrolled now."""
    name = validation.parse_name(text)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    state.data["name"] = name
    if Target.from_data(state.data).role is Role.CONTACT:
        return Goto("role_phone")
    return await _enrol(state, ctx, number=None)


async def on_phone_typed(state: State, text: str, ctx: Context) -> Outcome:
    """A contact's typed mobile number: enrol them."""
    number = phone.typed_phone(text)
    return number if isinstance(number, Reject) else await _enrol(state, ctx, number=number)


async def on_phone_shared(state: State, event: ContactShared, ctx: Context) -> Outcome:
    """A contact's own number shared with one tap: enrol them."""
    number = phone.shared_phone(event)
    return number if isinstance(number, Reject) else await _enrol(state, ctx, number=number)


async def _enrol(state: State, ctx: Context, *, number: str | None) -> Outcome:
    """Claim the invite and store the person with their role."""
    name: str = state.data["name"]
    claimed = await _claim(ctx, state)
    if isinstance(claimed, Msg):
        return Finish((SendText(claimed),))
    person = await people.add(
        ctx.session,
        Person(
            channel=ctx.event.channel,
            telegram_user_id=ctx.event.user_id,
            chat_id=ctx.event.chat_id,
            role=claimed.role,
            language=ctx.language,
            enterprise_id=claimed.enterprise_id,
            town_id=claimed.town_id,
            full_name=name,
            phone=number,
            deputy=claimed.deputy,
            labour_inspection=claimed.inspection,
            consent_version=ctx.settings.consent_version,
            consent_at=datetime.fromisoformat(state.data["consent_at"]),
            enrolled_at=ctx.now,
            active=True,
        ),
    )
    ctx.person = person
    log.info("role %s given to new person %s by invite", claimed.role.value, person.id)
    await _audit_role(ctx, person, None, claimed)
    relieved = await _take_up(ctx, person, claimed)
    return Finish((say("role.done", name=name, role=claimed.title), *relieved))


async def _audit_role(ctx: Context, person: Person, previous: Role | None, claimed: Target) -> None:
    scope = {
        "person_id": person.id,
        "from": previous.value if previous else None,
        "to": claimed.role.value,
        "town_id": claimed.town_id,
        "enterprise_id": claimed.enterprise_id,
        "deputy": claimed.deputy,
        "labour_inspection": claimed.inspection,
        "invite": "by invite",
    }
    await audit.record(
        ctx.session, audit.Action.ROLE_CHANGE, ctx.now, actor_id=person.id, scope=scope
    )


ROLE_ENROLMENT = Flow(
    name="role_enrolment",
    roles=frozenset({None}),
    steps=(
        Step("role_consent", ask_consent, N_("hint.press_button"), on_button=on_consent,
             goes_to=("role_name",), ends=True),
        Step("role_name", ask_name, N_("enrol.hint_name"), on_text=on_name,
             goes_to=("role_phone",), ends=True),
        Step("role_phone", phone.ask_phone, N_("enrol.hint_phone"), on_text=on_phone_typed,
             on_contact=on_phone_shared, ends=True),
    ),
)  # fmt: skip


# role_change: someone the bot knows -------------------------------------------------------


async def ask_change(state: State, ctx: Context) -> list[Action]:
    """Confirm giving up the current role for the invited one."""
    target = Target.from_data(state.data)
    current = await person_title(ctx.session, ctx.person) if ctx.person else Msg("role.worker")
    return [
        SendText(
            Msg("role.confirm_change", current=current, role=target.title),
            Inline.of([[Button(Msg("ui.yes"), "yes"), Button(Msg("ui.no"), "no")]]),
        )
    ]


async def on_change(state: State, value: str, ctx: Context) -> Outcome:
    """Change the role (never an administrator's), or leave it as it was."""
    if value == "no":
        return Finish((say("role.kept"),))
    if value != "yes":
        return Reject(Msg("error.stale_button"))
    person = ctx.person
    if person is None or person.role is Role.ADMIN:
        return Finish((say("role.already_admin"),))
    claimed = await _claim(ctx, state)
    if isinstance(claimed, Msg):
        return Finish((SendText(claimed),))
    previous = person.role
    person.role = claimed.role
    person.town_id = claimed.town_id
    person.enterprise_id = claimed.enterprise_id
    person.deputy = claimed.deputy
    # The mark goes with the invite: staff who take up any other role leave labour inspection.
    person.labour_inspection = claimed.inspection
    log.info("role of person %s changed %s -> %s by invite", person.id, previous, claimed.role)
    await _audit_role(ctx, person, previous, claimed)
    relieved = await _take_up(ctx, person, claimed)
    return Finish((say("role.changed", role=claimed.title), *relieved))


ROLE_CHANGE = Flow(
    name="role_change",
    roles=frozenset(Role),
    steps=(
        Step("confirm_role", ask_change, N_("hint.press_button"), on_button=on_change, ends=True),
    ),
)
