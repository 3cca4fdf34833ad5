"""Broadcasts through the real bot: limits, 429 and 403 from the Bot API, a crash, a restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.sender import FLUSH_SECONDS, MAX_IN_FLIGHT
from handlers.outbox import StaffContent, post
from models.broadcasts import Audience, ContentKind, Purpose
from models.db import create_engine, create_sessionmaker
from models.people import Person, Role
from tests.botprocess import BotProcess, count_rows, label, wait_until
from tests.harness import ROOT

FIRST_WORKER = 700_000
STAFF_ID = 690_000


def seed(
    bot: BotProcess,
    workers: int,
    *,
    broadcast_at: datetime | None = None,
    text: str = "春节期间食堂照常开放",
) -> None:
    """Staff, `workers` reachable workers and, if asked, a broadcast to all of them."""

    async def write() -> None:
        engine = create_engine(bot.database_url)
        sessions = create_sessionmaker(engine)
        now = datetime.now(UTC)
        try:
            async with sessions() as session, session.begin():
                people = [
                    Person(
                        telegram_user_id=FIRST_WORKER + i,
                        chat_id=FIRST_WORKER + i,
                        role=Role.WORKER,
                        language="zh_Hans",
                        enrolled_at=now,
                        active=True,
                    )
                    for i in range(workers)
                ]
                people.append(
                    Person(
                        telegram_user_id=STAFF_ID,
                        chat_id=STAFF_ID,
                        role=Role.STAFF,
                        language="zh_Hans",
                        full_name="工作人员",
                        enrolled_at=now,
                        active=True,
                    )
                )
                session.add_all(people)
                if broadcast_at is not None:
                    await post(
                        session,
                        StaffContent(ContentKind.TEXT, text),
                        Audience(),
                        Purpose.BROADCAST,
                        now,
                        send_at=broadcast_at,
                        audited=False,
                    )
        finally:
            await engine.dispose()

    bot.cli("migrate")
    asyncio.run(write())


def received(bot: BotProcess) -> Counter[int]:
    """How many broadcast messages each worker got."""
    return Counter(chat for _, chat in bot.api.send_times(["sendMessage"]) if chat >= FIRST_WORKER)


def settled(bot: BotProcess, total: int) -> Callable[[], bool]:
    def check() -> bool:
        return count_rows(bot, "deliveries", "status != 'pending'") == total

    return check


def test_a_broadcast_composed_by_buttons_reaches_everyone_once(
    own_bot: Callable[..., BotProcess],
) -> None:
    bot = own_bot(extra_config="[broadcast]\nrate_per_second = 200\nprogress_seconds = 0.5")
    seed(bot, 40)
    api = bot.api
    blocked = {FIRST_WORKER + 3, FIRST_WORKER + 17, FIRST_WORKER + 31}
    for chat in blocked:
        api.block_chat(chat)
    bot.start()
    staff = api.user(STAFF_ID)
    staff.command("broadcast")
    staff.wait_text("发给谁")
    staff.press(label("broadcast.audience.workers"))
    staff.wait_text("40")
    staff.send("春节期间食堂照常开放 <每天 6:00-20:00>")
    staff.wait_text("什么时候发送")
    staff.press(label("broadcast.send_now"))
    staff.wait_text("请核对")
    api.retry_after(1, count=1)
    staff.press(label("ui.confirm"))
    staff.wait_text("发送报告", timeout=30)
    assert count_rows(bot, "deliveries", "status = 'sent'") == 37
    assert count_rows(bot, "deliveries", "status = 'blocked'") == 3
    got = received(bot)
    assert set(got) == {FIRST_WORKER + i for i in range(40)} - blocked
    assert set(got.values()) == {1}, "nobody gets it twice"
    for chat in blocked:
        refusals = [c for c in api.calls if c.chat_id == chat and c.status == 403]
        assert len(refusals) == 1, "a blocked person is tried once"
    [throttled] = [c for c in api.calls if c.status == 429]
    during = [
        at
        for at, chat in api.send_times(["sendMessage"])
        if chat >= FIRST_WORKER and throttled.at + 0.1 < at < throttled.at + 0.95
    ]
    assert during == [], f"sent while Telegram asked to wait: {throttled}\n{bot.log()[-2000:]}"
    message = next(
        c.params["text"]
        for c in api.calls
        if c.method == "sendMessage" and c.chat_id == FIRST_WORKER
    )
    assert message == "春节期间食堂照常开放 &lt;每天 6:00-20:00&gt;"
    assert bot.stop() == 0, bot.log()


def test_a_crash_mid_broadcast_misses_nobody(own_bot: Callable[..., BotProcess]) -> None:
    rate = 300
    workers = 1800
    bot = own_bot(extra_config=f"[broadcast]\nrate_per_second = {rate}", log_level="INFO")
    bot.api.record_messages = False
    seed(bot, workers, broadcast_at=datetime.now(UTC))
    bot.start()
    wait_until(lambda: sum(received(bot).values()) >= workers // 3, timeout=60)
    bot.stop(signal.SIGKILL)
    at_kill = sum(received(bot).values())
    assert at_kill < workers, "the kill came mid-broadcast"
    bot.start()
    wait_until(settled(bot, workers), timeout=120)
    got = received(bot)
    assert set(got) == {FIRST_WORKER + i for i in range(workers)}, "nobody is missed"
    duplicates = sum(got.values()) - workers
    print(f"\nkilled after {at_kill} of {workers} sends; {duplicates} sent twice after restart")
    # Repeated at most: the sends in flight, and those whose outcome was not yet written.
    assert duplicates <= MAX_IN_FLIGHT + rate * FLUSH_SECONDS * 2
    # The cap holds as the server counts it, through the restart's catching up too.
    times = sorted(at for at, chat in bot.api.send_times(["sendMessage"]) if chat >= FIRST_WORKER)
    busiest = max(i - bisect_left(times, at - 1.0) + 1 for i, at in enumerate(times))
    assert busiest <= rate, f"{busiest} sends in one second at a cap of {rate}"
    assert bot.stop() == 0, bot.log()


def test_a_broadcast_due_while_stopped_goes_once_after_restart(
    own_bot: Callable[..., BotProcess],
) -> None:
    bot = own_bot()
    seed(bot, 5)
    bot.start()
    wait_until(lambda: "scheduler and sender running" in bot.log(), timeout=20)
    # Scheduled while the bot runs, due a moment after it has stopped.
    send_at = datetime.now(UTC) + timedelta(seconds=3)
    add_broadcast(bot, send_at)
    assert bot.stop() == 0
    assert datetime.now(UTC) < send_at, "stopped before it was due"
    assert count_rows(bot, "deliveries") == 0
    while datetime.now(UTC) < send_at + timedelta(seconds=1):
        time.sleep(0.2)
    bot.start()
    wait_until(settled(bot, 5), timeout=30)
    time.sleep(2)  # a second run, if there were one, would have come by now
    assert count_rows(bot, "broadcast_runs") == 1
    assert set(received(bot).values()) == {1}
    assert len(received(bot)) == 5
    assert bot.stop() == 0, bot.log()


def add_broadcast(bot: BotProcess, send_at: datetime) -> int:
    """A text broadcast to all workers, as if staff had just confirmed it."""

    async def write() -> int:
        engine = create_engine(bot.database_url)
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                broadcast = await post(
                    session,
                    StaffContent(ContentKind.TEXT, "今晚联欢会"),
                    Audience(),
                    Purpose.BROADCAST,
                    datetime.now(UTC),
                    send_at=send_at,
                    audited=False,
                )
                return broadcast.id
        finally:
            await engine.dispose()

    return asyncio.run(write())


def test_a_second_scheduler_refuses_to_start(own_bot: Callable[..., BotProcess]) -> None:
    first = own_bot()
    first.start()
    second = BotProcess(
        first.api, first.home / "second", first.runtime, database_url=first.database_url
    )
    code = second_run(second)
    assert code == 2
    assert "scheduler.enabled" in second.log()
    assert first.stop() == 0


def second_run(bot: BotProcess) -> int:
    """Run a bot that is expected to refuse; its exit code."""
    with bot.log_path.open("ab") as log:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(bot.config), "run"],
            cwd=ROOT,
            env=bot.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=90,
        ).returncode
