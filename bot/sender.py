"""The broadcast sender: drains pending deliveries under Telegram's limits, losing nothing.

It sends at most `rate_per_second` messages in any one-second window and at most one per
`per_chat_seconds` to a chat; "retry after N" pauses all sending for N seconds; a person who
blocked the bot gets one attempt and is marked inactive; network and server errors retry
with backoff up to `max_attempts`. Outcomes are written back in small batches, so a crash
repeats at most the sends whose outcome was not yet written. Exactly one process runs it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import BroadcastSettings
from bot.i18n import Catalogs
from bot.messenger import (
    Blocked,
    ChatNotFound,
    Markup,
    Messenger,
    MessengerError,
    Rejected,
    RetryAfter,
    Transient,
)
from bot.render import markup_json
from handlers import content as letter
from handlers.actions import N_, Msg
from handlers.content import content_text, notice, reminder, signup_markup
from models import broadcasts, events
from models.broadcasts import (
    Broadcast,
    ContentKind,
    DeliveryStatus,
    Due,
    Outcome,
    message_parts,
)
from models.people import Person

log = logging.getLogger(__name__)
BATCH = 500
FLUSH_SECONDS = 0.05
FLUSH_SIZE = 200
IDLE_SECONDS = 1.0
MAX_IN_FLIGHT = 128
# Sends are spaced for this share of the cap, so that network jitter cannot push what
# Telegram counts in a second over the cap; the window is the hard limit behind it.
PACE = 0.97
# Slots a late send may make up at once. Bursts after a pause arrive bunched: with 20, the
# server counted up to 998 in a second while the sender's own count held at 970
# (bench/broadcast.py); with 5, 976.
CATCH_UP = 5
# Chats sent to in the last second are all the per-chat spacing needs to remember.
CHATS_REMEMBERED = 5_000
LONGEST_BACKOFF = timedelta(minutes=5)


class RateWindow:
    """At most `rate` events in any one-second window: the cap is never exceeded."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = max(1, int(rate))
        self.clock = clock
        self._times: deque[float] = deque()
        self.busiest = 0  # the most events seen in one second, for the benchmark

    def delay(self) -> float:
        """Seconds to wait before the next event may go (0: now)."""
        now = self.clock()
        while self._times and now - self._times[0] >= 1.0:
            self._times.popleft()
        if len(self._times) < self.capacity:
            return 0.0
        return 1.0 - (now - self._times[0])

    def take(self) -> None:
        """Count one event now."""
        now = self.clock()
        while self._times and now - self._times[0] >= 1.0:
            self._times.popleft()
        self._times.append(now)
        self.busiest = max(self.busiest, len(self._times))


@dataclass(frozen=True)
class Content:
    """One broadcast's message, rendered for one language."""

    kind: ContentKind
    text: str
    file_id: str | None
    markup: Markup | None


class Sender:
    """Drains pending deliveries until stopped."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        messenger: Messenger,
        catalogs: Catalogs,
        settings: BroadcastSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.sessions = sessions
        self.messenger = messenger
        self.catalogs = catalogs
        self.settings = settings
        self.clock = clock
        self.window = RateWindow(settings.rate_per_second)
        self._spacing = 1.0 / (settings.rate_per_second * PACE)
        self._next_send = 0.0
        self._wake = asyncio.Event()
        self._stopping = False
        self._paused_until = 0.0
        self._last_to_chat: dict[int, float] = {}
        self._in_hand: set[int] = set()
        self._outcomes: list[Outcome] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._gate = asyncio.Lock()
        self._contents: dict[tuple[int, str], asyncio.Future[Content]] = {}
        self.sent = 0

    def wake(self) -> None:
        """New deliveries were enqueued: look now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        """Send until stop() is called."""
        flusher = asyncio.create_task(self._flush_regularly())
        reporter = asyncio.create_task(self._report_regularly())
        try:
            cursor = 0
            while not self._stopping:
                async with self.sessions() as session:
                    batch = await broadcasts.due_deliveries(session, self.clock(), cursor, BATCH)
                batch = [due for due in batch if due.id not in self._in_hand]
                if not batch:
                    if cursor == 0:
                        await self._idle()
                    cursor = 0  # a new sweep picks up retries that have come due
                    continue
                cursor = batch[-1].id
                for due in batch:
                    if self._stopping:
                        break
                    await self._send_paced(due)
        finally:
            await self._drain()
            flusher.cancel()
            reporter.cancel()
            await self.flush()

    async def stop(self) -> None:
        """Finish the sends in flight, write their outcomes, and return."""
        self._stopping = True
        self._wake.set()

    async def _idle(self) -> None:
        self._wake.clear()
        await self.flush()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    # Pacing -----------------------------------------------------------------------------

    async def _send_paced(self, due: Due) -> None:
        now = time.monotonic()
        last = self._last_to_chat.get(due.chat_id)
        if last is not None and now - last < self.settings.per_chat_seconds:
            wait = self.settings.per_chat_seconds - (now - last)
            self._defer(due, timedelta(seconds=wait), error=None)
            return
        await self._slots.acquire()
        self._in_hand.add(due.id)
        self._last_to_chat[due.chat_id] = time.monotonic()
        if len(self._last_to_chat) > CHATS_REMEMBERED:
            self._forget_old_chats()
        task = asyncio.create_task(self._send(due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)
        log.warning("Telegram asked to wait %.0f s; sending paused", seconds)

    async def _wait_for_slot(self) -> None:
        # One send at a time waits for the next slot, the rest queue on the gate: when all the
        # sends in flight watched the clock, every slot woke them all for one of them to go.
        async with self._gate:
            while True:
                now = time.monotonic()
                pause = self._paused_until - now
                if pause > 0:
                    await asyncio.sleep(pause)
                    continue
                wait = max(self._next_send - now, self.window.delay())
                if wait <= 0:
                    # Evenly spaced, catching up at most a few slots after a slow moment: a
                    # burst would arrive bunched and could pass the cap in Telegram's count.
                    self._next_send = max(self._next_send, now - CATCH_UP * self._spacing)
                    self._next_send += self._spacing
                    return
                await asyncio.sleep(wait)

    def _forget_old_chats(self) -> None:
        horizon = time.monotonic() - max(self.settings.per_chat_seconds, 1.0)
        self._last_to_chat = {c: t for c, t in self._last_to_chat.items() if t >= horizon}

    # One send ------------------------------------------------------------------------------

    async def _send(self, due: Due) -> None:
        try:
            content = await self._content(due.run_id, due.language)
            # The slot is taken right before the request leaves, with no await in between,
            # so the cap holds for what Telegram receives, not only for what was planned.
            await self._wait_for_slot()
            self.window.take()
            await self._deliver(due.chat_id, content)
        except RetryAfter as wait:
            # Everything waits, and this person is tried again after the pause.
            self._pause(wait.seconds)
            self._defer(due, timedelta(seconds=wait.seconds), error=None)
        except (Blocked, ChatNotFound) as error:
            self._settle(due, DeliveryStatus.BLOCKED, str(error) or type(error).__name__)
        except Transient as error:
            attempts = due.attempts + 1
            if attempts >= self.settings.max_attempts:
                self._settle(due, DeliveryStatus.FAILED, f"after {attempts} attempts: {error}")
            else:
                backoff = min(timedelta(seconds=2**attempts), LONGEST_BACKOFF)
                self._defer(due, backoff, error=str(error), attempts=attempts)
        except (Rejected, MessengerError) as error:
            self._settle(due, DeliveryStatus.FAILED, str(error) or type(error).__name__)
        except Exception as error:
            log.exception("delivery %s failed", due.id)
            self._settle(due, DeliveryStatus.FAILED, type(error).__name__)
        else:
            self.sent += 1
            self._settle(due, DeliveryStatus.SENT, None)
        finally:
            self._slots.release()

    async def _deliver(self, chat_id: int, content: Content) -> None:
        if content.kind is ContentKind.PHOTO and content.file_id:
            await self.messenger.send_photo(chat_id, content.file_id, content.text, content.markup)
        elif content.kind is ContentKind.DOCUMENT and content.file_id:
            await self.messenger.send_stored_document(
                chat_id, content.file_id, content.text, content.markup
            )
        else:
            await self.messenger.send_text(chat_id, content.text, content.markup)

    def _settle(self, due: Due, status: DeliveryStatus, error: str | None) -> None:
        now = self.clock()
        sent_at = now if status is DeliveryStatus.SENT else None
        attempts = due.attempts + 1
        self._outcomes.append(
            Outcome(due.id, due.person_id, status, attempts, now, sent_at=sent_at, error=error)
        )

    def _defer(
        self, due: Due, wait: timedelta, *, error: str | None, attempts: int | None = None
    ) -> None:
        self._in_hand.add(due.id)
        self._outcomes.append(
            Outcome(
                due.id,
                due.person_id,
                DeliveryStatus.PENDING,
                due.attempts if attempts is None else attempts,
                self.clock() + wait,
                error=error,
            )
        )

    # Writing outcomes back ---------------------------------------------------------------

    async def _flush_regularly(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
            except Exception:
                log.exception("could not write delivery outcomes; will try again")

    async def flush(self) -> None:
        """Write the outcomes gathered so far in one transaction."""
        if not self._outcomes:
            return
        batch, self._outcomes = self._outcomes, []
        try:
            async with self.sessions() as session, session.begin():
                await broadcasts.record(session, batch)
        except BaseException:
            self._outcomes[:0] = batch
            raise
        for outcome in batch:
            self._in_hand.discard(outcome.delivery_id)

    # Progress for the staff member who sent it -------------------------------------------

    async def _report_regularly(self) -> None:
        while True:
            await asyncio.sleep(self.settings.progress_seconds)
            try:
                await self.report()
            except Exception:
                log.exception("could not report broadcast progress")

    async def report(self) -> None:
        """Update each unfinished run's progress message; close the runs with nothing pending.

        The messages go out after the transaction: a messenger may write to the database
        itself (the web channel's does), and SQLite has one connection.
        """
        due: list[tuple[int, int, int | None, str, str | None]] = []
        async with self.sessions() as session, session.begin():
            for run in await broadcasts.unfinished_runs(session):
                figures = await broadcasts.run_figures(session, run.id)
                finished = figures[DeliveryStatus.PENDING] == 0
                if finished:
                    await broadcasts.finish_run(session, run.id, self.clock())
                broadcast = await broadcasts.get(session, run.broadcast_id)
                if broadcast is None or broadcast.notify_chat_id is None:
                    continue
                language = await person_language(
                    session, broadcast.created_by, self.catalogs.default
                )
                text = self.catalogs.render(
                    language, progress_message(run.total, figures, finished)
                )
                final = (
                    self.catalogs.render(language, final_message(broadcast.id, figures))
                    if finished
                    else None
                )
                due.append((run.id, broadcast.notify_chat_id, run.progress_message_id, text, final))
        shown: dict[int, int] = {}
        for run_id, chat, progress_id, text, final in due:
            try:
                if progress_id is None:
                    shown[run_id] = await self.messenger.send_text(chat, text)
                else:
                    await self.messenger.edit_text(chat, progress_id, text)
                if final is not None:
                    await self.messenger.send_text(chat, final)
            except RetryAfter as wait:
                # Telegram's limits are per bot: the broadcast waits too.
                self._pause(wait.seconds)
            except MessengerError as error:
                log.info("progress of run %s not shown: %s", run_id, type(error).__name__)
        if shown:
            async with self.sessions() as session, session.begin():
                for run_id, message_id in shown.items():
                    await broadcasts.set_progress_message(session, run_id, message_id)

    # Content -------------------------------------------------------------------------------

    async def _content(self, run_id: int, language: str) -> Content:
        # One lookup per run and language, however many sends start at once.
        key = (run_id, language)
        found = self._contents.get(key)
        if found is None:
            found = self._contents[key] = asyncio.ensure_future(
                self._load_content(run_id, language)
            )
        try:
            return await asyncio.shield(found)
        except Exception:
            self._contents.pop(key, None)
            raise

    async def _load_content(self, run_id: int, language: str) -> Content:
        async with self.sessions() as session:
            run = await broadcasts.get_run(session, run_id)
            broadcast = await broadcasts.get(session, run.broadcast_id) if run else None
            if broadcast is None:
                raise Rejected(f"run {run_id} has no broadcast")
            return await render_content(session, self.catalogs, broadcast, language)


async def render_content(
    session: AsyncSession, catalogs: Catalogs, broadcast: Broadcast, language: str
) -> Content:
    """A broadcast's message as its readers in one language get it."""
    if broadcast.content_kind is ContentKind.LETTER:
        body = await letter.letter_body(session, language)
        markup = markup_json(catalogs, language, letter.read_markup(broadcast.id))
        return Content(ContentKind.TEXT, catalogs.render(language, body), None, markup)
    if broadcast.content_kind in (ContentKind.EVENT, ContentKind.EVENT_REMINDER):
        event = await events.get(session, broadcast.event_id) if broadcast.event_id else None
        if event is None:
            raise Rejected(f"broadcast {broadcast.id} has no event")
        if broadcast.content_kind is ContentKind.EVENT_REMINDER:
            return Content(ContentKind.TEXT, catalogs.render(language, reminder(event)), None, None)
        taken = await events.signups(session, event.id)
        message = notice(event.title, event.starts_at, event.place, event.capacity, taken)
        markup = markup_json(catalogs, language, signup_markup(event.id))
        return Content(ContentKind.TEXT, catalogs.render(language, message), None, markup)
    if broadcast.content_kind is ContentKind.MESSAGE:
        key, params = message_parts(broadcast.text or "")
        return Content(ContentKind.TEXT, catalogs.render(language, Msg(key, **params)), None, None)
    text = catalogs.render(language, content_text(broadcast.text))
    return Content(broadcast.content_kind, text, broadcast.file_id, None)


def progress_message(total: int, figures: dict[DeliveryStatus, int], finished: bool) -> Msg:
    """The staff member's progress line for one run."""
    key = N_("broadcast.progress_done") if finished else N_("broadcast.progress")
    return Msg(
        key,
        total=total,
        sent=figures[DeliveryStatus.SENT],
        blocked=figures[DeliveryStatus.BLOCKED],
        failed=figures[DeliveryStatus.FAILED],
        pending=figures[DeliveryStatus.PENDING],
    )


def final_message(broadcast_id: int, figures: dict[DeliveryStatus, int]) -> Msg:
    """The final report once every delivery of a run is settled."""
    return Msg(
        "broadcast.final_report",
        number=broadcast_id,
        sent=figures[DeliveryStatus.SENT],
        blocked=figures[DeliveryStatus.BLOCKED],
        failed=figures[DeliveryStatus.FAILED],
    )


async def person_language(session: AsyncSession, person_id: int | None, default: str) -> str:
    """The language a staff member reads their progress reports in."""
    if person_id is None:
        return default
    person = await session.get(Person, person_id)
    return person.language if person is not None else default
