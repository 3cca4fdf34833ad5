"""The stay-or-return check-in: staying (and what they lack), going home, or undecided.

Only Confirm on the summary writes a row; every confirmed check-in is kept, the newest is
the worker's current plan.

```mermaid
stateDiagram-v2
    [*] --> plan
    plan --> needs
    plan --> destination
    plan --> ask_again
    needs --> note
    note --> summary
    destination --> dest_city
    dest_city --> depart
    depart --> return_date
    return_date --> transport
    transport --> summary
    ask_again --> summary
    summary --> plan
    summary --> [*]
```
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from handlers import validation
from handlers.access import WORKERS
from handlers.actions import N_, Action, Button, Inline, Msg, SendText, say
from handlers.flow import Context, Finish, Flow, Goto, Outcome, Reject, State, Stay, Step, refuse
from handlers.geography import PROVINCES, province_keyboard, province_name
from handlers.helpdesk import from_checkin
from handlers.labels import NEED_LABELS, PLAN_LABELS, TICK, TRANSPORT_LABELS
from handlers.plans import describe
from models import checkins
from models.checkins import CheckIn, Need, Plan, Transport

# A departure more than this far ahead is a typing mistake, not a plan.
FURTHEST_DEPARTURE = timedelta(days=180)


def draft(data: dict[str, Any], ctx: Context) -> CheckIn:
    """The check-in the answers so far describe (not stored)."""
    plan = Plan(data["plan"])
    stay, going = plan is Plan.STAY, plan is Plan.RETURN
    person = ctx.person
    return CheckIn(
        person_id=person.id if person else 0,
        enterprise_id=person.enterprise_id if person else None,
        created_at=ctx.now,
        local_date=ctx.today,
        plan=plan,
        needs=list(data.get("needs", [])) if stay else [],
        note=data.get("note") if stay else None,
        destination_province=data.get("dest_province") if going else None,
        destination_city=data.get("dest_city") if going else None,
        depart_date=_date(data.get("depart")) if going else None,
        return_date=_date(data.get("return")) if going else None,
        transport=Transport(data["transport"]) if going and data.get("transport") else None,
        ask_again_on=_date(data.get("ask_again_on")) if plan is Plan.UNDECIDED else None,
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# plan ------------------------------------------------------------------------------------


async def ask_plan(state: State, ctx: Context) -> list[Action]:
    """Staying, going home, or not decided yet."""
    return [
        SendText(
            Msg("checkin.ask_plan"),
            Inline.of([[Button(Msg(label), plan.value)] for plan, label in PLAN_LABELS.items()]),
        )
    ]


async def on_plan(state: State, value: str, ctx: Context) -> Outcome:
    """Branch on the plan."""
    if value not in set(Plan):
        return Reject(Msg("error.stale_button"))
    state.data["plan"] = value
    return Goto({"stay": "needs", "return": "destination", "undecided": "ask_again"}[value])


# staying ---------------------------------------------------------------------------------


async def ask_needs(state: State, ctx: Context) -> list[Action]:
    """What they lack, ticked one by one."""
    chosen = set(state.data.get("needs", []))
    rows = [
        [Button(Msg(TICK[need in chosen], label=Msg(label)), f"t:{need.value}")]
        for need, label in NEED_LABELS.items()
    ]  # fmt: skip
    rows.append([Button(Msg("checkin.nothing_needed"), "none"), Button(Msg("ui.done"), "done")])
    return [SendText(Msg("checkin.ask_needs"), Inline.of(rows))]


async def on_needs(state: State, value: str, ctx: Context) -> Outcome:
    """Tick or untick a need; Nothing clears them; Done goes on."""
    if value == "done":
        return Goto("note")
    if value == "none":
        state.data["needs"] = []
        return Goto("note")
    need = value.removeprefix("t:")
    if not value.startswith("t:") or need not in set(Need):
        return Reject(Msg("error.stale_button"))
    chosen = list(state.data.get("needs", []))
    if need in chosen:
        chosen.remove(need)
    else:
        chosen.append(need)
    state.data["needs"] = [n.value for n in Need if n.value in chosen]
    return Stay()


async def ask_note(state: State, ctx: Context) -> list[Action]:
    """Anything else to say, or skip."""
    return [
        SendText(
            Msg("checkin.ask_note", max=ctx.settings.note_max_length),
            Inline.of([[Button(Msg("ui.skip"), "skip")]]),
        )
    ]


async def on_note(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a note within the length limit."""
    note = validation.parse_note(text, max_len=ctx.settings.note_max_length)
    if isinstance(note, validation.Invalid):
        return refuse(note)
    state.data["note"] = note
    return Goto("summary")


async def on_note_skipped(state: State, value: str, ctx: Context) -> Outcome:
    """No note."""
    if value != "skip":
        return Reject(Msg("error.stale_button"))
    state.data["note"] = None
    return Goto("summary")


# going home ------------------------------------------------------------------------------


async def ask_destination(state: State, ctx: Context) -> list[Action]:
    """The province they travel to."""
    return [SendText(Msg("checkin.ask_destination"), province_keyboard())]


async def on_destination(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a province from the keyboard."""
    if value not in PROVINCES:
        return Reject(Msg("error.stale_button"))
    state.data["dest_province"] = value
    return Goto("dest_city")


async def ask_dest_city(state: State, ctx: Context) -> list[Action]:
    """The city or county they travel to."""
    return [say("checkin.ask_dest_city", province=province_name(state.data.get("dest_province")))]


async def on_dest_city(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a valid place name."""
    city = validation.parse_place(text)
    if isinstance(city, validation.Invalid):
        return refuse(city)
    state.data["dest_city"] = city
    return Goto("depart")


def _date_buttons(today: date) -> Inline:
    return Inline.of(
        [[Button(Msg("date.today"), today.isoformat()),
          Button(Msg("date.tomorrow"), (today + timedelta(days=1)).isoformat())]]
    )  # fmt: skip


async def ask_depart(state: State, ctx: Context) -> list[Action]:
    """The day they leave, typed in a common form or picked."""
    return [SendText(Msg("checkin.ask_depart", example=ctx.today), _date_buttons(ctx.today))]


def _check_departure(day: date, ctx: Context) -> Reject | None:
    if day < ctx.today:
        return Reject(Msg("error.date.past", date=day))
    if day - ctx.today > FURTHEST_DEPARTURE:
        return Reject(Msg("error.date.too_far", date=day))
    return None


async def on_depart(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a departure date that is not in the past."""
    day = validation.parse_date(text, ctx.today)
    if isinstance(day, validation.Invalid):
        return refuse(day)
    return _keep_departure(state, day, ctx)


async def on_depart_button(state: State, value: str, ctx: Context) -> Outcome:
    """Today or tomorrow, from the buttons."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return Reject(Msg("error.stale_button"))
    return _keep_departure(state, day, ctx)


def _keep_departure(state: State, day: date, ctx: Context) -> Outcome:
    refused = _check_departure(day, ctx)
    if refused is not None:
        return refused
    state.data["depart"] = day.isoformat()
    return Goto("return_date")


async def ask_return(state: State, ctx: Context) -> list[Action]:
    """The day they come back, or not known yet."""
    return [
        SendText(
            Msg("checkin.ask_return", depart=date.fromisoformat(state.data["depart"])),
            Inline.of([[Button(Msg("checkin.return_not_known"), "unknown")]]),
        )
    ]


async def on_return(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a return date after the departure."""
    day = validation.parse_date(text, ctx.today)
    if isinstance(day, validation.Invalid):
        return refuse(day)
    depart = date.fromisoformat(state.data["depart"])
    if day <= depart:
        return Reject(Msg("error.date.return_before_departure", depart=depart))
    state.data["return"] = day.isoformat()
    return Goto("transport")


async def on_return_unknown(state: State, value: str, ctx: Context) -> Outcome:
    """No return date yet."""
    if value != "unknown":
        return Reject(Msg("error.stale_button"))
    state.data["return"] = None
    return Goto("transport")


async def ask_transport(state: State, ctx: Context) -> list[Action]:
    """How they travel."""
    buttons = [Button(Msg(label), t.value) for t, label in TRANSPORT_LABELS.items()]
    return [SendText(Msg("checkin.ask_transport"), Inline.of([buttons[:3], buttons[3:]]))]


async def on_transport(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a means of transport from the keyboard."""
    if value not in set(Transport):
        return Reject(Msg("error.stale_button"))
    state.data["transport"] = value
    return Goto("summary")


# undecided -------------------------------------------------------------------------------


async def ask_when_again(state: State, ctx: Context) -> list[Action]:
    """When to be asked again."""
    buttons = [
        Button(Msg("checkin.again_in_days", days=days), str(days))
        for days in ctx.settings.ask_again_days
    ]
    return [SendText(Msg("checkin.ask_again"), Inline.of([buttons]))]


async def on_when_again(state: State, value: str, ctx: Context) -> Outcome:
    """Keep one of the offered delays."""
    if not value.isdigit() or int(value) not in ctx.settings.ask_again_days:
        return Reject(Msg("error.stale_button"))
    state.data["ask_again_on"] = (ctx.today + timedelta(days=int(value))).isoformat()
    return Goto("summary")


# summary ---------------------------------------------------------------------------------


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """Everything in one message; only Confirm stores it."""
    return [
        SendText(
            Msg("checkin.summary", details=describe(draft(state.data, ctx))),
            Inline.of([[Button(Msg("ui.confirm"), "ok"), Button(Msg("ui.edit"), "edit")]]),
        )
    ]


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Store the check-in, or go back to the start to change it."""
    if value == "edit":
        return Goto("plan")
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    checkin = await checkins.add(ctx.session, draft(state.data, ctx))
    # A need ticked here opens a request on its own, so that nothing said is left unheard.
    opened = await from_checkin(ctx, checkin)
    return Finish((say("checkin.saved", details=describe(checkin)), *opened))


CHECKIN = Flow(
    name="checkin",
    roles=WORKERS,
    steps=(
        Step("plan", ask_plan, N_("hint.press_button"), on_button=on_plan,
             goes_to=("needs", "destination", "ask_again")),
        Step("needs", ask_needs, N_("hint.press_button"), on_button=on_needs, goes_to=("note",)),
        Step("note", ask_note, N_("checkin.hint_note"), on_text=on_note,
             on_button=on_note_skipped, goes_to=("summary",)),
        Step("destination", ask_destination, N_("hint.press_button"), on_button=on_destination,
             goes_to=("dest_city",)),
        Step("dest_city", ask_dest_city, N_("enrol.hint_city"), on_text=on_dest_city,
             goes_to=("depart",)),
        Step("depart", ask_depart, N_("checkin.hint_date"), on_text=on_depart,
             on_button=on_depart_button, goes_to=("return_date",)),
        Step("return_date", ask_return, N_("checkin.hint_date"), on_text=on_return,
             on_button=on_return_unknown, goes_to=("transport",)),
        Step("transport", ask_transport, N_("hint.press_button"), on_button=on_transport,
             goes_to=("summary",)),
        Step("ask_again", ask_when_again, N_("hint.press_button"), on_button=on_when_again,
             goes_to=("summary",)),
        Step("summary", ask_confirm, N_("hint.press_button"), on_button=on_confirm,
             goes_to=("plan",), ends=True),
    ),
)  # fmt: skip
