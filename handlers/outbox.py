"""The one road out: writes what the program says to anyone but the person it answers.

Flows return `Tell` actions, which the engine writes here in the transaction of the change
that causes them; jobs and staff's broadcasts call `post` directly. Either way one row is
written (content, audience, purpose, when, who asked) with its one audit entry, and only
the sender (bot/sender.py) sends it: a rolled-back change sends nothing, a committed one is
sent even if the process dies right after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.actions import (
    Inline,
    Msg,
    Tell,
    inline_from_json,
    inline_to_json,
    text_from_json,
    text_to_json,
)
from models import audit, broadcasts
from models.broadcasts import Audience, Broadcast, BroadcastStatus, ContentKind, Purpose

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """A catalog message (and its inline keyboard), rendered in each reader's language."""

    text: Msg
    markup: Inline | None = None


@dataclass(frozen=True)
class StaffContent:
    """What a staff member wrote: text, a photo or a document (Telegram file id) with caption."""

    kind: ContentKind
    text: str | None
    file_id: str | None = None


@dataclass(frozen=True)
class Letter:
    """The campaign's open letter, in each reader's language."""


@dataclass(frozen=True)
class EventNotice:
    """An event's notice with its sign-up button, or (`reminder`) the reminder before it."""

    event_id: int
    reminder: bool = False


Content = Message | StaffContent | Letter | EventNotice


def _columns(content: Content) -> dict[str, Any]:
    if isinstance(content, Message):
        stored = {"text": text_to_json(content.text), "markup": inline_to_json(content.markup)}
        return {"content_kind": ContentKind.MESSAGE, "message": stored}
    if isinstance(content, StaffContent):
        return {"content_kind": content.kind, "text": content.text, "file_id": content.file_id}
    if isinstance(content, Letter):
        return {"content_kind": ContentKind.LETTER}
    kind = ContentKind.EVENT_REMINDER if content.reminder else ContentKind.EVENT
    return {"content_kind": kind, "event_id": content.event_id}


def message_of(broadcast: Broadcast) -> Message:
    """The catalog message a MESSAGE row carries."""
    stored = broadcast.message or {}
    text = text_from_json(stored.get("text"))
    assert isinstance(text, Msg)
    return Message(text, inline_from_json(stored.get("markup")))


async def post(
    session: AsyncSession,
    content: Content,
    audience: Audience,
    purpose: Purpose,
    now: datetime,
    *,
    send_at: datetime | None = None,
    daily_until: date | None = None,
    created_by: int | None = None,
    report_progress: bool = False,
    via: str = "bot",
    audited: bool = True,
    names: dict[str, str | None] | None = None,
    counted: int | None = None,
) -> Broadcast:
    """Write one outgoing message to the outbox, due at `send_at` (now by default), daily
    until `daily_until` if given, with its audit entry; the row written. `names` are the
    audience's town and enterprise names as staff chose them, kept for /notices; `counted`
    is the audience's size when the caller has just counted it."""
    when = send_at or now
    broadcast = await broadcasts.add(
        session,
        Broadcast(
            **_columns(content),
            purpose=purpose,
            audience={**audience.to_json(), **(names or {})},
            send_at=when,
            next_run_at=when,
            daily_until=daily_until,
            status=BroadcastStatus.SCHEDULED,
            created_by=created_by,
            report_progress=report_progress,
            created_at=now,
        ),
    )
    if audited:
        count = (
            counted if counted is not None else await broadcasts.count_audience(session, audience)
        )
        scope = {
            "broadcast": broadcast.id,
            "kind": broadcast.content_kind.value,
            "purpose": purpose.value,
            "audience": audience.to_json(),
            "send_at": when.isoformat(),
            "daily_until": daily_until.isoformat() if daily_until else None,
        }
        await audit.record(
            session, audit.Action.BROADCAST, now, actor_id=created_by, via=via, scope=scope,
            rows=count,
        )  # fmt: skip
    log.info("outbox %s: %s to %s", broadcast.id, purpose.value, audience.people or "audience")
    return broadcast


async def tell(session: AsyncSession, told: Tell, now: datetime, by: int | None) -> None:
    """Write a flow's `Tell` (to the people it names) to the outbox."""
    if not told.to:
        return
    await post(
        session,
        Message(told.text, told.markup),
        Audience(people=tuple(dict.fromkeys(told.to))),
        Purpose(told.purpose),
        now,
        created_by=by,
        audited=False,
    )
