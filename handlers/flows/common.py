"""Commands everyone meets: /start with an invite, /help, /status, /mydata, /language, /checkin.

Also the worker's move to another employer (a second employer's invite), and what the bot
says when someone writes outside any conversation.

```mermaid
stateDiagram-v2
    [*] --> confirm_move
    confirm_move --> [*]
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers.access import EVERYONE, WORKERS, role_title
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditText,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    SendText,
    say,
)
from handlers.events import ButtonPress
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    GlobalButton,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
    global_data,
)
from handlers.geography import province_name
from handlers.labels import LANGUAGE_NAMES, PLAN_LABELS
from handlers.plans import describe
from handlers.role_invites import start_with_invite
from models import checkins, invites, organisation
from models.invites import InviteKind
from models.people import Role

INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# /start ----------------------------------------------------------------------------------


async def start(ctx: Context, arg: str) -> CommandResult:
    """Enrol through an invite code, or explain how to get one."""
    code = arg.strip()
    person = ctx.person
    if not code:
        if person is None:
            return [say("start.no_code")]
        return [say("start.welcome_back"), *(await current_plan(ctx))]
    if not INVITE_CODE.match(code):
        return [say("start.bad_code")]
    invite = await invites.get(ctx.session, code)
    if invite is None:
        return [say("start.unknown_code")]
    if invite.kind is not InviteKind.WORKER:
        return await start_with_invite(ctx, invite)
    if not invite.usable(ctx.now):
        return [say("start.expired_code")]
    enterprise = (
        await organisation.get_enterprise(ctx.session, invite.enterprise_id)
        if invite.enterprise_id is not None
        else None
    )
    if enterprise is None or not enterprise.active:
        return [say("start.invite_unusable")]
    data = {
        "invite": invite.code,
        "enterprise_id": enterprise.id,
        "enterprise_name": enterprise.name,
    }
    if person is None:
        welcome = say("start.welcome", enterprise=Raw(enterprise.name))
        return Switch("enrolment", data, say=(welcome,))
    if person.role is not Role.WORKER:
        return [say("start.already_has_role")]
    if person.enterprise_id == enterprise.id:
        return [say("start.already_enrolled", enterprise=Raw(enterprise.name))]
    return Switch("move", data)


async def ask_move(state: State, ctx: Context) -> list[Action]:
    """Confirm moving to the new employer."""
    return [
        SendText(
            Msg("move.confirm", enterprise=Raw(state.data["enterprise_name"])),
            Inline.of([[Button(Msg("ui.yes"), "yes"), Button(Msg("ui.no"), "no")]]),
        )
    ]


async def on_move(state: State, value: str, ctx: Context) -> Outcome:
    """Move the worker and ask for a fresh check-in, or leave things as they are."""
    if value == "no":
        return Finish((say("move.kept"),))
    if value != "yes":
        return Reject(Msg("error.stale_button"))
    invite = await invites.get(ctx.session, state.data["invite"])
    enterprise = await organisation.get_enterprise(ctx.session, state.data["enterprise_id"])
    person = ctx.person
    if (
        person is None
        or invite is None
        or enterprise is None
        or not enterprise.active
        or not await invites.claim(ctx.session, invite, ctx.now)
    ):
        return Finish((say("start.invite_unusable"),))
    person.enterprise_id = enterprise.id
    return Switch("checkin", say=(say("move.done", enterprise=Raw(enterprise.name)),))


MOVE = Flow(
    name="move",
    roles=WORKERS,
    switches_to=("checkin",),
    steps=(Step("confirm_move", ask_move, N_("hint.press_button"), on_button=on_move, ends=True),),
)


# Information -----------------------------------------------------------------------------


async def help_(ctx: Context, arg: str) -> CommandResult:
    """The commands this person may use, and the campaign's phone numbers."""
    role = ctx.person.role if ctx.person else None
    lines: list[Param] = [
        Msg("help.command", command=f"/{spec.name}", description=Msg(spec.description))
        for spec in ctx.commands
        if spec.in_menu and role in spec.roles
    ]
    phones = Lines(tuple(Raw(p) for p in ctx.settings.help_phones), sep=Msg("ui.list_separator"))
    return [say("help.text", commands=Lines(tuple(lines)), phones=phones)]


async def status(ctx: Context, arg: str) -> CommandResult:
    """The worker's current plan."""
    return await current_plan(ctx)


async def current_plan(ctx: Context) -> list[Action]:
    """The worker's latest check-in, described."""
    person = ctx.person
    if person is None:
        return [say("start.no_code")]
    if person.role is not Role.WORKER:
        return [say("status.not_a_worker")]
    current = await checkins.latest(ctx.session, person.id)
    if current is None:
        return [say("status.none")]
    return [say("status.current", date=current.local_date, details=describe(current))]


async def mydata(ctx: Context, arg: str) -> CommandResult:
    """Everything stored about the person."""
    person = ctx.person
    if person is None:
        return [say("mydata.nothing")]
    enterprise = (
        await organisation.get_enterprise(ctx.session, person.enterprise_id)
        if person.enterprise_id is not None
        else None
    )
    history = await checkins.history(ctx.session, person.id, limit=10)
    lines: list[Param] = [
        Msg("mydata.checkin", date=c.local_date, plan=Msg(PLAN_LABELS[c.plan])) for c in history
    ]
    not_given = Msg("common.not_given")
    return [
        say(
            "mydata.text",
            name=person.full_name or not_given,
            phone=person.phone or not_given,
            province=province_name(person.hukou_province),
            city=person.hukou_city or not_given,
            enterprise=Raw(enterprise.name) if enterprise else not_given,
            role=role_title(person.role, inspection=person.labour_inspection),
            language=Msg(LANGUAGE_NAMES.get(person.language, "language.zh_Hans")),
            consent=person.consent_at or not_given,
            checkins=Lines(tuple(lines)) if lines else Msg("mydata.no_checkins"),
        )
    ]


async def language(ctx: Context, arg: str) -> CommandResult:
    """Offer the languages."""
    buttons = [
        Button(Msg(label), global_data("lang", code))
        for code, label in LANGUAGE_NAMES.items()
        if code in ctx.settings.languages
    ]
    return [SendText(Msg("language.choose"), Inline.of([buttons]))]


async def on_language(ctx: Context, code: str) -> Sequence[Action]:
    """Switch to the chosen language and say so in it."""
    if code not in ctx.settings.languages or code not in LANGUAGE_NAMES:
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    ctx.choose_language(code)
    done = Msg("language.changed", language=Msg(LANGUAGE_NAMES[code]))
    event = ctx.event
    if isinstance(event, ButtonPress) and event.message_id is not None:
        return [AnswerButton(), EditText(event.message_id, done)]
    return [AnswerButton(), SendText(done)]


async def checkin(ctx: Context, arg: str) -> CommandResult:
    """Start a new check-in."""
    if ctx.person is None:
        return [say("start.no_code")]
    if ctx.person.role is not Role.WORKER:
        return [say("status.not_a_worker")]
    return Switch("checkin")


async def idle(ctx: Context) -> list[Action]:
    """What to do next, for someone writing outside any conversation."""
    person = ctx.person
    if person is None:
        return [say("start.no_code")]
    if person.role is Role.WORKER:
        return [say("idle.worker")]
    return [say("idle.other")]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("command.start"), start, EVERYONE, in_menu=False),
    CommandSpec("checkin", N_("command.checkin"), checkin, EVERYONE),
    CommandSpec("status", N_("command.status"), status, EVERYONE, keeps_conversation=True),
    CommandSpec("mydata", N_("command.mydata"), mydata, EVERYONE, keeps_conversation=True),
    CommandSpec("language", N_("command.language"), language, EVERYONE, keeps_conversation=True),
    CommandSpec("help", N_("command.help"), help_, EVERYONE, keeps_conversation=True),
    CommandSpec("cancel", N_("command.cancel"), None, EVERYONE),
)
BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("lang", on_language, EVERYONE),)
