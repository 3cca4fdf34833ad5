"""Every flow, command and global button the bot knows, gathered in one place."""

from __future__ import annotations

from handlers.flow import CommandSpec, Flow, Gate, GlobalButton
from handlers.flows import (
    broadcast,
    checkin,
    common,
    enrolment,
    events,
    help_request,
    letter,
    nominations,
    open_requests,
    organisation,
    privacy,
    report,
    request_answer,
    roles,
    stats,
)

FLOWS: tuple[Flow, ...] = (
    enrolment.ENROLMENT,
    checkin.CHECKIN,
    common.MOVE,
    broadcast.BROADCAST,
    events.EVENT,
    letter.LETTER,
    privacy.FORGET,
    privacy.CONSENT_AGAIN,
    roles.ROLE_ENROLMENT,
    roles.ROLE_CHANGE,
    *organisation.FLOWS,
    help_request.REQUEST,
    request_answer.ANSWER,
    open_requests.BROWSE,
    *nominations.FLOWS,
    report.REPORT,
)
COMMANDS: tuple[CommandSpec, ...] = (
    *common.COMMANDS,
    *organisation.COMMANDS,
    *broadcast.COMMANDS,
    *events.COMMANDS,
    *letter.COMMANDS,
    *privacy.COMMANDS,
    *help_request.COMMANDS,
    *open_requests.COMMANDS,
    *nominations.COMMANDS,
    *report.COMMANDS,
    *stats.COMMANDS,
)
BUTTONS: tuple[GlobalButton, ...] = (
    *common.BUTTONS,
    *broadcast.BUTTONS,
    *events.BUTTONS,
    *letter.BUTTONS,
    *request_answer.BUTTONS,
    *open_requests.BUTTONS,
    *report.BUTTONS,
    *stats.BUTTONS,
)
idle = common.idle
# Before anything else: consent to the current text, from those who agreed to an older one.
GATE: Gate = privacy.CONSENT_GATE
