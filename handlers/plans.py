"""A worker's holiday plan in words: the one wording of a check-in, wherever it is shown."""

from __future__ import annotations

from handlers.actions import Lines, Msg, Param
from handlers.geography import province_name
from handlers.labels import NEED_LABELS, PLAN_LABELS, TRANSPORT_LABELS
from models.checkins import CheckIn, Need, Plan


def describe(checkin: CheckIn) -> Lines:
    """A check-in as lines a worker (or their contact) reads: the one wording of a plan."""
    lines: list[Param] = [Msg("checkin.line.plan", plan=Msg(PLAN_LABELS[checkin.plan]))]
    if checkin.plan is Plan.STAY:
        needs = [Msg(NEED_LABELS[Need(n)]) for n in checkin.needs]
        lines.append(
            Msg("checkin.line.needs", needs=Lines(tuple(needs), sep=Msg("ui.list_separator")))
            if needs
            else Msg("checkin.line.no_needs")
        )
        if checkin.note:
            lines.append(Msg("checkin.line.note", note=checkin.note))
    elif checkin.plan is Plan.RETURN:
        lines.append(
            Msg(
                "checkin.line.destination",
                province=province_name(checkin.destination_province),
                city=checkin.destination_city or "",
            )
        )
        if checkin.depart_date is not None:
            lines.append(Msg("checkin.line.depart", date=checkin.depart_date))
        lines.append(
            Msg("checkin.line.return", date=checkin.return_date)
            if checkin.return_date
            else Msg("checkin.line.return_unknown")
        )
        if checkin.transport is not None:
            lines.append(
                Msg("checkin.line.transport", transport=Msg(TRANSPORT_LABELS[checkin.transport]))
            )
    elif checkin.ask_again_on is not None:
        lines.append(Msg("checkin.line.ask_again", date=checkin.ask_again_on))
    return Lines(tuple(lines))
