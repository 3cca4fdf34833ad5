"""The catalog keys naming what several flows, the exports and the sender show: one map each."""

from __future__ import annotations

from handlers.actions import N_
from models.broadcasts import ContentKind
from models.checkins import Need, Plan, Transport
from models.people import TELEGRAM, WEB, Role
from models.requests import Category, Status

PLAN_LABELS: dict[Plan, str] = {
    Plan.STAY: N_("plan.stay"),
    Plan.RETURN: N_("plan.return"),
    Plan.UNDECIDED: N_("plan.undecided"),
}
NEED_LABELS: dict[Need, str] = {
    Need.HEATING: N_("need.heating"),
    Need.FOOD: N_("need.food"),
    Need.HOUSING: N_("need.housing"),
    Need.TRANSPORT: N_("need.transport"),
    Need.WAGES: N_("need.wages"),
    Need.HEALTH: N_("need.health"),
}
TRANSPORT_LABELS: dict[Transport, str] = {
    Transport.TRAIN: N_("transport.train"),
    Transport.COACH: N_("transport.coach"),
    Transport.PLANE: N_("transport.plane"),
    Transport.CAR: N_("transport.car"),
    Transport.OTHER: N_("transport.other"),
}
# A ticked or unticked choice on a button, around its label.
TICK = {True: N_("ui.checked"), False: N_("ui.unchecked")}
LANGUAGE_NAMES: dict[str, str] = {
    "zh_Hans": N_("language.zh_Hans"),
    "zh_Hant": N_("language.zh_Hant"),
    "en": N_("language.en"),
}
ROLE_NAMES: dict[Role, str] = {
    Role.WORKER: N_("role.worker"),
    Role.CONTACT: N_("role.contact"),
    Role.TOWN_OFFICER: N_("role.town_officer"),
    Role.STAFF: N_("role.staff"),
    Role.ADMIN: N_("role.admin"),
    Role.FORMER: N_("role.former"),
}
# The channel a person uses: one name each, in the bot, the exports and the figures.
CHANNEL_LABELS: dict[str, str] = {
    TELEGRAM: N_("channel.telegram"),
    WEB: N_("channel.web"),
}
# What a broadcast carries.
KIND_LABELS: dict[ContentKind, str] = {
    ContentKind.TEXT: N_("broadcast.kind.text"),
    ContentKind.PHOTO: N_("broadcast.kind.photo"),
    ContentKind.DOCUMENT: N_("broadcast.kind.document"),
    ContentKind.LETTER: N_("broadcast.kind.letter"),
    ContentKind.EVENT: N_("broadcast.kind.event"),
    ContentKind.EVENT_REMINDER: N_("broadcast.kind.event_reminder"),
}
# A request described by a voice message, where its description is read as text (the card,
# the summary, /mydata, the export).
VOICE_LABEL = N_("request.voice")
# What a worker's request for help is about, and where it stands.
CATEGORY_LABELS: dict[Category, str] = {
    Category.WAGES: N_("request.category.wages"),
    Category.OVERTIME: N_("request.category.overtime"),
    Category.HEATING: N_("request.category.heating"),
    Category.FOOD: N_("request.category.food"),
    Category.HOUSING: N_("request.category.housing"),
    Category.TRANSPORT: N_("request.category.transport"),
    Category.HEALTH: N_("request.category.health"),
    Category.OTHER: N_("request.category.other"),
}
REQUEST_STATUS_LABELS: dict[Status, str] = {
    Status.OPEN: N_("request.status.open"),
    Status.ANSWERED: N_("request.status.answered"),
    Status.SOLVED: N_("request.status.solved"),
    Status.CLOSED: N_("request.status.closed"),
}
