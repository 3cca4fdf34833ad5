"""Event notices: staff's /event, the sign-up button, and the reminder to those signed up.

The audience steps are the broadcast's own (the same table rows, `AUDIENCE_STEPS` in
handlers/broadcasting.py, so one rule chooses an audience); they lead to `content`, which
here is the notice's preview and confirmation.
Confirm stores the event, a broadcast of its notice now, and a reminder broadcast to those
signed up, REMINDER_BEFORE the start.

```mermaid
stateDiagram-v2
    [*] --> title
    title --> starts
    starts --> place
    place --> capacity
    capacity --> audience
    audience --> town
    audience --> enterprise
    audience --> plan
    audience --> language
    audience --> content
    town --> content
    enterprise --> content
    plan --> content
    language --> content
    content --> [*]
```
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handlers import validation
from handlers.access import ATTENDEES, STAFF_ROLES, own_town
from handlers.actions import N_, Action, AnswerButton, Button, Inline, Msg, SendText, say
from handlers.broadcasting import (
    AUDIENCE_STEPS,
    FURTHEST_SCHEDULE,
    audience_of,
    audience_start,
    audit_broadcast,
    describe_audience,
)
from handlers.content import notice, signup_markup
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
    refuse,
)
from models import broadcasts, events
from models.broadcasts import Audience, Broadcast, BroadcastStatus, ContentKind
from models.events import Event, SignUp

# Long enough to come back from work, short enough to be remembered.
REMINDER_BEFORE = timedelta(hours=2)
TITLE_LIMIT = 100
PLACE_LIMIT = 300
LARGEST_CAPACITY = 100_000
SIGNUP_ANSWERS: dict[SignUp, str] = {
    SignUp.DONE: N_("event.signed_up"),
    SignUp.ALREADY: N_("event.already_signed_up"),
    SignUp.FULL: N_("event.full"),
    SignUp.PAST: N_("event.past"),
    SignUp.GONE: N_("error.stale_button"),
}


async def event_command(ctx: Context, arg: str) -> CommandResult:
    """Start announcing an event (a town officer, to their own town)."""
    data = await audience_start(ctx)
    if data is None:
        return [say("broadcast.no_town")]
    return Switch("event", data)


async def ask_title(state: State, ctx: Context) -> list[Action]:
    """What the event is called."""
    return [say("event.ask_title", max=TITLE_LIMIT)]


async def on_title(state: State, text: str, ctx: Context) -> Outcome:
    """A short title on one line."""
    title = validation.parse_note(text, max_len=TITLE_LIMIT)
    if isinstance(title, validation.Invalid):
        return refuse(title)
    if "\n" in title:
        return Reject(Msg("event.title_one_line"))
    state.data["title"] = title
    return Goto("starts")


async def ask_starts(state: State, ctx: Context) -> list[Action]:
    """When it starts."""
    return [say("event.ask_starts", example=ctx.today + timedelta(days=2))]


async def on_starts(state: State, text: str, ctx: Context) -> Outcome:
    """A moment in the future, not too far ahead."""
    moment = validation.parse_moment(text, ctx.today)
    if isinstance(moment, validation.Invalid):
        return refuse(moment)
    starts = datetime.combine(*moment, ctx.settings.timezone)
    if starts <= ctx.now:
        return Reject(Msg("broadcast.moment_past", moment=starts))
    if starts - ctx.now > FURTHEST_SCHEDULE:
        return Reject(Msg("error.date.too_far", date=starts.date()))
    state.data["starts_at"] = starts.isoformat()
    return Goto("place")


async def ask_place(state: State, ctx: Context) -> list[Action]:
    """Where, or the link to join online."""
    return [say("event.ask_place", max=PLACE_LIMIT)]


async def on_place(state: State, text: str, ctx: Context) -> Outcome:
    """A place or an online link."""
    place = validation.parse_note(text, max_len=PLACE_LIMIT)
    if isinstance(place, validation.Invalid):
        return refuse(place)
    state.data["place"] = place
    return Goto("capacity")


async def ask_capacity(state: State, ctx: Context) -> list[Action]:
    """How many may come."""
    return [
        SendText(
            Msg("event.ask_capacity"),
            Inline.of([[Button(Msg("event.no_limit"), "none")]]),
        )
    ]


async def on_capacity(state: State, text: str, ctx: Context) -> Outcome:
    """A whole number of places, at least one."""
    capacity = validation.parse_count(text, maximum=LARGEST_CAPACITY)
    if isinstance(capacity, validation.Invalid):
        return refuse(capacity)
    if capacity < 1:
        return Reject(Msg("event.capacity_zero"))
    state.data["capacity"] = capacity
    return Goto("audience")


async def on_no_limit(state: State, value: str, ctx: Context) -> Outcome:
    """No limit on places."""
    if value != "none":
        return Reject(Msg("error.stale_button"))
    state.data["capacity"] = None
    return Goto("audience")


def _notice_of(data: dict[str, Any]) -> Msg:
    starts = datetime.fromisoformat(data["starts_at"])
    return notice(data["title"], starts, data["place"], data.get("capacity"), 0)


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """The notice as recipients will see it, then who gets it; only Confirm stores it."""
    count = await broadcasts.count_audience(ctx.session, audience_of(state.data))
    return [
        say("broadcast.preview_intro"),
        SendText(_notice_of(state.data), signup_markup(0)),
        SendText(
            Msg(
                "event.summary",
                audience=describe_audience(state.data),
                count=count,
            ),
            Inline.of([[Button(Msg("ui.confirm"), "ok")]]),
        ),
    ]


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Store the event, its notice now and the reminder before it starts."""
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    data = state.data
    audience = audience_of(data)
    town = own_town(ctx)
    if town is not None and audience.town_id != town:
        return Finish((say("error.not_allowed"),))
    person = ctx.person
    starts = datetime.fromisoformat(data["starts_at"])
    event = await events.add(
        ctx.session,
        Event(
            title=data["title"],
            starts_at=starts,
            place=data["place"],
            capacity=data.get("capacity"),
            created_by=person.id if person else None,
            created_at=ctx.now,
        ),
    )
    names = {"town_name": data.get("town_name"), "enterprise_name": data.get("enterprise_name")}
    common: dict[str, Any] = {
        "text": None,
        "file_id": None,
        "event_id": event.id,
        "daily_until": None,
        "status": BroadcastStatus.SCHEDULED,
        "created_by": person.id if person else None,
        "created_at": ctx.now,
    }
    announcement = await broadcasts.add(
        ctx.session,
        Broadcast(
            content_kind=ContentKind.EVENT,
            audience={**audience.to_json(), **names},
            send_at=ctx.now,
            notify_chat_id=ctx.event.chat_id,
            **common,
        ),
    )
    await audit_broadcast(ctx, announcement)
    remind_at = starts - REMINDER_BEFORE
    if remind_at > ctx.now:
        signed = Audience(role=audience.role, signed_up_for=event.id)
        await broadcasts.add(
            ctx.session,
            Broadcast(
                content_kind=ContentKind.EVENT_REMINDER,
                audience=signed.to_json(),
                send_at=remind_at,
                notify_chat_id=None,
                **common,
            ),
        )
    return Finish((say("event.confirmed", number=event.id, title=event.title),))


async def on_sign_up(ctx: Context, args: str) -> list[Action]:
    """Sign up for an event, if there is still a place."""
    person = ctx.person
    if person is None or not args.isdigit():
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    result = await events.sign_up(ctx.session, int(args), person.id, ctx.now)
    return [AnswerButton(Msg(SIGNUP_ANSWERS[result]), alert=result is not SignUp.DONE)]


EVENT = Flow(
    name="event",
    roles=STAFF_ROLES,
    steps=(
        Step("title", ask_title, N_("event.hint_title"), on_text=on_title, goes_to=("starts",)),
        Step("starts", ask_starts, N_("broadcast.hint_moment"), on_text=on_starts,
             goes_to=("place",)),
        Step("place", ask_place, N_("event.hint_place"), on_text=on_place, goes_to=("capacity",)),
        Step("capacity", ask_capacity, N_("event.hint_capacity"), on_text=on_capacity,
             on_button=on_no_limit, goes_to=("audience",)),
        *AUDIENCE_STEPS,
        Step("content", ask_confirm, N_("hint.press_button"), on_button=on_confirm, ends=True),
    ),
)  # fmt: skip

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("event", N_("command.event"), event_command, STAFF_ROLES),
)
BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("signup", on_sign_up, ATTENDEES),)
