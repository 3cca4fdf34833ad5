"""The scheduled job that passes unanswered requests on from employers' contacts to staff.

Every few minutes it marks, in one transaction, each request a contact has left unanswered
longer than `requests.escalate_after_hours`, then tells staff (and the worker) through the
messenger. A request is marked before the messages go, so a crash in between never sends
them twice; the request is in staff's /requests all the same. As the next run will not send
them again, a "retry after" from Telegram is waited out and the message tried again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Catalogs
from bot.messenger import Markup, MessengerError, RetryAfter
from bot.render import markup_json, split_text
from handlers import helpdesk
from handlers.actions import SendText
from handlers.flow import FlowSettings

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)
JOB_ID = "requests:escalate"
EVERY_MINUTES = 5
# Telegram's waits are seconds, rarely minutes: wait this long at most, try this many times.
LONGEST_WAIT = 300.0
TRIES = 3

Sleep = Callable[[float], Awaitable[None]]


class TextSender(Protocol):
    """The one call of the messenger port the job needs."""

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        """Send an HTML message; returns its message id."""
        ...


async def escalate(
    sessions: async_sessionmaker[AsyncSession],
    messenger: TextSender,
    catalogs: Catalogs,
    settings: FlowSettings,
    clock: Callable[[], datetime],
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Escalate what is due now and send the messages; how many messages went."""
    async with sessions() as session, session.begin():
        messages = await helpdesk.escalate_due(session, clock(), settings)
    return await deliver(messenger, catalogs, messages, sleep)


async def deliver(
    messenger: TextSender,
    catalogs: Catalogs,
    messages: Sequence[SendText],
    sleep: Sleep = asyncio.sleep,
) -> int:
    """Send messages addressed to other chats, each in its reader's language."""
    sent = 0
    for message in messages:
        if message.chat_id is None:
            continue
        language = message.language or catalogs.default
        markup = markup_json(catalogs, language, message.markup)
        parts = split_text(catalogs.render(language, message.text))
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await _send(messenger, message.chat_id, part, markup if last else None, sleep)
        except RetryAfter as wait:
            log.warning("escalation message not delivered: still %.0f s to wait", wait.seconds)
            continue
        except MessengerError as error:
            log.info("escalation message not delivered: %s", type(error).__name__)
            continue
        sent += 1
    return sent


async def _send(
    messenger: TextSender, chat_id: int, text: str, markup: Markup | None, sleep: Sleep
) -> None:
    """One message; on "retry after" wait as Telegram says (within bounds), then again."""
    for attempt in range(1, TRIES + 1):
        try:
            await messenger.send_text(chat_id, text, markup)
            return
        except RetryAfter as wait:
            if attempt == TRIES:
                raise
            log.info("escalation waits %.0f s, as Telegram asks", wait.seconds)
            await sleep(min(max(wait.seconds, 0.0), LONGEST_WAIT))


async def escalate_requests() -> None:
    """The job (APScheduler keeps a reference to this module-level function)."""
    from bot import app, scheduler

    service = scheduler.running()
    if service is None:
        return
    running = service.app
    await escalate(
        running.sessions,
        service.messenger,
        running.catalogs,
        app.flow_settings(running.settings),
        running.clock,
    )


def schedule(background: Background) -> None:
    """Add the job to the started scheduler (once, whatever the restarts)."""
    background.scheduler.add_job(
        escalate_requests,
        IntervalTrigger(minutes=EVERY_MINUTES, timezone=background.settings.campaign.zone),
        id=JOB_ID,
        replace_existing=True,
    )
