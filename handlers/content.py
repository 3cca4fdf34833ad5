"""What recipients get: one rule for a flow's preview and for the sender that delivers it.

A broadcast's content, the open letter with its button, an event's notice, reminder and
sign-up button; the letter and a notice end with what a worker may do next (check in, ask
for help, the phone numbers), buttons that do what the commands do (handlers/flows/common.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions import (
    Action,
    Button,
    Inline,
    Msg,
    Param,
    Raw,
    SendDocument,
    SendPhoto,
    SendText,
)
from handlers.flow import Context, global_data
from models import broadcasts
from models.broadcasts import ContentKind
from models.events import Event


def content_text(text: str | None) -> Raw:
    """The message (or caption) of a broadcast, as every recipient gets it: the text as typed."""
    return Raw(text or "")


def content_action(kind: ContentKind, text: str | None, file_id: str | None) -> Action:
    """The broadcast as an action to the current chat (the preview)."""
    body = content_text(text)
    if kind is ContentKind.PHOTO and file_id:
        return SendPhoto(file_id, body if text else None)
    if kind is ContentKind.DOCUMENT and file_id:
        return SendDocument("", file_id, body if text else None)
    return SendText(body)


async def letter_body(session: AsyncSession, language: str) -> Msg | Raw:
    """The letter as readers of this language get it: staff's replacement, else the catalog's."""
    replaced = await broadcasts.letter_text(session, language)
    return Raw(replaced) if replaced is not None else Msg("letter.body")


def worker_rows() -> list[list[Button]]:
    """What a worker can do next, as buttons at the end of the letter and of event notices."""
    return [
        [
            Button(Msg("button.checkin"), global_data("cmd", "checkin")),
            Button(Msg("button.request"), global_data("cmd", "request")),
        ],
        [Button(Msg("button.phones"), global_data("phones"))],
    ]


def read_markup(broadcast_id: int, *, done: bool = False) -> Inline:
    """The buttons under every copy of the letter: "I have read it", then what to do next."""
    label = Msg("letter.read_done") if done else Msg("letter.read_button")
    return Inline.of([[Button(label, global_data("read", broadcast_id))], *worker_rows()])


async def letter_for(ctx: Context) -> list[Action]:
    """The letter, with its button, to the current chat (a new worker gets it at enrolment)."""
    campaign = await broadcasts.letter_broadcast(ctx.session)
    body = await letter_body(ctx.session, ctx.language)
    return [SendText(body, read_markup(campaign.id if campaign else 0))]


def details(title: str, starts_at: datetime, place: str, capacity: int | None, taken: int) -> Msg:
    """An event's what, when and where, and the places left."""
    seats: Param = (
        Msg("event.seats", capacity=capacity, left=max(capacity - taken, 0))
        if capacity is not None
        else Msg("event.no_limit")
    )
    return Msg("event.details", title=title, starts=starts_at, place=place, seats=seats)


def notice(title: str, starts_at: datetime, place: str, capacity: int | None, taken: int) -> Msg:
    """The event notice as recipients read it."""
    return Msg("event.notice", details=details(title, starts_at, place, capacity, taken))


def reminder(event: Event) -> Msg:
    """The reminder to those signed up."""
    return Msg("event.reminder", title=event.title, starts=event.starts_at, place=event.place)


def signup_markup(event_id: int) -> Inline:
    """The sign-up button under the notice, then what a worker may do next."""
    sign_up = Button(Msg("event.sign_up"), global_data("signup", event_id))
    return Inline.of([[sign_up], *worker_rows()])


def cancel_signup_markup(event_id: int) -> Inline:
    """The button under the notice once the person signed up: to take it back."""
    cancel = Button(Msg("event.cancel_sign_up"), global_data("unsignup", event_id))
    return Inline.of([[cancel], *worker_rows()])
