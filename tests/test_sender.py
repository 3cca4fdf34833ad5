"""The broadcast sender against an in-process messenger: limits, pauses, blocks, retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import BroadcastSettings
from bot.messenger import Blocked, Markup, Messenger, RetryAfter, Transient
from bot.sender import RateWindow, Schedule, Sender
from handlers.outbox import StaffContent, post
from models import broadcasts
from models.broadcasts import (
    Audience,
    Broadcast,
    BroadcastStatus,
    ContentKind,
    Delivery,
    DeliveryStatus,
    Due,
    Purpose,
)
from models.people import Person, Role
from tests.harness import ZONE, Kit, catalogs


class ScriptedMessenger:
    """Records sends; answers chats with scripted failures."""

    def __init__(
        self,
        blocked: Iterable[int] = (),
        retry_after: dict[int, float] | None = None,
        flaky: dict[int, int] | None = None,
    ) -> None:
        self.blocked = set(blocked)
        self.retry_after = dict(retry_after or {})
        self.flaky = dict(flaky or {})
        self.sends: list[tuple[float, int]] = []
        self.attempts: dict[int, int] = {}
        self.pauses: list[tuple[float, float]] = []

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        now = time.monotonic()
        self.attempts[chat_id] = self.attempts.get(chat_id, 0) + 1
        if chat_id in self.blocked:
            raise Blocked("Forbidden: bot was blocked by the user")
        seconds = self.retry_after.pop(chat_id, None)
        if seconds is not None:
            self.pauses.append((now, now + seconds))
            raise RetryAfter(seconds)
        if self.flaky.get(chat_id, 0) > 0:
            self.flaky[chat_id] -= 1
            raise Transient("502 Bad Gateway")
        self.sends.append((now, chat_id))
        return len(self.sends)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        return None

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        return None

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        return None

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        return await self.send_text(chat_id, caption or "")

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self.send_text(chat_id, caption or "")

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self.send_text(chat_id, caption or "")

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self.send_text(chat_id, caption or "")

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        return None


def real_clock() -> datetime:
    return datetime.now(UTC)


async def audience_of(kit: Kit, count: int) -> int:
    """`count` reachable workers and a broadcast to them, enqueued; returns the run id."""
    now = real_clock()
    async with kit.sessions() as session, session.begin():
        session.add_all(
            Person(
                telegram_user_id=5000 + i,
                chat_id=5000 + i,
                role=Role.WORKER,
                language="zh_Hans",
                enrolled_at=now,
                active=True,
            )
            for i in range(count)
        )
        await session.flush()
        broadcast = await broadcasts.add(
            session,
            Broadcast(
                content_kind=ContentKind.TEXT,
                text="通知",
                audience=Audience().to_json(),
                send_at=now,
                status=BroadcastStatus.SCHEDULED,
                created_at=now,
            ),
        )
        run = await broadcasts.enqueue_run(session, broadcast, now, now)
        assert run is not None
        return run.id


async def drain(
    kit: Kit,
    messenger: ScriptedMessenger,
    clock: Callable[[], datetime] = real_clock,
    web: Messenger | None = None,
    **settings: float,
) -> Sender:
    """Run a sender until nothing is due or pending (with `web`, the web channel's too)."""
    sender = Sender(
        kit.sessions,
        {"telegram": messenger, **({"web": web} if web is not None else {})},
        catalogs(),
        BroadcastSettings(**{"rate_per_second": 200.0, "progress_seconds": 60.0, **settings}),
        clock,
        Schedule(ZONE, 3600),
    )
    task = asyncio.create_task(sender.run())
    try:
        for _ in range(400):
            await asyncio.sleep(0.05)
            await sender.flush()
            async with kit.sessions() as session:
                due = await broadcasts.due(session, clock(), 1)
                pending = await session.scalar(
                    select(func.count()).where(Delivery.status == DeliveryStatus.PENDING)
                )
            if not due and not pending:
                break
    finally:
        await sender.stop()
        await task
    return sender


async def statuses(kit: Kit) -> dict[int, DeliveryStatus]:
    """Each delivery's status, by the chat of its person."""
    chats = {p.id: p.chat_id for p in await kit.rows(Person)}
    return {chats[d.person_id]: d.status for d in await kit.rows(Delivery)}


def test_the_rate_window_never_lets_more_than_the_cap_through() -> None:
    now = [0.0]
    window = RateWindow(3, clock=lambda: now[0])
    for _ in range(3):
        assert window.delay() == 0
        window.take()
        window.answered()
    assert window.delay() == pytest.approx(1.0)
    now[0] = 0.4
    assert window.delay() == pytest.approx(0.6)
    now[0] = 1.0
    assert window.delay() == 0


def test_a_slow_answer_holds_its_place_until_a_second_after_it() -> None:
    # Requests delayed on the way arrive bunched: the three sent at 0.0 may reach Telegram
    # together with the ones sent at 1.0 if they are answered only then.
    now = [0.0]
    window = RateWindow(3, clock=lambda: now[0])
    for _ in range(3):
        window.take()
    now[0] = 1.0
    assert window.delay() == pytest.approx(1.0), "all in flight: no place frees before a second"
    window.answered()
    now[0] = 1.5
    assert window.delay() == pytest.approx(0.5)
    now[0] = 2.0
    assert window.delay() == 0
    with window.request():
        assert window.delay() > 0, "two in flight and the one just taken fill the window"


async def test_everyone_once_within_the_cap(db: AsyncEngine) -> None:
    kit = Kit(db)
    await audience_of(kit, 120)
    messenger = ScriptedMessenger()
    await drain(kit, messenger, rate_per_second=100.0)
    chats = [chat for _, chat in messenger.sends]
    assert sorted(chats) == [5000 + i for i in range(120)], "each person exactly once"
    times = [at for at, _ in messenger.sends]
    for index in range(len(times) - 100):
        assert times[index + 100] - times[index] >= 1.0 - 1e-3, "never over 100 in a second"
    assert set((await statuses(kit)).values()) == {DeliveryStatus.SENT}


async def test_a_backlog_to_one_chat_is_put_off_once_each_not_on_every_pass(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A burst of messages to one person (requests arriving at one staff member): the chat
    # takes one a spacing; each of the others is written back once with its turn, rather
    # than again on every pass over what is due until its turn comes.
    kit = Kit(db)
    await audience_of(kit, 1)
    now = real_clock()
    async with kit.sessions() as session, session.begin():
        for number in range(11):
            await post(
                session,
                StaffContent(ContentKind.TEXT, f"通知 {number}"),
                Audience(),
                Purpose.BROADCAST,
                now,
            )
    put_off: list[int] = []
    defer = Sender._defer

    def counted(self: Sender, due: Due, wait: timedelta, **kwargs: Any) -> None:
        put_off.append(due.id)
        defer(self, due, wait, **kwargs)

    monkeypatch.setattr(Sender, "_defer", counted)
    messenger = ScriptedMessenger()
    await drain(kit, messenger, per_chat_seconds=0.25)
    times = [at for at, _ in messenger.sends]
    assert len(times) == 12, "each message once"
    assert all(b - a >= 0.25 - 1e-3 for a, b in pairwise(times))
    # Each of the eleven waiting is written back once, with its turn (put off again on every
    # pass, they were written 56 times).
    assert sorted(put_off) == sorted(set(put_off)) and len(put_off) == 11, put_off


async def test_blocked_people_get_one_attempt_and_become_inactive(db: AsyncEngine) -> None:
    kit = Kit(db)
    await audience_of(kit, 10)
    messenger = ScriptedMessenger(blocked={5003, 5007})
    await drain(kit, messenger)
    assert messenger.attempts[5003] == messenger.attempts[5007] == 1
    found = await statuses(kit)
    assert found[5003] is found[5007] is DeliveryStatus.BLOCKED
    assert sum(s is DeliveryStatus.SENT for s in found.values()) == 8
    inactive = [p.telegram_user_id for p in await kit.rows(Person) if not p.active]
    assert sorted(inactive) == [5003, 5007]


async def test_retry_after_pauses_every_send(db: AsyncEngine) -> None:
    kit = Kit(db)
    await audience_of(kit, 30)
    messenger = ScriptedMessenger(retry_after={5005: 1.0})
    await drain(kit, messenger)
    [(paused_at, resumes_at)] = messenger.pauses
    # Sends already in flight when the 429 came may land; nothing starts during the pause.
    late = [at for at, _ in messenger.sends if paused_at + 0.05 < at < resumes_at - 0.01]
    assert late == []
    assert sorted(chat for _, chat in messenger.sends) == [5000 + i for i in range(30)]


async def test_network_errors_retry_with_backoff_then_fail(db: AsyncEngine) -> None:
    kit = Kit(db)
    await audience_of(kit, 3)
    messenger = ScriptedMessenger(flaky={5000: 1, 5001: 99})
    await drain(kit, messenger, max_attempts=2)
    found = await statuses(kit)
    assert found[5000] is DeliveryStatus.SENT, "one network error is retried"
    assert found[5001] is DeliveryStatus.FAILED
    assert messenger.attempts[5001] == 2
    chats = {p.id: p.chat_id for p in await kit.rows(Person)}
    [failed] = [d for d in await kit.rows(Delivery) if chats[d.person_id] == 5001]
    assert failed.error is not None and "502" in failed.error
