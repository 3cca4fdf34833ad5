"""What a person has at hand for their role: the chat's command menu and a worker's own
keyboard, whose presses start the same things as the commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from handlers.actions import N_, Msg, RemoveReply, Reply, ReplyButton, SetMenu
from handlers.flow import CommandSpec
from models.people import Role

# A worker's keyboard under the chat: each label and the command its press runs.
WORKER_SHORTCUTS: dict[str, str] = {
    N_("keyboard.checkin"): "checkin",
    N_("keyboard.request"): "request",
    N_("keyboard.status"): "status",
    N_("keyboard.phones"): "phones",
}


def _keyboard(shortcuts: Iterable[str], per_row: int = 2) -> Reply:
    buttons = [ReplyButton(Msg(key)) for key in shortcuts]
    rows = tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))
    return Reply(rows, persistent=True)


WORKER_KEYBOARD = _keyboard(WORKER_SHORTCUTS)
# Each role's own keyboard and what its buttons run; roles not listed have none.
HOME_KEYBOARDS: Mapping[Role, Reply] = {Role.WORKER: WORKER_KEYBOARD}
SHORTCUTS: Mapping[Role, Mapping[str, str]] = {Role.WORKER: WORKER_SHORTCUTS}


def home_markup(role: Role | None) -> Reply | RemoveReply:
    """The role's own keyboard, or taking away one a former role had."""
    keyboard = HOME_KEYBOARDS.get(role) if role is not None else None
    return keyboard if keyboard is not None else RemoveReply()


def menu_for(commands: Iterable[CommandSpec], role: Role | None) -> SetMenu:
    """The chat's command menu for a role: every menu command the role may use."""
    return SetMenu(
        tuple(
            (spec.name, spec.description)
            for spec in commands
            if spec.in_menu and role in spec.roles
        )
    )
