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
from datetime import datetime

from handlers import phone, validation
from handlers.access import ENROLLED, NEWCOMERS, person_title
from handlers.actions import N_, Action, Button, Inline, Msg, SendText, say
from handlers.consent import AGREE_OR_DECLINE
from handlers.events import ContactShared
from handlers.flow import (
    Context,
    Finish,
    Flow,
    Goto,
    Outcome,
    Reject,
    State,
    Step,
    refuse,
)
from handlers.menus import home_markup, menu_for
from handlers.role_invites import Target, invite_target, relieve
from models import audit, invites, organisation, people
from models.people import Person, Role

log = logging.getLogger(__name__)


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
    # Only a contact is asked for a phone number (see on_name): only a contact is told so.
    kept = Msg("role.kept_name_phone") if target.role is Role.CONTACT else Msg("role.kept_name")
    return [SendText(Msg("role.consent", role=target.title, kept=kept), AGREE_OR_DECLINE)]


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
    menu = menu_for(ctx.commands, claimed.role)
    return Finish((menu, say("role.done", name=name, role=claimed.title), *relieved))


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
    roles=NEWCOMERS,
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
    # A primary contact's name and phone leave their enterprise with them.
    await organisation.leave_contact_role(ctx.session, person)
    person.role = claimed.role
    person.town_id = claimed.town_id
    person.enterprise_id = claimed.enterprise_id
    person.deputy = claimed.deputy
    # The mark goes with the invite: staff who take up any other role leave labour inspection.
    person.labour_inspection = claimed.inspection
    log.info("role of person %s changed %s -> %s by invite", person.id, previous, claimed.role)
    await _audit_role(ctx, person, previous, claimed)
    relieved = await _take_up(ctx, person, claimed)
    changed = Msg("role.changed", role=claimed.title)
    # A former worker's own keyboard goes with the role; the menu becomes the new role's.
    markup = home_markup(claimed.role) if previous is Role.WORKER else None
    menu = menu_for(ctx.commands, claimed.role)
    return Finish((menu, SendText(changed, markup), *relieved))


ROLE_CHANGE = Flow(
    name="role_change",
    roles=ENROLLED,
    steps=(
        Step("confirm_role", ask_change, N_("hint.press_button"), on_button=on_change, ends=True),
    ),
)
