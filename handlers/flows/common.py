"""Commands everyone meets: /start with an invite, /help, /status, /mydata, /language, /checkin.

Also the worker's move to another employer (a second employer's invite), what the bot says
when someone writes outside any conversation, and the buttons that end what workers read
(the open letter, event notices: handlers/content.py): check in, ask for help, the phones.

```mermaid
stateDiagram-v2
    [*] --> confirm_move
    confirm_move --> [*]
```
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from handlers import validation
from handlers.access import EVERYONE, WORKERS, WORKERS_AND_NEWCOMERS, role_title
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditMarkup,
    EditText,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    Reply,
    SendPhoto,
    SendText,
    SendVoice,
    say,
)
from handlers.events import ButtonPress, Media, Text
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
from handlers.helpdesk import description_of, voice_problem
from handlers.labels import CATEGORY_LABELS, LANGUAGE_NAMES, REQUEST_STATUS_LABELS
from handlers.menus import home_markup, menu_for
from handlers.plans import describe
from handlers.role_invites import start_with_invite
from models import checkins, invites, organisation
from models import requests as help_requests
from models.invites import InviteKind
from models.people import Role
from models.requests import HelpRequest, RequestMessage, Side

# Fewer characters than this typed outside a conversation ("你好", "hello") are not offered
# as a request: a problem takes a few more words.
OFFER_MIN_LENGTH = 6
INVITE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The commands a button under the letter or a notice may run, as the command would.
BUTTON_COMMANDS = frozenset({"checkin", "request"})
# /mydata as a file, when it does not fit one message.
MYDATA_FILE = "mydata.txt"
# Who wrote each message of a request's thread, as its author reads it back.
SIDE_LABELS: dict[Side, str] = {
    Side.WORKER: N_("mydata.side.worker"),
    Side.HANDLER: N_("mydata.side.handler"),
}


# /start ----------------------------------------------------------------------------------


async def start(ctx: Context, arg: str) -> CommandResult:
    """Enrol through an invite code, or explain how to get one."""
    code = arg.strip()
    person = ctx.person
    if not code:
        if person is None:
            return [say("start.no_code")]
        # The menu and keyboard of the person's role, set again: people enrolled before
        # either existed get them here.
        return [
            menu_for(ctx.commands, person.role),
            SendText(Msg("start.welcome_back"), home_markup(person.role)),
            *(await current_plan(ctx)),
        ]
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
    return [say("help.text", commands=Lines(tuple(lines)), phones=phones_line(ctx))]


def phones_line(ctx: Context) -> Msg:
    """The campaign's phone numbers, on one line."""
    return Msg("help.phones", phones=_phones(ctx))


async def on_command_button(ctx: Context, name: str) -> Sequence[Action] | Switch:
    """A button that does what its command does, for whoever may use that command."""
    spec = next((s for s in ctx.commands if s.name == name), None)
    if name not in BUTTON_COMMANDS or spec is None or spec.run is None:
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    if (ctx.person.role if ctx.person else None) not in spec.roles:
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    result = await spec.run(ctx, "")
    return result if isinstance(result, Switch) else [AnswerButton(), *result]


async def on_phones_button(ctx: Context, args: str) -> Sequence[Action]:
    """The campaign's phone numbers, as a message of their own."""
    return [AnswerButton(), phones_message(ctx)]


def _phones(ctx: Context) -> Lines:
    return Lines(tuple(Raw(p) for p in ctx.settings.help_phones), sep=Msg("ui.list_separator"))


def phones_message(ctx: Context) -> SendText:
    """The campaign's phone numbers, as a message of their own."""
    return say("phones.text", phones=_phones(ctx))


async def phones(ctx: Context, arg: str) -> CommandResult:
    """/phones and the worker's 咨询电话 key."""
    return [phones_message(ctx)]


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
    """Everything stored about the person: who they are, the consent they gave and when,
    every check-in in full, every request with its thread; as a file when it is too long
    for one message, and the requests' photos and voice messages after it."""
    person = ctx.person
    if person is None:
        return [say("mydata.nothing")]
    enterprise = (
        await organisation.get_enterprise(ctx.session, person.enterprise_id)
        if person.enterprise_id is not None
        else None
    )
    history = await checkins.history(ctx.session, person.id, limit=None)
    lines: list[Param] = [
        Msg("mydata.checkin", date=c.local_date, at=c.created_at, details=describe(c))
        for c in reversed(history)
    ]
    asked = await help_requests.of_person(ctx.session, person.id)
    not_given = Msg("common.not_given")
    consent: Param = (
        Msg("mydata.consent", version=person.consent_version, at=person.consent_at)
        if person.consent_at is not None and person.consent_version is not None
        else not_given
    )
    text = Msg(
        "mydata.text",
        name=person.full_name or not_given,
        phone=person.phone or not_given,
        province=province_name(person.hukou_province),
        city=person.hukou_city or not_given,
        enterprise=Raw(enterprise.name) if enterprise else not_given,
        role=role_title(person.role, inspection=person.labour_inspection),
        language=Msg(LANGUAGE_NAMES.get(person.language, "language.zh_Hans")),
        consent=consent,
        count=len(history),
        checkins=Lines(tuple(lines), sep="\n\n") if lines else Msg("mydata.no_checkins"),
        requests=Lines(tuple(_request(r, thread) for r, thread in asked), sep="\n\n")
        if asked
        else Msg("mydata.no_requests"),
    )
    actions: list[Action] = [SendText(text, file_name=MYDATA_FILE)]
    actions += [
        SendPhoto(r.photo_file_id, caption=Msg("mydata.photo", number=r.id))
        for r, _ in asked
        if r.photo_file_id
    ]
    actions += [
        SendVoice(r.voice_file_id, caption=Msg("mydata.voice", number=r.id))
        for r, _ in asked
        if r.voice_file_id
    ]
    return actions


def _request(request: HelpRequest, thread: Sequence[RequestMessage]) -> Msg:
    """One request as its author reads it back, with every message of its thread."""
    said = tuple(
        Msg(
            "mydata.request_message",
            at=message.created_at,
            who=Msg(SIDE_LABELS[message.side]),
            text=message.text or Msg("common.not_given"),
        )
        for message in thread
    )
    return Msg(
        "mydata.request",
        number=request.id,
        at=request.created_at,
        category=Msg(CATEGORY_LABELS[request.category]),
        status=Msg(REQUEST_STATUS_LABELS[request.status]),
        description=description_of(request) or Msg("common.not_given"),
        photo=Lines(
            tuple(
                Msg(key)
                for key, kept in (
                    (N_("mydata.request_photo"), request.photo_file_id),
                    (N_("mydata.request_voice"), request.voice_file_id),
                )
                if kept
            ),
            sep="",
        ),
        messages=Lines(said) if said else Msg("mydata.no_messages"),
    )


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
    # The menu, and a worker's own keyboard, now in the new language: a keyboard comes only
    # with a new message, so the choice's buttons are taken away and the answer is sent anew.
    role = ctx.person.role if ctx.person else None
    menu = menu_for(ctx.commands, role)
    keyboard = home_markup(role)
    event = ctx.event
    pressed = event.message_id if isinstance(event, ButtonPress) else None
    if isinstance(keyboard, Reply):
        cleared = [EditMarkup(pressed, None)] if pressed is not None else []
        return [AnswerButton(), menu, *cleared, SendText(done, keyboard)]
    if pressed is not None:
        return [AnswerButton(), menu, EditText(pressed, done)]
    return [AnswerButton(), menu, SendText(done)]


async def checkin(ctx: Context, arg: str) -> CommandResult:
    """Start a new check-in."""
    if ctx.person is None:
        return [say("start.no_code")]
    if ctx.person.role is not Role.WORKER:
        return [say("status.not_a_worker")]
    return Switch("checkin")


async def idle(ctx: Context) -> list[Action] | Switch:
    """What to do next, for someone writing outside any conversation: a worker who writes a
    few words ("宿舍暖气还是不热，怎么办"), or sends a voice message, is offered to send it
    as a request for help."""
    person = ctx.person
    if person is None:
        return [say("start.no_code")]
    if person.role is Role.WORKER:
        event = ctx.event
        if isinstance(event, Text):
            said = validation.parse_note(event.text, max_len=ctx.settings.description_max_length)
            if isinstance(said, str) and len(said) >= OFFER_MIN_LENGTH:
                offer = say("idle.offer_request", text=said)
                return Switch("request", {"description": said}, say=(offer,))
        if isinstance(event, Media) and event.kind == "voice":
            problem = voice_problem(event)
            if problem is not None:
                return [SendText(problem, home_markup(person.role))]
            offer = say("idle.offer_voice_request")
            return Switch("request", {"voice": event.file_id}, say=(offer,))
        return [SendText(Msg("idle.worker"), home_markup(person.role))]
    return [say("idle.other")]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", N_("command.start"), start, EVERYONE, in_menu=False),
    CommandSpec("checkin", N_("command.checkin"), checkin, WORKERS_AND_NEWCOMERS),
    CommandSpec(
        "status", N_("command.status"), status, WORKERS_AND_NEWCOMERS, keeps_conversation=True
    ),
    CommandSpec("mydata", N_("command.mydata"), mydata, EVERYONE, keeps_conversation=True),
    CommandSpec("language", N_("command.language"), language, EVERYONE, keeps_conversation=True),
    CommandSpec("help", N_("command.help"), help_, EVERYONE, keeps_conversation=True),
    CommandSpec("phones", N_("command.phones"), phones, EVERYONE, keeps_conversation=True),
    CommandSpec("cancel", N_("command.cancel"), None, EVERYONE),
)
BUTTONS: tuple[GlobalButton, ...] = (
    GlobalButton("lang", on_language, EVERYONE),
    GlobalButton("cmd", on_command_button, EVERYONE),
    GlobalButton("phones", on_phones_button, EVERYONE),
)
