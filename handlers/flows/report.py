"""The enterprise contact's daily headcount report (/report), their last week (/myreports),
and their workers' roster with a nudge for those who have not answered (/roster).

/report first shows what is known: the last report's figures, with one tap to send the same
again, and what the enterprise's own workers said in their check-ins. Each figure is typed
or tapped (0, the last report's 同上, or the one given before) and checked: a whole number,
not negative, within the configured maximum, and against the figures before it (staying and
gone home within the total, the rest being undecided; on duty within those staying; newly
arrived within the total), each broken rule explained.
On the summary each figure is a button that changes only that one (checked against all the
others). Only Submit writes. Sending again the same day makes the next revision and keeps
the old ones; a report after the day's deadline is accepted and marked late.

```mermaid
stateDiagram-v2
    [*] --> overview
    overview --> total
    overview --> summary
    total --> staying
    total --> summary
    staying --> gone_home
    staying --> summary
    gone_home --> on_duty
    gone_home --> summary
    on_duty --> new_arrivals
    on_duty --> summary
    new_arrivals --> needs
    new_arrivals --> summary
    needs --> summary
    summary --> total
    summary --> staying
    summary --> gone_home
    summary --> on_duty
    summary --> new_arrivals
    summary --> needs
    summary --> [*]
```
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from handlers import validation
from handlers.access import CONTACTS
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditMarkup,
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
    Goto,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
    global_data,
    refuse,
)
from handlers.labels import PLAN_LABELS
from handlers.outbox import Message, post
from models import broadcasts, organisation, reports
from models.broadcasts import Audience, Purpose
from models.organisation import Enterprise
from models.people import Role
from models.reports import Figures, Report, WorkerPlan

# The figures in the order they are asked; each is checked against those before it.
FIELDS = ("total", "staying", "gone_home", "on_duty", "new_arrivals")
NEXT_STEP = {
    "total": "staying",
    "staying": "gone_home",
    "gone_home": "on_duty",
    "on_duty": "new_arrivals",
    "new_arrivals": "needs",
}
QUESTIONS = {
    "total": N_("report.ask_total"),
    "staying": N_("report.ask_staying"),
    "gone_home": N_("report.ask_gone_home"),
    "on_duty": N_("report.ask_on_duty"),
    "new_arrivals": N_("report.ask_new_arrivals"),
}
# On the summary each figure is a button that changes only that one.
CHANGE_LABELS = {
    "total": N_("report.change.total"),
    "staying": N_("report.change.staying"),
    "gone_home": N_("report.change.gone_home"),
    "on_duty": N_("report.change.on_duty"),
    "new_arrivals": N_("report.change.new_arrivals"),
}
HISTORY_DAYS = 7
ROSTER_SHOWN = 50
# The check-in reminder a contact sends their workers from /roster (at most once a day).
NUDGE_KEY = N_("checkin.remind.contact")


# Helpers ------------------------------------------------------------------------------------


async def own_enterprise(ctx: Context) -> Enterprise | None:
    """The active enterprise the person is the contact of, if any."""
    person = ctx.person
    if person is None or person.role is not Role.CONTACT or person.enterprise_id is None:
        return None
    enterprise = await organisation.get_enterprise(ctx.session, person.enterprise_id)
    return enterprise if enterprise is not None and enterprise.active else None


def deadline_text(ctx: Context) -> str:
    """The daily deadline as people read a time of day."""
    return f"{ctx.settings.report_deadline:%H:%M}"


def is_late(day: date, ctx: Context) -> bool:
    """Whether a report for `day` sent now comes after that day's deadline."""
    return ctx.now > datetime.combine(day, ctx.settings.report_deadline, ctx.settings.timezone)


def describe(figures: Figures) -> Msg:
    """The figures as a contact (and staff) read them, undecided computed."""
    return Msg(
        "report.figures",
        total=figures.total,
        staying=figures.staying,
        gone_home=figures.gone_home,
        undecided=figures.undecided,
        on_duty=figures.on_duty,
        new_arrivals=figures.new_arrivals,
        needs=Raw(figures.needs) if figures.needs else Msg("report.needs_none"),
    )


def broken_rule(field: str, value: int, data: dict[str, Any]) -> Msg | None:
    """Why `value` for `field` does not fit the figures given before it (None if it fits)."""
    total, staying = data.get("total", 0), data.get("staying", 0)
    if field == "staying" and value > total:
        return Msg("report.rule.staying", staying=value, total=total)
    if field == "gone_home" and staying + value > total:
        return Msg(
            "report.rule.gone_home",
            gone_home=value,
            staying=staying,
            total=total,
            rest=total - staying,
        )
    if field == "on_duty" and value > staying:
        return Msg("report.rule.on_duty", on_duty=value, staying=staying)
    if field == "new_arrivals" and value > total:
        return Msg("report.rule.new_arrivals", new_arrivals=value, total=total)
    return None


def figures_of(data: dict[str, Any]) -> Figures:
    """The figures the answers hold."""
    return Figures(
        total=int(data["total"]),
        staying=int(data["staying"]),
        gone_home=int(data["gone_home"]),
        on_duty=int(data["on_duty"]),
        new_arrivals=int(data["new_arrivals"]),
        needs=data.get("needs"),
    )


def first_problem(data: dict[str, Any]) -> Msg | None:
    """The first rule the answers break, checking every figure in order."""
    for field in FIELDS:
        problem = broken_rule(field, int(data[field]), data)
        if problem is not None:
            return problem
    return None


# /report -----------------------------------------------------------------------------------


async def report_command(ctx: Context, arg: str) -> CommandResult:
    """Start today's report for the contact's own enterprise."""
    enterprise = await own_enterprise(ctx)
    if enterprise is None:
        return [say("report.no_enterprise")]
    data = {
        "enterprise_id": enterprise.id,
        "enterprise": enterprise.name,
        "date": ctx.today.isoformat(),
    }
    return Switch("report", data)


def _day(state: State) -> date:
    return date.fromisoformat(state.data["date"])


async def _previous(state: State, ctx: Context) -> Report | None:
    return await reports.latest_before(ctx.session, state.data["enterprise_id"], _day(state))


async def ask_overview(state: State, ctx: Context) -> list[Action]:
    """What is known already: the workers' own answers, the last report, today's so far."""
    day = _day(state)
    enterprise_id = state.data["enterprise_id"]
    tally = await reports.tally(ctx.session, enterprise_id)
    parts: list[Param] = [
        Msg(
            "report.tally",
            workers=tally.workers,
            staying=tally.staying,
            going_home=tally.going_home,
            undecided=tally.undecided,
            not_answered=tally.not_answered,
        )
        if tally.workers
        else Msg("report.tally_none")
    ]
    previous = await _previous(state, ctx)
    rows: list[list[Button]] = []
    if previous is not None:
        parts.append(
            Msg("report.previous", date=previous.local_date, figures=describe(previous.figures))
        )
        same = (
            Msg("report.same_as_yesterday")
            if previous.local_date == day - timedelta(days=1)
            else Msg("report.same_as_day", date=previous.local_date)
        )
        rows.append([Button(same, "same")])
    today = await reports.latest(ctx.session, enterprise_id, day)
    if previous is None and today is None:
        parts.append(Msg("report.no_previous"))
    if today is not None:
        parts.append(Msg("report.sent_today", revision=today.revision, at=today.submitted_at))
    parts.append(Msg("report.deadline", deadline=deadline_text(ctx)))
    rows.append([Button(Msg("report.enter"), "enter")])
    text = Msg(
        "report.overview",
        enterprise=Raw(state.data["enterprise"]),
        date=day,
        details=Lines(tuple(parts), sep="\n\n"),
    )
    return [SendText(text, Inline.of(rows))]


async def on_overview(state: State, value: str, ctx: Context) -> Outcome:
    """Type the figures (today's or the last report's offered to keep), or take the last
    report's as they are."""
    if value == "enter":
        day = _day(state)
        today = await reports.latest(ctx.session, state.data["enterprise_id"], day)
        previous = await _previous(state, ctx)
        if previous is not None:
            # The last report's figures, for 同上 on each question.
            state.data["last"] = {f: getattr(previous.figures, f) for f in FIELDS}
        source = today or previous
        if source is not None:
            figures = source.figures
            offered: dict[str, Any] = {
                "total": figures.total,
                "staying": figures.staying,
                "gone_home": figures.gone_home,
                "on_duty": figures.on_duty,
                "needs": figures.needs,
            }
            if today is not None:
                offered["new_arrivals"] = figures.new_arrivals
            for field, known in offered.items():
                state.data.setdefault(field, known)
        return Goto("total")
    if value != "same":
        return Reject(Msg("error.stale_button"))
    previous = await _previous(state, ctx)
    if previous is None:
        return Reject(Msg("error.stale_button"))
    figures = previous.figures
    # The same people as then: nobody new has arrived since.
    state.data.update(
        total=figures.total,
        staying=figures.staying,
        gone_home=figures.gone_home,
        on_duty=figures.on_duty,
        new_arrivals=0,
        needs=figures.needs,
    )
    return Goto("summary", (say("report.same_filled", date=previous.local_date),))


async def ask_count(state: State, ctx: Context) -> list[Action]:
    """One figure; the value given before (if any) can be kept with one tap."""
    field = state.step
    data = state.data
    total, staying = data.get("total", 0), data.get("staying", 0)
    question = Msg(
        QUESTIONS[field],
        total=total,
        staying=staying,
        rest=max(total - staying, 0),
        max=ctx.settings.report_max_count,
    )
    buttons = [Button(Msg("report.zero"), "zero")]
    last = data.get("last") or {}
    if field in last:
        buttons.append(Button(Msg("report.same_as_last", value=int(last[field])), "last"))
    if field in data and data[field] != last.get(field):
        buttons.append(Button(Msg("report.keep", value=int(data[field])), "keep"))
    return [SendText(question, Inline.of([buttons]))]


def _take(state: State, value: int) -> Outcome:
    field = state.step
    if state.data.pop("single", False):
        # One figure changed from the summary: it must fit all the others, before and after.
        changed = {**state.data, field: value}
        problem = first_problem(changed)
        if problem is not None:
            return Reject(problem)
        state.data[field] = value
        return Goto("summary")
    problem = broken_rule(field, value, state.data)
    if problem is not None:
        return Reject(problem)
    state.data[field] = value
    return Goto(NEXT_STEP[field])


async def on_count(state: State, text: str, ctx: Context) -> Outcome:
    """A whole number within the maximum that fits the figures before it."""
    value = validation.parse_count(text, maximum=ctx.settings.report_max_count)
    if isinstance(value, validation.Invalid):
        return refuse(value)
    return _take(state, value)


async def on_keep(state: State, value: str, ctx: Context) -> Outcome:
    """0, the last report's figure (同上), or the figure given before, if it still fits."""
    field = state.step
    last = state.data.get("last") or {}
    if value == "zero":
        return _take(state, 0)
    if value == "last" and field in last:
        return _take(state, int(last[field]))
    if value == "keep" and field in state.data:
        return _take(state, int(state.data[field]))
    return Reject(Msg("error.stale_button"))


async def ask_needs(state: State, ctx: Context) -> list[Action]:
    """Needs or difficulties in a few words, or none."""
    rows = [[Button(Msg("report.no_needs"), "none")]]
    if state.data.get("needs"):
        rows.insert(0, [Button(Msg("report.keep_needs"), "keep")])
    return [SendText(Msg("report.ask_needs", max=ctx.settings.note_max_length), Inline.of(rows))]


async def on_needs(state: State, text: str, ctx: Context) -> Outcome:
    """Keep the text within the length limit."""
    needs = validation.parse_note(text, max_len=ctx.settings.note_max_length)
    if isinstance(needs, validation.Invalid):
        return refuse(needs)
    state.data["needs"] = needs
    state.data.pop("single", None)
    return Goto("summary")


async def on_needs_button(state: State, value: str, ctx: Context) -> Outcome:
    """No needs, or the ones given before."""
    if value == "none":
        state.data["needs"] = None
    elif value != "keep" or not state.data.get("needs"):
        return Reject(Msg("error.stale_button"))
    state.data.pop("single", None)
    return Goto("summary")


async def ask_submit(state: State, ctx: Context) -> list[Action]:
    """Everything in one message; only Submit stores it."""
    day = _day(state)
    parts: list[Param] = [describe(figures_of(state.data))]
    today = await reports.latest(ctx.session, state.data["enterprise_id"], day)
    if today is not None:
        parts.append(Msg("report.will_revise", revision=today.revision + 1))
    if is_late(day, ctx):
        parts.append(Msg("report.will_be_late", deadline=deadline_text(ctx)))
    text = Msg(
        "report.summary",
        enterprise=Raw(state.data["enterprise"]),
        date=day,
        details=Lines(tuple(parts), sep="\n\n"),
    )
    figures = [Button(Msg(CHANGE_LABELS[f], value=int(state.data[f])), f"f:{f}") for f in FIELDS]
    figures.append(Button(Msg("report.change.needs"), "f:needs"))
    rows = [figures[i : i + 2] for i in range(0, len(figures), 2)]
    rows.append([Button(Msg("report.submit"), "submit"), Button(Msg("ui.edit"), "edit")])
    return [SendText(text, Inline.of(rows))]


async def on_submit(state: State, value: str, ctx: Context) -> Outcome:
    """Store the report as the day's next revision, change one figure (then back here), or
    go through the figures again."""
    # Back from a figure opened here leaves the mark behind: a full pass goes figure by figure.
    state.data.pop("single", None)
    if value == "edit":
        return Goto("total")
    field = value.removeprefix("f:")
    if value.startswith("f:") and field in (*FIELDS, "needs"):
        state.data["single"] = True
        return Goto(field)
    if value != "submit":
        return Reject(Msg("error.stale_button"))
    enterprise = await own_enterprise(ctx)
    if enterprise is None or enterprise.id != state.data["enterprise_id"]:
        return Finish((say("error.not_allowed"),))
    problem = first_problem(state.data)
    if problem is not None:
        return Reject(problem)
    day = _day(state)
    report = await reports.submit(
        ctx.session,
        figures_of(state.data),
        enterprise_id=enterprise.id,
        local_date=day,
        submitted_by=ctx.person.id if ctx.person else None,
        now=ctx.now,
        late=is_late(day, ctx),
    )
    params: dict[str, Param] = {
        "enterprise": Raw(enterprise.name),
        "date": day,
        "revision": report.revision,
        "deadline": deadline_text(ctx),
    }
    saved = Msg("report.saved_late", **params) if report.late else Msg("report.saved", **params)
    return Finish((SendText(saved),))


REPORT = Flow(
    name="report",
    roles=CONTACTS,
    steps=(
        Step("overview", ask_overview, N_("hint.press_button"), on_button=on_overview,
             goes_to=("total", "summary")),
        Step("total", ask_count, N_("report.hint_number"), on_text=on_count,
             on_button=on_keep, goes_to=("staying", "summary")),
        Step("staying", ask_count, N_("report.hint_number"), on_text=on_count,
             on_button=on_keep, goes_to=("gone_home", "summary")),
        Step("gone_home", ask_count, N_("report.hint_number"), on_text=on_count,
             on_button=on_keep, goes_to=("on_duty", "summary")),
        Step("on_duty", ask_count, N_("report.hint_number"), on_text=on_count,
             on_button=on_keep, goes_to=("new_arrivals", "summary")),
        Step("new_arrivals", ask_count, N_("report.hint_number"), on_text=on_count,
             on_button=on_keep, goes_to=("needs", "summary")),
        Step("needs", ask_needs, N_("report.hint_needs"), on_text=on_needs,
             on_button=on_needs_button, goes_to=("summary",)),
        Step("summary", ask_submit, N_("hint.press_button"), on_button=on_submit,
             goes_to=(*FIELDS, "needs"), ends=True),
    ),
)  # fmt: skip


# /myreports --------------------------------------------------------------------------------


def _history_day(day: date, report: Report | None) -> Msg:
    if report is None:
        return Msg("myreports.missing", date=day)
    lines: list[Param] = [describe(report.figures)]
    submitted: dict[str, Param] = {"at": report.submitted_at, "revision": report.revision}
    lines.append(
        Msg("myreports.submitted_late", **submitted)
        if report.late
        else Msg("myreports.submitted", **submitted)
    )
    return Msg("myreports.day", date=day, details=Lines(tuple(lines)))


async def myreports_command(ctx: Context, arg: str) -> CommandResult:
    """The enterprise's reports of the last seven days (the newest revision of each)."""
    enterprise = await own_enterprise(ctx)
    if enterprise is None:
        return [say("report.no_enterprise")]
    first = ctx.today - timedelta(days=HISTORY_DAYS - 1)
    found = {
        r.local_date: r for r in await reports.days(ctx.session, enterprise.id, first, ctx.today)
    }
    days = [ctx.today - timedelta(days=n) for n in range(HISTORY_DAYS)]
    lines = Lines(tuple(_history_day(day, found.get(day)) for day in days), sep="\n\n")
    return [say("myreports.text", enterprise=Raw(enterprise.name), days=HISTORY_DAYS, lines=lines)]


# /roster -----------------------------------------------------------------------------------


def stale_before(ctx: Context) -> date:
    """A check-in dated before this day is stale."""
    return ctx.today - timedelta(days=ctx.settings.stale_days)


def nudge_audience(enterprise_id: int, before: date) -> Audience:
    """The enterprise's reachable workers who never answered or whose answer is stale."""
    return Audience(role=Role.WORKER, enterprise_id=enterprise_id, stale_before=before.isoformat())


async def nudged_today(ctx: Context, enterprise_id: int) -> bool:
    """Whether the enterprise's workers were already reminded from /roster today."""
    midnight = datetime.combine(ctx.today, time(0), ctx.settings.timezone)
    sent = await broadcasts.sent_since(ctx.session, Purpose.NUDGE, midnight)
    return any(b.audience.get("enterprise_id") == enterprise_id for b in sent)


def _roster_line(worker: WorkerPlan, before: date) -> Msg:
    name: Param = Raw(worker.name) if worker.name else Msg("common.not_given")
    if worker.plan is None or worker.checked_on is None:
        return Msg("roster.line_silent", name=name)
    params: dict[str, Param] = {
        "name": name,
        "plan": Msg(PLAN_LABELS[worker.plan]),
        "date": worker.checked_on,
    }
    if worker.stale(before):
        return Msg("roster.line_stale", **params)
    return Msg("roster.line", **params)


async def roster_command(ctx: Context, arg: str) -> CommandResult:
    """The enterprise's workers, the silent and stale first, and a nudge for them."""
    enterprise = await own_enterprise(ctx)
    if enterprise is None:
        return [say("report.no_enterprise")]
    workers = await reports.worker_plans(ctx.session, enterprise.id)
    if not workers:
        return [say("roster.empty", enterprise=Raw(enterprise.name))]
    before = stale_before(ctx)
    silent = [w for w in workers if w.plan is None]
    stale = [w for w in workers if w.plan is not None and w.stale(before)]
    answered = [w for w in workers if w.plan is not None and not w.stale(before)]
    ordered = silent + stale + answered
    lines: list[Param] = [_roster_line(w, before) for w in ordered[:ROSTER_SHOWN]]
    if len(ordered) > ROSTER_SHOWN:
        lines.append(Msg("roster.more", count=len(ordered) - ROSTER_SHOWN))
    parts: list[Param] = [
        Lines(tuple(lines)),
        Msg("roster.counts", silent=len(silent), stale=len(stale), days=ctx.settings.stale_days),
    ]
    markup = None
    if (silent or stale) and await nudged_today(ctx, enterprise.id):
        parts.append(Msg("roster.nudged_today"))
    elif silent or stale:
        # Those the bot can reach (not blocked, not erased) are the ones a reminder goes to.
        audience = nudge_audience(enterprise.id, before)
        reachable = await broadcasts.count_audience(ctx.session, audience)
        if reachable:
            button = Button(
                Msg("roster.remind", count=reachable), global_data("nudge", enterprise.id)
            )
            markup = Inline.of([[button]])
    text = Msg(
        "roster.text",
        enterprise=Raw(enterprise.name),
        count=len(workers),
        details=Lines(tuple(parts), sep="\n\n"),
    )
    return [SendText(text, markup)]


async def on_nudge(ctx: Context, args: str) -> Sequence[Action]:
    """Remind the enterprise's silent and stale workers, through the broadcast sender."""
    enterprise = await own_enterprise(ctx)
    if enterprise is None or args != str(enterprise.id):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if await nudged_today(ctx, enterprise.id):
        return [AnswerButton(Msg("roster.already_nudged"), alert=True)]
    audience = nudge_audience(enterprise.id, stale_before(ctx))
    count = await broadcasts.count_audience(ctx.session, audience)
    if count == 0:
        return [AnswerButton(Msg("roster.nobody_to_nudge"), alert=True)]
    await post(
        ctx.session,
        Message(Msg(NUDGE_KEY, enterprise=Raw(enterprise.name))),
        audience,
        Purpose.NUDGE,
        ctx.now,
        created_by=ctx.person.id if ctx.person else None,
        counted=count,
    )
    actions: list[Action] = [AnswerButton()]
    event = ctx.event
    if isinstance(event, ButtonPress) and event.message_id is not None:
        actions.append(EditMarkup(event.message_id, None))
    actions.append(say("roster.nudge_queued", count=count))
    return actions


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("report", N_("command.report"), report_command, CONTACTS),
    CommandSpec(
        "myreports", N_("command.myreports"), myreports_command, CONTACTS, keeps_conversation=True
    ),
    CommandSpec("roster", N_("command.roster"), roster_command, CONTACTS, keeps_conversation=True),
)
BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("nudge", on_nudge, CONTACTS),)
