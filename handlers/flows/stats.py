"""Staff's picture of the campaign: /stats, /missing, /trend and /export.

A town officer sees only their own town in each. The figures are the newest revision of
each enterprise's report for the day (models/stats.py); the export and the chart are made
by the bot layer (SendMade), which also writes the export to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
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
from handlers.flows.report import REMINDER_PREFIX, reminder_text
from handlers.phone import phone_for
from models import broadcasts, stats
from models.broadcasts import Audience, Broadcast, BroadcastStatus, ContentKind
from models.checkins import Plan
from models.people import Role

GAPS_SHOWN = 10
REMIND_AGAIN_AFTER = timedelta(minutes=30)
# The totals of stats.Totals that /stats shows, each with its change since the day before.
FIGURES = ("total", "staying", "gone_home", "undecided", "on_duty", "new_arrivals")
MISSING_SHOWN = 30
NO_CHECKIN = N_("stats.no_checkin")


def _change(now: int, before: int) -> Msg:
    if now > before:
        return Msg("stats.up", count=now - before)
    if now < before:
        return Msg("stats.down", count=before - now)
    return Msg("stats.same")


def _signed(now: int, before: int) -> str:
    """The change since the day before as a signed number, for the compact town lines."""
    return f"{now - before:+d}" if now != before else "±0"


def _figures(
    now: stats.Totals, before: stats.Totals, change: Callable[[int, int], Param]
) -> dict[str, Param]:
    """Each total (`total`, `staying`...) and its change since the day before (`total_change`...),
    as the messages name them."""
    found: dict[str, Param] = {}
    for name in FIGURES:
        value: int = getattr(now, name)
        found[name] = value
        found[f"{name}_change"] = change(value, getattr(before, name))
    return found


def rate_text(rate: int | None) -> str:
    """A reporting rate as people read it: 85%, or a dash when nobody was due."""
    return f"{rate}%" if rate is not None else "—"


def _reporting(line: stats.Line) -> dict[str, Param]:
    """Who was due, who reported, and how the rest are counted (their last figures carried
    forward, or nowhere when they never reported)."""
    return {
        "enterprises": line.enterprises,
        "reported": line.reported,
        "rate": rate_text(line.rate),
        "on_time": line.on_time,
        "late": line.late,
        "missing": line.missing,
        "carried": line.carried,
    }


def _line(line: stats.Line) -> Msg:
    return Msg(
        "stats.town_line",
        town=line.name,
        **_reporting(line),
        **_figures(line.totals, line.before, _signed),
    )


def picture_message(picture: stats.Picture, threshold: int) -> Msg:
    """The day's picture in words (also the digest's body)."""
    district = picture.district
    plans: list[Param] = [
        Msg("stats.plan_line", plan=Msg(PLAN_LABELS[plan]), count=picture.plans.get(plan, 0))
        for plan in Plan
    ]
    plans.append(Msg("stats.plan_line", plan=Msg(NO_CHECKIN), count=picture.plans.get(None, 0)))
    compared = [g for g in picture.gaps if g.reported is not None]
    wide = [g for g in compared if g.size >= threshold]
    return Msg(
        "stats.picture",
        day=picture.day,
        **_reporting(district),
        not_reported=Msg("stats.carried", carried=district.carried, unknown=district.unknown)
        if district.missing
        else "",
        **_figures(district.totals, picture.previous, _change),
        towns=Lines(tuple(_line(line) for line in picture.towns)) if picture.towns else "—",
        workers=picture.workers,
        plans=Lines(tuple(plans)),
        read=Msg(
            "stats.read_share",
            read=picture.letter_read,
            percent=percent(picture.letter_read, picture.workers),
        ),
        gaps=_gaps(wide, len(compared) - len(wide), threshold),
        threshold=threshold,
        models=Lines(tuple(picture.models), sep=Msg("ui.list_separator"))
        if picture.models
        else Msg("stats.no_models"),
    )


def _gaps(wide: list[stats.Gap], within: int, threshold: int) -> Param:
    """The widest gaps first; how many more are listed in the export, and how many agree."""
    lines: list[Param] = [_gap(g) for g in wide[:GAPS_SHOWN]]
    if not wide:
        lines.append(Msg("stats.no_gaps"))
    if len(wide) > GAPS_SHOWN:
        lines.append(Msg("stats.gaps_more", count=len(wide) - GAPS_SHOWN))
    if within:
        lines.append(Msg("stats.gaps_within", count=within, threshold=threshold))
    return Lines(tuple(lines))


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
    picture = await stats.picture(ctx.session, day, town, zone=ctx.settings.timezone)
    return [say("stats.text", body=picture_message(picture, ctx.settings.gap_threshold))]


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
            phone=phone_for(e.contact_phone, Role.ADMIN if admin else None) or "—",
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
    unreported = Audience(role=Role.CONTACT, town_id=own_town(ctx), unreported_on=day.isoformat())
    # A second press, or a colleague's, soon after does not remind the same contacts again.
    audience = replace(
        unreported,
        not_sent=REMINDER_PREFIX,
        not_sent_since=(ctx.now - REMIND_AGAIN_AFTER).isoformat(),
    )
    count = await broadcasts.count_audience(ctx.session, audience)
    if count == 0:
        if await broadcasts.count_audience(ctx.session, unreported):
            minutes = int(REMIND_AGAIN_AFTER.total_seconds() // 60)
            return [AnswerButton(Msg("missing.reminded_recently", minutes=minutes), alert=True)]
        return [AnswerButton(Msg("missing.nobody_to_remind"), alert=True)]
    person = ctx.person
    reminder = await broadcasts.add(
        ctx.session,
        Broadcast(
            content_kind=ContentKind.MESSAGE,
            text=reminder_text(ctx.now.astimezone(ctx.settings.timezone).time(), deadline),
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
