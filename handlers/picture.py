"""The campaign's picture in words, for /stats, /missing, /letter and the staff digest.

A day's figures by town with their changes, the gaps between reports and check-ins, who
has not reported, and the share of workers who read the letter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from handlers.actions import N_, Lines, Msg, Param
from handlers.channels import split
from handlers.labels import CHANNEL_LABELS, PLAN_LABELS
from handlers.phone import phone_for
from models import stats
from models.broadcasts import Share
from models.checkins import Plan
from models.people import Role

GAPS_SHOWN = 10
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
        read=read_share(picture),
        gaps=_gaps(wide, len(compared) - len(wide), threshold),
        threshold=threshold,
        models=Lines(tuple(picture.models), sep=Msg("ui.list_separator"))
        if picture.models
        else Msg("stats.no_models"),
    )


def read_share(picture: stats.Picture) -> Msg:
    """How many read the letter, of the workers counted, and on which channel."""
    read, workers = picture.letter_read, picture.workers
    if not read:
        return Msg("stats.read_share", read=read, percent=percent(read, workers))
    return Msg(
        "stats.read_share_split",
        read=read,
        percent=percent(read, workers),
        channels=split(picture.letter_read_by_channel),
    )


def read_lines(by_channel: dict[str, Share]) -> Lines:
    """The letter's readers among the workers of each channel, one line each."""
    return Lines(
        tuple(
            Msg(
                "channel.read_line",
                channel=Msg(CHANNEL_LABELS[channel]),
                read=share.read,
                workers=share.workers,
                percent=percent(share.read, share.workers),
            )
            for channel, share in by_channel.items()
        )
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


def percent(part: int, whole: int) -> int:
    """`part` as a whole-number percentage of `whole` (0 of nobody)."""
    return round(100 * part / whole) if whole else 0
