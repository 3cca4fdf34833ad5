"""Staff's /broadcast: the audience, the content, a preview as recipients see it, and when.

Confirm writes one broadcast row; the scheduler enqueues its deliveries when it is due and
the sender sends them. A town officer reaches only their own town. `/notices` lists the
latest broadcasts with their delivery figures and cancels a scheduled one.

```mermaid
stateDiagram-v2
    [*] --> audience
    audience --> town
    audience --> enterprise
    audience --> plan
    audience --> language
    audience --> content
    town --> content
    enterprise --> content
    plan --> content
    language --> content
    content --> preview
    preview --> when_once
    preview --> daily_time
    preview --> confirm
    preview --> content
    when_once --> confirm
    daily_time --> daily_until
    daily_until --> confirm
    confirm --> [*]
```
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from handlers import validation
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    SendDocument,
    SendPhoto,
    SendText,
    say,
)
from handlers.events import Media
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    GlobalButton,
    Goto,
    Outcome,
    Reject,
    State,
    Stay,
    Step,
    Switch,
    global_data,
    refuse,
)
from handlers.flows.checkin import PLAN_LABELS
from handlers.flows.common import LANGUAGE_NAMES
from handlers.outbox import StaffContent, post
from models import audit, broadcasts, organisation
from models.broadcasts import (
    NO_CHECKIN,
    Audience,
    Broadcast,
    BroadcastStatus,
    ContentKind,
    DeliveryStatus,
    Purpose,
)
from models.checkins import Plan
from models.people import Role

STAFF_ROLES: frozenset[Role | None] = frozenset({Role.STAFF, Role.ADMIN, Role.TOWN_OFFICER})
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# A broadcast set further ahead than this is a typing mistake.
FURTHEST_SCHEDULE = timedelta(days=180)
MATCHES_SHOWN = 20
NOTICES_SHOWN = 10

AUDIENCES: dict[str, str] = {
    "workers": N_("broadcast.audience.workers"),
    "contacts": N_("broadcast.audience.contacts"),
    "town": N_("broadcast.audience.by_town"),
    "enterprise": N_("broadcast.audience.by_enterprise"),
    "plan": N_("broadcast.audience.by_plan"),
    "language": N_("broadcast.audience.by_language"),
}
NO_CHECKIN_LABEL = N_("broadcast.plan.none")
KIND_LABELS: dict[ContentKind, str] = {
    ContentKind.TEXT: N_("broadcast.kind.text"),
    ContentKind.PHOTO: N_("broadcast.kind.photo"),
    ContentKind.DOCUMENT: N_("broadcast.kind.document"),
    ContentKind.LETTER: N_("broadcast.kind.letter"),
    ContentKind.EVENT: N_("broadcast.kind.event"),
    ContentKind.EVENT_REMINDER: N_("broadcast.kind.event_reminder"),
}
STATUS_LABELS: dict[BroadcastStatus, str] = {
    BroadcastStatus.SCHEDULED: N_("broadcast.status.scheduled"),
    BroadcastStatus.DONE: N_("broadcast.status.done"),
    BroadcastStatus.CANCELLED: N_("broadcast.status.cancelled"),
    BroadcastStatus.MISSED: N_("broadcast.status.missed"),
}


# What recipients get: one rule, for the preview here and for the sender ---------------------


def content_text(text: str | None) -> Raw:
    """The message (or caption) of a broadcast, as every recipient gets it: the text as typed."""
    return Raw(text or "")


def content_action(kind: ContentKind, text: str | None, file_id: str | None) -> Action:
    """The broadcast as an action to the current chat (the preview)."""
    body = content_text(text)
    if kind is ContentKind.PHOTO and file_id:
        return SendPhoto(file_id, body if text else None)
    if kind is ContentKind.DOCUMENT and file_id:
        return SendDocument("", file_id, body if text else None)
    return SendText(body)


# Who is asking, and what they may reach ---------------------------------------------------


def own_town(ctx: Context) -> int | None:
    """The town a town officer is bound to (None for district staff)."""
    person = ctx.person
    if person is not None and person.role is Role.TOWN_OFFICER:
        return person.town_id
    return None


def _is_town_officer(ctx: Context) -> bool:
    return ctx.person is not None and ctx.person.role is Role.TOWN_OFFICER


def audience_of(data: dict[str, Any]) -> Audience:
    """The audience the answers so far describe."""
    role = Role.CONTACT if data.get("role") == Role.CONTACT.value else Role.WORKER
    return Audience(
        role=role,
        town_id=data.get("town_id"),
        enterprise_id=data.get("enterprise_id"),
        plan=data.get("plan"),
        language=data.get("language"),
    )


def describe_audience(data: dict[str, Any]) -> Msg:
    """The audience in words, for the summary and /notices."""
    contacts = data.get("role") == Role.CONTACT.value
    role = Msg("broadcast.audience.contacts") if contacts else Msg("broadcast.audience.workers")
    parts: list[Param] = [role]
    if data.get("town_name"):
        parts.append(Msg("broadcast.filter.town", town=data["town_name"]))
    if data.get("enterprise_name"):
        parts.append(Msg("broadcast.filter.enterprise", enterprise=data["enterprise_name"]))
    plan = data.get("plan")
    if plan == NO_CHECKIN:
        parts.append(Msg(NO_CHECKIN_LABEL))
    elif plan:
        parts.append(Msg(PLAN_LABELS[Plan(plan)]))
    if data.get("language") in LANGUAGE_NAMES:
        parts.append(Msg(LANGUAGE_NAMES[data["language"]]))
    return Msg("broadcast.audience_line", parts=Lines(tuple(parts), sep=" · "))


# /broadcast ----------------------------------------------------------------------------


async def broadcast_command(ctx: Context, arg: str) -> CommandResult:
    """Start composing a broadcast."""
    if _is_town_officer(ctx) and own_town(ctx) is None:
        return [say("broadcast.no_town")]
    data: dict[str, Any] = {}
    town_id = own_town(ctx)
    if town_id is not None:
        town = await organisation.get_town(ctx.session, town_id)
        data.update(town_id=town_id, town_name=town.name if town else "")
    return Switch("broadcast", data)


async def ask_audience(state: State, ctx: Context) -> list[Action]:
    """All workers, all contacts, or workers narrowed down."""
    choices = [key for key in AUDIENCES if not (key == "town" and _is_town_officer(ctx))]
    rows = [
        [Button(Msg(AUDIENCES[a]), a) for a in choices[i : i + 2]]
        for i in range(0, len(choices), 2)
    ]
    town = state.data.get("town_name")
    intro = (
        Msg("broadcast.ask_audience_in_town", town=town) if town else Msg("broadcast.ask_audience")
    )
    return [SendText(intro, Inline.of(rows))]


async def on_audience(state: State, value: str, ctx: Context) -> Outcome:
    """Narrow down, or go straight to the content."""
    if value not in AUDIENCES or (value == "town" and _is_town_officer(ctx)):
        return Reject(Msg("error.stale_button"))
    for key in ("enterprise_id", "enterprise_name", "plan", "language"):
        state.data.pop(key, None)
    if not _is_town_officer(ctx):
        state.data.pop("town_id", None)
        state.data.pop("town_name", None)
    state.data["role"] = Role.CONTACT.value if value == "contacts" else Role.WORKER.value
    if value in ("workers", "contacts"):
        return Goto("content")
    return Goto(value)


async def ask_town(state: State, ctx: Context) -> list[Action]:
    """Which town."""
    towns = await organisation.list_towns(ctx.session, active_only=True)
    if not towns:
        return [say("broadcast.no_towns")]
    rows = [
        [Button(Raw(t.name), str(t.id)) for t in towns[i : i + 3]] for i in range(0, len(towns), 3)
    ]
    return [SendText(Msg("broadcast.ask_town"), Inline.of(rows))]


async def on_town(state: State, value: str, ctx: Context) -> Outcome:
    """Keep an active town."""
    town = await organisation.get_town(ctx.session, int(value)) if value.isdigit() else None
    if town is None or not town.active:
        return Reject(Msg("error.stale_button"))
    state.data.update(town_id=town.id, town_name=town.name)
    return Goto("content")


async def ask_enterprise(state: State, ctx: Context) -> list[Action]:
    """Which enterprise: typed, as there may be hundreds."""
    return [say("broadcast.ask_enterprise")]


async def on_enterprise_search(state: State, text: str, ctx: Context) -> Outcome:
    """Find enterprises by part of the name; one match is taken, several are offered."""
    query = validation.parse_org_search(text, max_len=64)
    if isinstance(query, validation.Invalid):
        return refuse(query)
    matches, total = await organisation.search_enterprises(
        ctx.session, town_id=own_town(ctx), query=query, limit=MATCHES_SHOWN
    )
    found = [enterprise for enterprise, _town in matches if enterprise.active]
    if not found:
        return Reject(Msg("broadcast.no_enterprise_matches", text=query))
    if len(found) == 1:
        state.data.update(enterprise_id=found[0].id, enterprise_name=found[0].name)
        return Goto("content")
    if total > MATCHES_SHOWN:
        return Reject(Msg("broadcast.too_many_matches", count=total))
    rows = [[Button(Raw(e.name), f"e:{e.id}")] for e in found]
    return Stay((SendText(Msg("broadcast.pick_enterprise"), Inline.of(rows)),))


async def on_enterprise_pick(state: State, value: str, ctx: Context) -> Outcome:
    """Keep an offered enterprise (in the officer's town)."""
    number = value.removeprefix("e:")
    enterprise = (
        await organisation.get_enterprise(ctx.session, int(number)) if number.isdigit() else None
    )
    town = own_town(ctx)
    if (
        enterprise is None
        or not enterprise.active
        or (town is not None and enterprise.town_id != town)
    ):
        return Reject(Msg("error.stale_button"))
    state.data.update(enterprise_id=enterprise.id, enterprise_name=enterprise.name)
    return Goto("content")


async def ask_plan(state: State, ctx: Context) -> list[Action]:
    """Which current plan."""
    rows = [[Button(Msg(label), plan.value)] for plan, label in PLAN_LABELS.items()]
    rows.append([Button(Msg(NO_CHECKIN_LABEL), NO_CHECKIN)])
    return [SendText(Msg("broadcast.ask_plan"), Inline.of(rows))]


async def on_plan(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a plan, or "no check-in yet"."""
    if value != NO_CHECKIN and value not in {p.value for p in PLAN_LABELS}:
        return Reject(Msg("error.stale_button"))
    state.data["plan"] = value
    return Goto("content")


async def ask_language(state: State, ctx: Context) -> list[Action]:
    """Which language the recipients read."""
    rows = [[Button(Msg(label), code)] for code, label in LANGUAGE_NAMES.items()]
    return [SendText(Msg("broadcast.ask_language"), Inline.of(rows))]


async def on_language(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a language."""
    if value not in LANGUAGE_NAMES:
        return Reject(Msg("error.stale_button"))
    state.data["language"] = value
    return Goto("content")


# content -----------------------------------------------------------------------------------


async def ask_content(state: State, ctx: Context) -> list[Action]:
    """How many people that is, and what to send them."""
    count = await broadcasts.count_audience(ctx.session, audience_of(state.data))
    return [
        say(
            "broadcast.ask_content",
            audience=describe_audience(state.data),
            count=count,
            max=TEXT_LIMIT,
            caption_max=CAPTION_LIMIT,
        )
    ]


async def on_content_text(state: State, text: str, ctx: Context) -> Outcome:
    """A text message."""
    body = validation.parse_message_text(text, max_len=TEXT_LIMIT)
    if isinstance(body, validation.Invalid):
        return refuse(body)
    state.data.update(kind=ContentKind.TEXT.value, text=body, file_id=None)
    return Goto("preview")


async def on_content_media(state: State, event: Media, ctx: Context) -> Outcome:
    """A photo or a document, with an optional caption."""
    kinds = {"photo": ContentKind.PHOTO, "document": ContentKind.DOCUMENT}
    kind = kinds.get(event.kind)
    if kind is None or not event.file_id:
        return Reject(Msg("broadcast.content_kind"))
    caption = None
    if event.caption:
        checked = validation.parse_message_text(event.caption, max_len=CAPTION_LIMIT)
        if isinstance(checked, validation.Invalid):
            return refuse(checked)
        caption = checked
    state.data.update(kind=kind.value, text=caption, file_id=event.file_id)
    return Goto("preview")


def _content(state: State) -> tuple[ContentKind, str | None, str | None]:
    return ContentKind(state.data["kind"]), state.data.get("text"), state.data.get("file_id")


async def ask_preview(state: State, ctx: Context) -> list[Action]:
    """The message exactly as recipients will get it, then when to send it."""
    rows = [
        [Button(Msg("broadcast.send_now"), "now"), Button(Msg("broadcast.send_once"), "once")],
        [
            Button(Msg("broadcast.send_daily"), "daily"),
            Button(Msg("broadcast.change_content"), "edit"),
        ],
    ]
    return [
        say("broadcast.preview_intro"),
        content_action(*_content(state)),
        SendText(Msg("broadcast.ask_when"), Inline.of(rows)),
    ]


async def on_preview(state: State, value: str, ctx: Context) -> Outcome:
    """Now, once at a time, daily, or change the content."""
    if value == "now":
        state.data.update(send_at=ctx.now.isoformat(), daily_until=None)
        return Goto("confirm")
    if value == "once":
        return Goto("when_once")
    if value == "daily":
        return Goto("daily_time")
    if value == "edit":
        return Goto("content")
    return Reject(Msg("error.stale_button"))


# when --------------------------------------------------------------------------------------


def _local(day: date, at: time, ctx: Context) -> datetime:
    return datetime.combine(day, at, ctx.settings.timezone)


async def ask_when_once(state: State, ctx: Context) -> list[Action]:
    """The date and time to send it."""
    example = ctx.today + timedelta(days=1)
    return [say("broadcast.ask_moment", example=example)]


async def on_when_once(state: State, text: str, ctx: Context) -> Outcome:
    """A moment in the future, not too far ahead."""
    moment = validation.parse_moment(text, ctx.today)
    if isinstance(moment, validation.Invalid):
        return refuse(moment)
    at = _local(*moment, ctx)
    if at <= ctx.now:
        return Reject(Msg("broadcast.moment_past", moment=at))
    if at - ctx.now > FURTHEST_SCHEDULE:
        return Reject(Msg("error.date.too_far", date=at.date()))
    state.data.update(send_at=at.isoformat(), daily_until=None)
    return Goto("confirm")


async def ask_daily_time(state: State, ctx: Context) -> list[Action]:
    """The time of day to send it."""
    return [say("broadcast.ask_daily_time")]


async def on_daily_time(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a time of day; the first copy goes at the next such time."""
    at = validation.parse_time(text)
    if isinstance(at, validation.Invalid):
        return refuse(at)
    first = _local(ctx.today, at, ctx)
    if first <= ctx.now:
        first = _local(ctx.today + timedelta(days=1), at, ctx)
    state.data["send_at"] = first.isoformat()
    return Goto("daily_until")


async def ask_daily_until(state: State, ctx: Context) -> list[Action]:
    """The last day to send it."""
    return [say("broadcast.ask_daily_until", example=ctx.today + timedelta(days=7))]


async def on_daily_until(state: State, text: str, ctx: Context) -> Outcome:
    """A last day on or after the first copy's day."""
    day = validation.parse_date(text, ctx.today)
    if isinstance(day, validation.Invalid):
        return refuse(day)
    first = datetime.fromisoformat(state.data["send_at"]).astimezone(ctx.settings.timezone)
    if day < first.date():
        return Reject(Msg("broadcast.until_before_first", date=day, first=first.date()))
    if day - ctx.today > FURTHEST_SCHEDULE:
        return Reject(Msg("error.date.too_far", date=day))
    state.data["daily_until"] = day.isoformat()
    return Goto("confirm")


def describe_schedule(send_at: datetime, daily_until: date | None, now: datetime) -> Msg:
    """When a broadcast goes, in words."""
    if daily_until is not None:
        return Msg("broadcast.schedule.daily", first=send_at, until=daily_until)
    if send_at <= now + timedelta(seconds=5):
        return Msg("broadcast.schedule.now")
    return Msg("broadcast.schedule.once", moment=send_at)


# confirm -----------------------------------------------------------------------------------


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """Everything in one message; only Confirm stores it."""
    data = state.data
    count = await broadcasts.count_audience(ctx.session, audience_of(data))
    until = date.fromisoformat(data["daily_until"]) if data.get("daily_until") else None
    schedule = describe_schedule(datetime.fromisoformat(data["send_at"]), until, ctx.now)
    return [
        SendText(
            Msg(
                "broadcast.summary",
                audience=describe_audience(data),
                count=count,
                kind=Msg(KIND_LABELS[ContentKind(data["kind"])]),
                schedule=schedule,
            ),
            Inline.of([[Button(Msg("ui.confirm"), "ok")]]),
        )
    ]


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Store the broadcast; the scheduler takes it from here."""
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    data = state.data
    person = ctx.person
    audience = audience_of(data)
    town = own_town(ctx)
    if town is not None and audience.town_id != town:
        return Finish((say("error.not_allowed"),))
    send_at = datetime.fromisoformat(data["send_at"])
    until = date.fromisoformat(data["daily_until"]) if data.get("daily_until") else None
    # "Now" means when it is confirmed, not when the preview was shown.
    if until is None and send_at < ctx.now:
        send_at = ctx.now
    broadcast = await post(
        ctx.session,
        StaffContent(ContentKind(data["kind"]), data.get("text"), data.get("file_id")),
        audience,
        Purpose.BROADCAST,
        ctx.now,
        send_at=send_at,
        daily_until=until,
        created_by=person.id if person else None,
        report_progress=True,
        names={"town_name": data.get("town_name"), "enterprise_name": data.get("enterprise_name")},
    )
    schedule = describe_schedule(send_at, until, ctx.now)
    return Finish((say("broadcast.confirmed", number=broadcast.id, schedule=schedule),))


BROADCAST = Flow(
    name="broadcast",
    roles=STAFF_ROLES,
    steps=(
        Step("audience", ask_audience, N_("hint.press_button"), on_button=on_audience,
             goes_to=("town", "enterprise", "plan", "language", "content")),
        Step("town", ask_town, N_("hint.press_button"), on_button=on_town, goes_to=("content",)),
        Step("enterprise", ask_enterprise, N_("broadcast.hint_enterprise"),
             on_text=on_enterprise_search, on_button=on_enterprise_pick, goes_to=("content",)),
        Step("plan", ask_plan, N_("hint.press_button"), on_button=on_plan, goes_to=("content",)),
        Step("language", ask_language, N_("hint.press_button"), on_button=on_language,
             goes_to=("content",)),
        Step("content", ask_content, N_("broadcast.hint_content"), on_text=on_content_text,
             on_media=on_content_media, goes_to=("preview",)),
        Step("preview", ask_preview, N_("hint.press_button"), on_button=on_preview,
             goes_to=("when_once", "daily_time", "confirm", "content")),
        Step("when_once", ask_when_once, N_("broadcast.hint_moment"), on_text=on_when_once,
             goes_to=("confirm",)),
        Step("daily_time", ask_daily_time, N_("broadcast.hint_time"), on_text=on_daily_time,
             goes_to=("daily_until",)),
        Step("daily_until", ask_daily_until, N_("checkin.hint_date"), on_text=on_daily_until,
             goes_to=("confirm",)),
        Step("confirm", ask_confirm, N_("hint.press_button"), on_button=on_confirm, ends=True),
    ),
)  # fmt: skip


async def audit_broadcast(ctx: Context, broadcast: Broadcast) -> None:
    """Every broadcast staff start goes into the audit log, with its audience and size."""
    audience = Audience.from_json(broadcast.audience)
    count = await broadcasts.count_audience(ctx.session, audience)
    scope = {
        "broadcast": broadcast.id,
        "kind": broadcast.content_kind.value,
        "audience": audience.to_json(),
        "send_at": broadcast.send_at.isoformat(),
        "daily_until": broadcast.daily_until.isoformat() if broadcast.daily_until else None,
    }
    actor = ctx.person.id if ctx.person else None
    await audit.record(
        ctx.session, audit.Action.BROADCAST, ctx.now, actor_id=actor, scope=scope, rows=count
    )


# /notices ------------------------------------------------------------------------------------


def _notice_line(listed: broadcasts.Listed, now: datetime) -> Msg:
    b = listed.broadcast
    figures = listed.figures
    return Msg(
        "notices.line",
        number=b.id,
        status=Msg(STATUS_LABELS[b.status]),
        kind=Msg(KIND_LABELS[b.content_kind]),
        audience=describe_audience(b.audience),
        schedule=describe_schedule(b.send_at, b.daily_until, b.created_at),
        sent=figures[DeliveryStatus.SENT],
        blocked=figures[DeliveryStatus.BLOCKED],
        failed=figures[DeliveryStatus.FAILED],
        pending=figures[DeliveryStatus.PENDING],
    )


async def notices_command(ctx: Context, arg: str) -> CommandResult:
    """The latest broadcasts with their figures; scheduled ones can be cancelled."""
    listed = await broadcasts.recent(ctx.session, NOTICES_SHOWN, own_town(ctx))
    if not listed:
        return [say("notices.none")]
    cancellable = [
        [
            Button(
                Msg("notices.cancel", number=item.broadcast.id),
                global_data("bcancel", item.broadcast.id),
            )
        ]
        for item in listed
        if item.broadcast.status is BroadcastStatus.SCHEDULED
    ]
    lines = Lines(tuple(_notice_line(item, ctx.now) for item in listed), sep="\n\n")
    return [
        SendText(Msg("notices.list", lines=lines), Inline.of(cancellable) if cancellable else None)
    ]


async def on_cancel_button(ctx: Context, args: str) -> list[Action]:
    """Cancel a scheduled broadcast (a town officer only their town's)."""
    broadcast = await broadcasts.get(ctx.session, int(args)) if args.isdigit() else None
    town = own_town(ctx)
    if broadcast is None or (town is not None and broadcast.audience.get("town_id") != town):
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    if not await broadcasts.cancel(ctx.session, broadcast.id, ctx.now):
        return [AnswerButton(Msg("notices.not_cancellable", number=broadcast.id), alert=True)]
    return [AnswerButton(), say("notices.cancelled", number=broadcast.id)]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("broadcast", N_("command.broadcast"), broadcast_command, STAFF_ROLES),
    CommandSpec(
        "notices", N_("command.notices"), notices_command, STAFF_ROLES, keeps_conversation=True
    ),
)
BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("bcancel", on_cancel_button, STAFF_ROLES),)
