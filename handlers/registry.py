"""Every flow, command and global button the bot knows, gathered in one place."""

from __future__ import annotations

from handlers.flow import CommandSpec, Flow, GlobalButton
from handlers.flows import checkin, common, enrolment

FLOWS: tuple[Flow, ...] = (enrolment.ENROLMENT, checkin.CHECKIN, common.MOVE)
COMMANDS: tuple[CommandSpec, ...] = common.COMMANDS
BUTTONS: tuple[GlobalButton, ...] = common.BUTTONS
idle = common.idle
