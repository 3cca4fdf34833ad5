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

from handlers import validation
from handlers.access import STAFF_ROLES, own_town
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    Inline,
    Lines,
    Msg,
    SendText,
    say,
)
from handlers.broadcasting import (
    AUDIENCE_STEPS,
    FURTHEST_SCHEDULE,
    audience_of,
    audience_start,
    describe_audience,
)
from handlers.channels import delivered
from handlers.content import content_action
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
    Step,
    Switch,
    global_data,
    refuse,
)
from handlers.labels import KIND_LABELS
from handlers.outbox import StaffContent, post
from models import broadcasts
from models.broadcasts import (
    BroadcastStatus,
    ContentKind,
    DeliveryStatus,
    Purpose,
)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
NOTICES_SHOWN = 10

STATUS_LABELS: dict[BroadcastStatus, str] = {
    BroadcastStatus.SCHEDULED: N_("broadcast.status.scheduled"),
    BroadcastStatus.DONE: N_("broadcast.status.done"),
    BroadcastStatus.CANCELLED: N_("broadcast.status.cancelled"),
    BroadcastStatus.MISSED: N_("broadcast.status.missed"),
}


# /broadcast ----------------------------------------------------------------------------


async def broadcast_command(ctx: Context, arg: str) -> CommandResult:
    """Start composing a broadcast."""
    data = await audience_start(ctx)
    if data is None:
        return [say("broadcast.no_town")]
    return Switch("broadcast", data)


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


def describe_schedule(send_at: datetime, daily_until: date | None, now: datetime | None) -> Msg:
    """When a broadcast goes, in words; "once confirmed" only before it is (`now` given)."""
    if daily_until is not None:
        return Msg("broadcast.schedule.daily", first=send_at, until=daily_until)
    if now is not None and send_at <= now + timedelta(seconds=5):
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
    if schedule.key == "broadcast.schedule.now":
        # Confirmed: it is going now, not "once confirmed" any more.
        return Finish((say("broadcast.confirmed_now", number=broadcast.id),))
    return Finish((say("broadcast.confirmed", number=broadcast.id, schedule=schedule),))


BROADCAST = Flow(
    name="broadcast",
    roles=STAFF_ROLES,
    steps=(
        *AUDIENCE_STEPS,
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
        schedule=describe_schedule(b.send_at, b.daily_until, None),
        sent=delivered(figures, DeliveryStatus.SENT),
        blocked=delivered(figures, DeliveryStatus.BLOCKED),
        failed=delivered(figures, DeliveryStatus.FAILED),
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
