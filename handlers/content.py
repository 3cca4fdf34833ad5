"""What recipients get: one rule for a flow's preview and for the sender that delivers it.

A broadcast's content, the open letter with its button, an event's notice, reminder and
sign-up button.
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


def read_markup(broadcast_id: int, *, done: bool = False) -> Inline:
    """The button under every copy of the letter."""
    label = Msg("letter.read_done") if done else Msg("letter.read_button")
    return Inline.of([[Button(label, global_data("read", broadcast_id))]])


async def letter_for(ctx: Context) -> list[Action]:
    """The letter, with its button, to the current chat (a new worker gets it at enrolment)."""
    campaign = await broadcasts.letter_broadcast(ctx.session)
    body = await letter_body(ctx.session, ctx.language)
    return [SendText(body, read_markup(campaign.id if campaign else 0))]


def notice(title: str, starts_at: datetime, place: str, capacity: int | None, taken: int) -> Msg:
    """The event notice as recipients read it."""
    seats: Param = (
        Msg("event.seats", capacity=capacity, left=max(capacity - taken, 0))
        if capacity is not None
        else Msg("event.no_limit")
    )
    return Msg("event.notice", title=title, starts=starts_at, place=place, seats=seats)


def reminder(event: Event) -> Msg:
    """The reminder to those signed up."""
    return Msg("event.reminder", title=event.title, starts=event.starts_at, place=event.place)


def signup_markup(event_id: int) -> Inline:
    """The sign-up button under the notice."""
    return Inline.of([[Button(Msg("event.sign_up"), global_data("signup", event_id))]])
