"""Staff's picture of the campaign: /stats, /missing, /trend and /export.

A town officer sees only their own town in each. The figures are the newest revision of
each enterprise's report for the day (models/stats.py); the export and the chart are made
by the bot layer (SendMade), which also writes the export to the audit log.
"""

from __future__ import annotations

from datetime import date, timedelta

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
    SendMade,
    SendText,
    say,
)
from handlers.flow import CommandResult, CommandSpec, Context, GlobalButton, global_data, refuse
from handlers.flows.broadcast import STAFF_ROLES, audit_broadcast, own_town
from handlers.flows.checkin import PLAN_LABELS
from handlers.flows.letter import percent
from models import broadcasts, stats
from models.broadcasts import Audience, Broadcast, BroadcastStatus, ContentKind, message_text
from models.checkins import Plan
from models.people import Role

GAPS_SHOWN = 10
MISSING_SHOWN = 30
NO_CHECKIN = N_("stats.no_checkin")


def mask_phone(phone: str | None) -> str:
    """138****5678: enough to recognise a number, not to call a stranger."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def _change(now: int, before: int) -> Msg:
    if now > before:
        return Msg("stats.up", count=now - before)
    if now < before:
        return Msg("stats.down", count=before - now)
    return Msg("stats.same")


def _line(line: stats.Line) -> Msg:
    return Msg(
        "stats.town_line",
        town=line.name,
        on_time=line.on_time,
        late=line.late,
        missing=line.missing,
        staying=line.totals.staying,
        gone_home=line.totals.gone_home,
    )


def picture_message(picture: stats.Picture, gaps: list[stats.Gap], threshold: int) -> Msg:
    """The day's picture in words (also the digest's body)."""
    district, before = picture.district, picture.previous
    totals = district.totals
    plans: list[Param] = [
        Msg("stats.plan_line", plan=Msg(PLAN_LABELS[plan]), count=picture.plans.get(plan, 0))
        for plan in Plan
    ]
    plans.append(Msg("stats.plan_line", plan=Msg(NO_CHECKIN), count=picture.plans.get(None, 0)))
    wide = [g for g in gaps if g.reported is not None and g.size >= threshold][:GAPS_SHOWN]
    return Msg(
        "stats.picture",
        day=picture.day,
        enterprises=district.enterprises,
        on_time=district.on_time,
        late=district.late,
        missing=district.missing,
        total=totals.total,
        total_change=_change(totals.total, before.total),
        staying=totals.staying,
        staying_change=_change(totals.staying, before.staying),
        gone_home=totals.gone_home,
        gone_home_change=_change(totals.gone_home, before.gone_home),
        undecided=totals.undecided,
        on_duty=totals.on_duty,
        new_arrivals=totals.new_arrivals,
        towns=Lines(tuple(_line(line) for line in picture.towns)) if picture.towns else "—",
        workers=picture.workers,
        plans=Lines(tuple(plans)),
        read=Msg(
            "stats.read_share",
            read=picture.letter_read,
            percent=percent(picture.letter_read, picture.workers),
        ),
        gaps=Lines(tuple(_gap(g) for g in wide)) if wide else Msg("stats.no_gaps"),
        threshold=threshold,
        models=Lines(tuple(picture.models), sep=Msg("ui.list_separator"))
        if picture.models
        else Msg("stats.no_models"),
    )


def _gap(gap: stats.Gap) -> Msg:
    reported = gap.reported or stats.Totals()
    return Msg(
        "stats.gap_line",
        enterprise=gap.enterprise.name,
        reported_staying=reported.staying,
        said_staying=gap.said.get(Plan.STAY, 0),
        reported_gone=reported.gone_home,
        said_gone=gap.said.get(Plan.RETURN, 0),
        not_answered=gap.said.get(None, 0),
    )


def _day(ctx: Context, arg: str) -> date | validation.Invalid:
    return validation.parse_date(arg, ctx.today) if arg.strip() else ctx.today


async def stats_command(ctx: Context, arg: str) -> CommandResult:
    """/stats [date]: the picture of a day (today by default)."""
    day = _day(ctx, arg)
    if isinstance(day, validation.Invalid):
        return [SendText(refuse(day).problem)]
    town = own_town(ctx)
    picture = await stats.picture(ctx.session, day, town)
    gaps = await stats.gaps(ctx.session, day, town)
    return [say("stats.text", body=picture_message(picture, gaps, ctx.settings.gap_threshold))]


def missing_message(missing: list[stats.Active], day: date, admin: bool) -> Msg:
    """Enterprises without the day's report, with their contact."""
    if not missing:
        return Msg("missing.none", day=day)
    lines = tuple(
        Msg(
            "missing.line",
            enterprise=e.name,
            town=e.town,
            contact=e.contact_name or Msg("missing.no_contact"),
            phone=(e.contact_phone if admin else mask_phone(e.contact_phone)) or "—",
        )
        for e in missing[:MISSING_SHOWN]
    )
    more = len(missing) - MISSING_SHOWN
    return Msg(
        "missing.list",
        day=day,
        count=len(missing),
        lines=Lines(lines),
        more=Msg("missing.more", count=more) if more > 0 else "",
    )


async def missing_command(ctx: Context, arg: str) -> CommandResult:
    """/missing: who has not reported today, and one button that reminds them all now."""
    missing = await stats.missing(ctx.session, ctx.today, own_town(ctx))
    admin = ctx.person is not None and ctx.person.role is Role.ADMIN
    body = missing_message(missing, ctx.today, admin)
    if not missing:
        return [say("stats.text", body=body)]
    remind = Button(Msg("missing.remind_all"), global_data("remindmissing", ctx.today.isoformat()))
    return [SendText(Msg("stats.text", body=body), Inline.of([[remind]]))]


async def on_remind_missing(ctx: Context, args: str) -> list[Action]:
    """Remind every contact whose enterprise has not reported that day, through the sender."""
    try:
        day = date.fromisoformat(args)
    except ValueError:
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    if day != ctx.today:
        return [AnswerButton(Msg("missing.day_passed"), alert=True)]
    deadline = ctx.settings.report_deadline
    key = (
        N_("report.remind.overdue")
        if ctx.now.astimezone(ctx.settings.timezone).time() >= deadline
        else N_("report.remind.before")
    )
    audience = Audience(role=Role.CONTACT, town_id=own_town(ctx), unreported_on=day.isoformat())
    count = await broadcasts.count_audience(ctx.session, audience)
    if count == 0:
        return [AnswerButton(Msg("missing.nobody_to_remind"), alert=True)]
    person = ctx.person
    reminder = await broadcasts.add(
        ctx.session,
        Broadcast(
            content_kind=ContentKind.MESSAGE,
            text=message_text(key, deadline=f"{deadline:%H:%M}"),
            file_id=None,
            audience=audience.to_json(),
            send_at=ctx.now,
            daily_until=None,
            status=BroadcastStatus.SCHEDULED,
            created_by=person.id if person else None,
            notify_chat_id=ctx.event.chat_id,
            created_at=ctx.now,
        ),
    )
    await audit_broadcast(ctx, reminder)
    return [AnswerButton(), say("missing.reminding", count=count)]


async def trend_command(ctx: Context, arg: str) -> CommandResult:
    """/trend: a chart of the campaign's days so far."""
    first = min(ctx.settings.campaign_start, ctx.today - timedelta(days=1))
    params: dict[str, str | int | bool | None] = {
        "first": first.isoformat(),
        "last": ctx.today.isoformat(),
        "town_id": own_town(ctx),
    }
    return [say("stats.making_chart"), SendMade("trend", params)]


async def export_command(ctx: Context, arg: str) -> CommandResult:
    """/export [from to]: the workbook; phones masked unless the reader is an administrator."""
    first: date | None = None
    last: date | None = None
    parts = arg.split()
    if parts:
        if len(parts) != 2:
            return [say("stats.export_usage")]
        found = [validation.parse_date(p, ctx.today) for p in parts]
        for value in found:
            if isinstance(value, validation.Invalid):
                return [SendText(refuse(value).problem)]
        first, last = (v for v in found if isinstance(v, date))
        if last < first:
            return [say("stats.export_order")]
    person = ctx.person
    params: dict[str, str | int | bool | None] = {
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "town_id": own_town(ctx),
        "mask": person is None or person.role is not Role.ADMIN,
        "actor_id": person.id if person else None,
    }
    return [say("stats.making_export"), SendMade("export", params)]


BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("remindmissing", on_remind_missing, STAFF_ROLES),)

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("stats", N_("command.stats"), stats_command, STAFF_ROLES, keeps_conversation=True),
    CommandSpec(
        "missing", N_("command.missing"), missing_command, STAFF_ROLES, keeps_conversation=True
    ),
    CommandSpec("trend", N_("command.trend"), trend_command, STAFF_ROLES, keeps_conversation=True),
    CommandSpec(
        "export", N_("command.export"), export_command, STAFF_ROLES, keeps_conversation=True
    ),
)
