"""Staff's picture of the campaign: /stats, /missing, /trend and /export.

A town officer sees only their own town in each. The figures are the newest revision of
each enterprise's report for the day (models/stats.py); the export and the chart are made
by the bot layer (SendMade), which also writes the export to the audit log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from handlers import validation
from handlers.access import STAFF_ROLES, own_town
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    Inline,
    Msg,
    SendMade,
    SendText,
    say,
)
from handlers.flow import CommandResult, CommandSpec, Context, GlobalButton, global_data, refuse
from handlers.outbox import Message, post
from handlers.picture import missing_message, picture_message
from handlers.report_reminders import reminder_text
from models import broadcasts, stats
from models.broadcasts import Audience, Purpose
from models.people import Role

REMIND_AGAIN_AFTER = timedelta(minutes=30)


def _day(ctx: Context, arg: str) -> date | validation.Invalid:
    return validation.parse_date(arg, ctx.today) if arg.strip() else ctx.today


async def stats_command(ctx: Context, arg: str) -> CommandResult:
    """/stats [date]: the picture of a day (today by default)."""
    day = _day(ctx, arg)
    if isinstance(day, validation.Invalid):
        return [SendText(refuse(day).problem)]
    town = own_town(ctx)
    picture = await stats.picture(ctx.session, day, town, zone=ctx.settings.timezone)
    return [say("stats.text", body=picture_message(picture, ctx.settings.gap_threshold))]


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
    unreported = Audience(role=Role.CONTACT, town_id=own_town(ctx), unreported_on=day.isoformat())
    # A second press, or a colleague's, soon after does not remind the same contacts again.
    audience = replace(
        unreported,
        not_sent=(Purpose.REPORT_REMINDER,),
        not_sent_since=(ctx.now - REMIND_AGAIN_AFTER).isoformat(),
    )
    count = await broadcasts.count_audience(ctx.session, audience)
    if count == 0:
        if await broadcasts.count_audience(ctx.session, unreported):
            minutes = int(REMIND_AGAIN_AFTER.total_seconds() // 60)
            return [AnswerButton(Msg("missing.reminded_recently", minutes=minutes), alert=True)]
        return [AnswerButton(Msg("missing.nobody_to_remind"), alert=True)]
    await post(
        ctx.session,
        Message(reminder_text(ctx.now.astimezone(ctx.settings.timezone).time(), deadline)),
        audience,
        Purpose.REPORT_REMINDER,
        ctx.now,
        created_by=ctx.person.id if ctx.person else None,
        report_progress=True,
        counted=count,
    )
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
