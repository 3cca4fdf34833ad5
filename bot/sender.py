"""The sender: the only code that sends to anyone but the person an update came from.

Each pass it enqueues the outbox's messages that are due (models/broadcasts.py: one
delivery per recipient person) and drains pending deliveries, each to the person's channel
(a messenger per channel, looked up when it sends), under Telegram's limits: at most
`rate_per_second` messages in any window a little longer than a second (so that Telegram's
own count, a few milliseconds off ours, stays under the cap too) and at most one per
`per_chat_seconds` to a chat; "retry after N" pauses everything, progress reports included,
for N seconds; a person who blocked the bot gets one attempt and is marked inactive; network
and server errors retry with backoff up to `max_attempts`. Outcomes are written back in
small batches, so a crash repeats at most the sends whose outcome was not yet written.
Exactly one process runs it.

The database going away stops none of it: the loop, the flusher and the reporter log the
outage once and try again with backoff (bot/resilience.py), outcomes wait in memory, and
pending deliveries go out once it answers again. `stalled_for` tells /healthz how long ago
the sender last got through to the database.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import BroadcastSettings, RetrySettings
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
from bot.render import markup_json, split_text
from bot.resilience import Outage, unavailable
from handlers.actions import N_, Msg
from handlers.channels import delivered
from handlers.content import content_text, letter_body, notice, read_markup, reminder, signup_markup
from handlers.engine import KeyedLocks
from handlers.outbox import message_of
from models import broadcasts, events
from models.broadcasts import Broadcast, ContentKind, DeliveryStatus, Due, Figures, Outcome
from models.people import Person

log = logging.getLogger(__name__)
BATCH = 500
FLUSH_SECONDS = 0.05
FLUSH_SIZE = 200
IDLE_SECONDS = 1.0
TURN_MARGIN = 0.01
MAX_IN_FLIGHT = 128
# Sends are spaced evenly at a little under the cap; the window is the hard limit behind it.
PACE = 0.98
# Slots a late send may make up at once after a slow moment: a burst would arrive bunched.
CATCH_UP = 3
# Broadcasts enqueued in one pass at most (each is one INSERT ... SELECT).
ENQUEUE_BATCH = 20
# Chats sent to in the last second are all the per-chat spacing needs to remember.
CHATS_REMEMBERED = 5_000
LONGEST_BACKOFF = timedelta(minutes=5)


class RateWindow:
    """At most `rate` requests in any second of the receiver's clock, whatever the network.

    A request reaches the receiver at some moment between leaving and being answered, so
    it holds its place in the window from the moment it leaves until a second after its
    answer. Then no second of arrivals can hold more than `rate`: when the last of them
    left, every other one had left before it and been answered less than a second before
    (or not yet), and so still held its place.
    """

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, span: float = 1.0
    ) -> None:
        self.capacity = max(1, int(rate))
        self.clock = clock
        self.span = span
        self._in_flight = 0
        # When each answered request was answered, in order: answers come in time order.
        self._answered: deque[float] = deque()
        self.busiest = 0  # the most places held at once, for the benchmark

    def _held(self, now: float) -> int:
        while self._answered and now - self._answered[0] >= self.span:
            self._answered.popleft()
        return self._in_flight + len(self._answered)

    def delay(self) -> float:
        """Seconds to wait before the next request may leave (0: now)."""
        now = self.clock()
        if self._held(now) < self.capacity:
            return 0.0
        if not self._answered:
            return self.span  # all in flight: a place frees a second after an answer
        return self.span - (now - self._answered[0])

    def take(self) -> None:
        """A request leaves now: it holds a place until a second after `answered()`."""
        self._in_flight += 1
        self.busiest = max(self.busiest, self._held(self.clock()))

    def answered(self) -> None:
        """A request taken earlier was answered (or failed) now."""
        self._in_flight -= 1
        self._answered.append(self.clock())

    @contextmanager
    def request(self) -> Iterator[None]:
        """Hold a place for the request made inside the block: taken, then answered."""
        self.take()
        try:
            yield
        finally:
            self.answered()


@dataclass(frozen=True)
class Content:
    """One outgoing message, rendered for one language."""

    kind: ContentKind
    text: str
    file_id: str | None
    markup: Markup | None


@dataclass(frozen=True)
class Schedule:
    """When outgoing messages fall due: the campaign's zone (daily ones keep its local time)
    and how late a run may still go out after a time when no sender ran."""

    zone: ZoneInfo
    grace_seconds: float


class Sender:
    """Enqueues what is due and drains pending deliveries until stopped."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        messengers: Mapping[str, Messenger],
        catalogs: Catalogs,
        settings: BroadcastSettings,
        clock: Callable[[], datetime],
        schedule: Schedule,
        *,
        retry: RetrySettings | None = None,
    ) -> None:
        self.sessions = sessions
        self.messengers = dict(messengers)
        self.catalogs = catalogs
        self.settings = settings
        self.clock = clock
        self.schedule = schedule
        self.window = RateWindow(settings.rate_per_second)
        self._spacing = 1.0 / (settings.rate_per_second * PACE)
        self._next_send = 0.0
        self._wake = asyncio.Event()
        self._stopping = False
        self._paused_until = 0.0
        # When a message to each chat was last taken in hand, and when one last left: the
        # first keeps a backlog for one chat in the database, the second spaces what leaves.
        self._last_to_chat: dict[tuple[str, int], float] = {}
        self._left_to_chat: dict[tuple[str, int], float] = {}
        self._chat_locks = KeyedLocks()
        # When the last delivery put off for a chat (by the chat's spacing) comes round, and
        # the deliveries put off so and not sent yet (by id), which keep their place.
        self._chat_queue: dict[tuple[str, int], float] = {}
        self._queued: set[int] = set()
        # When deliveries put off by this process come due (time.monotonic(), a heap): an
        # idle sender wakes for the first rather than a whole idle tick later.
        self._turns: list[float] = []
        self._in_hand: set[int] = set()
        # Deliveries whose outcome was written while a sweep's query ran: its snapshot may
        # still show them pending, and they must not go twice.
        self._just_written: set[int] = set()
        self._outcomes: list[Outcome] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._gate = asyncio.Lock()
        self._contents: dict[tuple[int, str], asyncio.Future[Content]] = {}
        self.sent = 0
        self.retry = retry or RetrySettings()
        self._flush_outage = Outage("the broadcast sender writing outcomes", self.retry, log)
        # When the sender last got through to the database (time.monotonic()), for /healthz.
        self.last_pass = time.monotonic()
        self.running = False

    def wake(self) -> None:
        """New deliveries were enqueued: look now rather than at the next idle tick."""
        self._wake.set()

    async def run(self) -> None:
        """Send until stop() is called."""
        flusher = asyncio.create_task(self._flush_regularly())
        reporter = asyncio.create_task(self._report_regularly())
        outage = Outage("the broadcast sender", self.retry, log)
        self.running = True
        try:
            cursor = 0
            while not self._stopping:
                try:
                    if cursor == 0:
                        await self.enqueue_due()
                    self._just_written.clear()
                    async with self.sessions() as session:
                        batch = await broadcasts.due_deliveries(
                            session, self.clock(), cursor, BATCH
                        )
                except Exception as error:
                    self._wake.clear()
                    await self._rest(outage.failed(error))
                    continue
                outage.succeeded()
                self.last_pass = time.monotonic()
                taken = self._in_hand | self._just_written
                batch = [due for due in batch if due.id not in taken]
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
            if await self._flush_guarded() is not None:
                log.warning(
                    "%d delivery outcomes could not be written: those sends may repeat after a "
                    "restart",
                    len(self._outcomes),
                )
            self.running = False

    async def enqueue_due(self) -> int:
        """Write the deliveries of every outgoing message that is due; how many runs."""
        enqueued = 0
        while True:
            async with self.sessions() as session, session.begin():
                runs = await broadcasts.enqueue_due(
                    session,
                    self.clock(),
                    self.schedule.grace_seconds,
                    self.schedule.zone,
                    ENQUEUE_BATCH,
                )
            for run in runs:
                log.info("broadcast %s: %d deliveries enqueued", run.broadcast_id, run.total)
            enqueued += len(runs)
            if len(runs) < ENQUEUE_BATCH:
                return enqueued

    async def stop(self) -> None:
        """Finish the sends in flight, write their outcomes, and return."""
        self._stopping = True
        self._wake.set()

    async def _idle(self) -> None:
        self._wake.clear()
        await self._flush_guarded()
        now = time.monotonic()
        while self._turns and self._turns[0] <= now:
            heapq.heappop(self._turns)
        # A little past the turn, so that the row written with it is due by then.
        first = self._turns[0] - now + TURN_MARGIN if self._turns else IDLE_SECONDS
        await self._rest(min(IDLE_SECONDS, first))

    async def _rest(self, seconds: float) -> None:
        """Wait `seconds`, or less if woken (new deliveries) or stopped."""
        if self._stopping:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def stalled_for(self) -> float:
        """Seconds since the sender last got through to the database (0 during a pause
        Telegram asked for, which is waiting, not being stuck)."""
        now = time.monotonic()
        return max(0.0, now - max(self.last_pass, min(self._paused_until, now)))

    async def _drain(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    # Pacing -----------------------------------------------------------------------------

    async def _send_paced(self, due: Due) -> None:
        if due.chat_id is None:
            # Blocked, erased or gone since the run was enqueued: nobody to send to.
            self._settle(due, DeliveryStatus.BLOCKED, "unreachable")
            return
        chat = (due.channel, due.chat_id)
        wait = self._chat_wait(chat)
        if wait > 0:
            if due.id in self._queued:
                # Its turn has come and the chat is busy a moment longer: it waits here, in
                # hand, rather than being written back again.
                self._in_hand.add(due.id)
                self._start(self._send_in(wait, due))
            else:
                self._queued.add(due.id)
                self._defer(due, timedelta(seconds=self._queue_for_chat(chat, wait)), error=None)
            return
        self._queued.discard(due.id)
        await self._slots.acquire()
        self._in_hand.add(due.id)
        self._last_to_chat[chat] = time.monotonic()
        if len(self._last_to_chat) > CHATS_REMEMBERED:
            self._forget_old_chats()
        self._start(self._send(due))

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_in(self, seconds: float, due: Due) -> None:
        await asyncio.sleep(seconds)
        if not self._stopping:  # else it stays pending for the next start
            await self._send_paced(due)

    def _chat_wait(self, chat: tuple[str, int]) -> float:
        """Seconds until the chat may get its next message (0: now)."""
        last = self._last_to_chat.get(chat)
        if last is None:
            return 0.0
        return max(0.0, self.settings.per_chat_seconds - (time.monotonic() - last))

    def _queue_for_chat(self, chat: tuple[str, int], wait: float) -> float:
        """Seconds a delivery to a busy chat is put off: behind the others put off for it,
        a spacing apart. A backlog to one chat (a burst of requests to one staff member) is
        then written once per delivery, not again on every pass until its turn."""
        now = time.monotonic()
        last = self._chat_queue.get(chat, 0.0)
        turn = max(now + wait, last + self.settings.per_chat_seconds)
        self._chat_queue[chat] = turn
        if len(self._chat_queue) > CHATS_REMEMBERED:
            self._forget_old_chats()
        return turn - now

    @asynccontextmanager
    async def _gated(self, chat: tuple[str, int]) -> AsyncIterator[None]:
        """Wait until one more message to the chat is a spacing after the last one that left,
        then for the pause and the cap; the request made inside is counted and leaves alone
        (another to the same chat waits for it)."""
        async with self._chat_locks.hold(chat):
            left = self._left_to_chat.get(chat)
            if left is not None:
                await asyncio.sleep(self.settings.per_chat_seconds - (time.monotonic() - left))
            # The place in the window is taken right before the request leaves, with no
            # await in between, so the cap holds for what Telegram receives.
            await self._wait_for_slot()
            with self.window.request():
                now = time.monotonic()
                self._left_to_chat[chat] = now
                self._last_to_chat[chat] = max(now, self._last_to_chat.get(chat, now))
                yield

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
        self._left_to_chat = {c: t for c, t in self._left_to_chat.items() if t >= horizon}
        now = time.monotonic()
        self._chat_queue = {c: t for c, t in self._chat_queue.items() if t >= now}
        if not self._chat_queue:
            self._queued.clear()  # nobody waits for a turn: ids left are of cancelled runs

    # One send ------------------------------------------------------------------------------

    async def _send(self, due: Due) -> None:
        try:
            messenger = self.messengers.get(due.channel)
            if messenger is None or due.chat_id is None:
                raise Rejected(f"no way to reach channel {due.channel!r}")
            content = await self._content(due.run_id, due.language)
            message_id = await self._deliver(messenger, (due.channel, due.chat_id), content)
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
            if unavailable(error):
                # The database, not the delivery, failed (its content could not be read): it
                # stays pending and goes when the database answers again.
                self._defer(due, timedelta(seconds=self.retry.first_seconds), error=None)
                return
            log.exception("delivery %s failed", due.id)
            self._settle(due, DeliveryStatus.FAILED, type(error).__name__)
        else:
            self.sent += 1
            self._settle(due, DeliveryStatus.SENT, None, message_id)
        finally:
            self._slots.release()

    async def _deliver(self, messenger: Messenger, chat: tuple[str, int], content: Content) -> int:
        """Send the content; the id of the (last) message it became in the chat."""
        chat_id = chat[1]
        if content.kind is ContentKind.PHOTO and content.file_id:
            async with self._gated(chat):
                return await messenger.send_photo(
                    chat_id, content.file_id, content.text, content.markup
                )
        if content.kind is ContentKind.DOCUMENT and content.file_id:
            async with self._gated(chat):
                return await messenger.send_stored_document(
                    chat_id, content.file_id, content.text, content.markup
                )
        # A long text (the digest of many towns) goes as several messages, the keys under
        # the last; each passes the gate.
        parts = split_text(content.text)
        message_id = 0
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            async with self._gated(chat):
                markup = content.markup if last else None
                message_id = await messenger.send_text(chat_id, part, markup)
        return message_id

    def _settle(
        self, due: Due, status: DeliveryStatus, error: str | None, message_id: int | None = None
    ) -> None:
        now = self.clock()
        sent_at = now if status is DeliveryStatus.SENT else None
        attempts = due.attempts + 1
        self._outcomes.append(
            Outcome(
                due.id,
                due.person_id,
                status,
                attempts,
                now,
                sent_at=sent_at,
                error=error,
                message_id=message_id,
                channel=due.channel,
            )
        )

    def _defer(
        self, due: Due, wait: timedelta, *, error: str | None, attempts: int | None = None
    ) -> None:
        self._in_hand.add(due.id)
        heapq.heappush(self._turns, time.monotonic() + wait.total_seconds())
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
            wait = await self._flush_guarded()
            await asyncio.sleep(FLUSH_SECONDS if wait is None else wait)

    async def _flush_guarded(self) -> float | None:
        """flush(); if it failed, the wait before the next try (the outage is logged once)."""
        if not self._outcomes:
            return None  # nothing written, so nothing learnt of the database either
        try:
            await self.flush()
        except Exception as error:
            return self._flush_outage.failed(error)
        self._flush_outage.succeeded()
        return None

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
            self._just_written.add(outcome.delivery_id)
        self.last_pass = time.monotonic()

    # Progress for the staff member who sent it -------------------------------------------

    async def _report_regularly(self) -> None:
        outage = Outage("the broadcast progress reports", self.retry, log)
        wait = self.settings.progress_seconds
        while True:
            await asyncio.sleep(wait)
            try:
                await self.report()
            except Exception as error:
                wait = max(outage.failed(error), self.settings.progress_seconds)
                continue
            outage.succeeded()
            wait = self.settings.progress_seconds

    async def report(self) -> None:
        """Update each unfinished run's progress message; close the runs with nothing pending.

        The messages go out after the transaction: a messenger may write to the database
        itself (the web channel's does), and SQLite has one connection.
        """
        due: list[tuple[int, Messenger, tuple[str, int], int | None, str, str | None]] = []
        async with self.sessions() as session, session.begin():
            for run in await broadcasts.unfinished_runs(session):
                figures = await broadcasts.run_figures(session, run.id)
                finished = figures[DeliveryStatus.PENDING] == 0
                if finished:
                    await broadcasts.finish_run(session, run.id, self.clock())
                    self._forget_content(run.id)
                broadcast = await broadcasts.get(session, run.broadcast_id)
                if broadcast is None or not broadcast.report_progress:
                    continue
                reader = await session.get(Person, broadcast.created_by or -1)
                messenger = self.messengers.get(reader.channel) if reader else None
                if reader is None or reader.chat_id is None or messenger is None:
                    continue
                render = self.catalogs.render
                text = render(reader.language, progress_message(run.total, figures, finished))
                final = (
                    render(reader.language, final_message(broadcast.id, figures))
                    if finished
                    else None
                )
                chat = (reader.channel, reader.chat_id)
                due.append((run.id, messenger, chat, run.progress_message_id, text, final))
        shown: dict[int, int] = {}
        for run_id, messenger, chat, progress_id, text, final in due:
            try:
                async with self._gated(chat):
                    if progress_id is None:
                        shown[run_id] = await messenger.send_text(chat[1], text)
                    else:
                        await messenger.edit_text(chat[1], progress_id, text)
                if final is not None:
                    async with self._gated(chat):
                        await messenger.send_text(chat[1], final)
            except RetryAfter as wait:
                # Telegram's limits are per bot: the broadcast waits too.
                self._pause(wait.seconds)
            except MessengerError as error:
                log.info("progress of run %s not shown: %s", run_id, type(error).__name__)
        if shown:
            async with self.sessions() as session, session.begin():
                for run_id, message_id in shown.items():
                    await broadcasts.set_progress_message(session, run_id, message_id)

    def _forget_content(self, run_id: int) -> None:
        for key in [k for k in self._contents if k[0] == run_id]:
            del self._contents[key]

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
        body = await letter_body(session, language)
        markup = markup_json(catalogs, language, read_markup(broadcast.id))
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
        stored = message_of(broadcast)
        markup = markup_json(catalogs, language, stored.markup)
        return Content(ContentKind.TEXT, catalogs.render(language, stored.text), None, markup)
    text = catalogs.render(language, content_text(broadcast.text))
    return Content(broadcast.content_kind, text, broadcast.file_id, None)


def progress_message(total: int, figures: Figures, finished: bool) -> Msg:
    """The staff member's progress line for one run, each figure split by channel."""
    key = N_("broadcast.progress_done") if finished else N_("broadcast.progress")
    return Msg(
        key,
        total=total,
        sent=delivered(figures, DeliveryStatus.SENT),
        blocked=delivered(figures, DeliveryStatus.BLOCKED),
        failed=delivered(figures, DeliveryStatus.FAILED),
        pending=figures[DeliveryStatus.PENDING],
    )


def final_message(broadcast_id: int, figures: Figures) -> Msg:
    """The final report once every delivery of a run is settled, split by channel."""
    return Msg(
        "broadcast.final_report",
        number=broadcast_id,
        sent=delivered(figures, DeliveryStatus.SENT),
        blocked=delivered(figures, DeliveryStatus.BLOCKED),
        failed=delivered(figures, DeliveryStatus.FAILED),
    )
