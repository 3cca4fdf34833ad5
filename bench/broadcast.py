"""A broadcast to tens of thousands through the real sender, against the local fake Bot API.

The fake Bot API runs in a process of its own (so it does not share the sender's CPU); the
sender, with its HTTP messenger, drains one run with the cap set high. Prints the time to
enqueue the deliveries, the achieved send rate as a share of the cap (as the server saw
the sends, and from the start until every row was settled), the largest number
of sends the server saw in any one-second window (never above the cap), and the sender's
peak Python memory while draining 5,000 and 50,000 recipients (it should not grow).

    python -m bench.broadcast [--recipients 50000] [--small 5000] [--cap 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
import tracemalloc
from bisect import bisect_left
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import insert

from bot.config import BroadcastSettings
from bot.i18n import Catalogs
from bot.sender import Schedule, Sender
from bot.telegram_http import HttpMessenger
from handlers.actions import Msg, Raw
from handlers.outbox import Message, post
from models import broadcasts, migrate
from models.broadcasts import (
    Audience,
    Broadcast,
    BroadcastStatus,
    ContentKind,
    DeliveryStatus,
    Purpose,
)
from models.db import create_engine, create_sessionmaker
from models.people import TELEGRAM, Person, Role
from tests.botprocess import TOKEN
from tests.fakebotapi import FakeBotAPI
from tests.harness import LANGUAGES, ROOT, ZONE

FIRST_CHAT = 1_000_000


def serve(pipe: Connection) -> None:
    """The fake Bot API, in its own process: sends its URL, later the send times."""
    api = FakeBotAPI(token=TOKEN, record_messages=False).start()
    pipe.send(api.base_url)
    pipe.recv()  # asked for the send times
    pipe.send([at for at, _chat in api.send_times(["sendMessage"])])
    api.stop()


class Result(NamedTuple):
    """One measured broadcast."""

    enqueue_seconds: float
    send_seconds: float
    sent: int
    busiest_at_sender: int
    busiest_second: int
    peak_bytes: int
    by_purpose: dict[str, int]
    seen_rate: float = 0.0


def busiest_second(times: list[float]) -> int:
    """The most sends in any window of one second."""
    times.sort()
    return max(
        (index - bisect_left(times, at - 1.0) + 1 for index, at in enumerate(times)), default=0
    )


async def broadcast(
    recipients: int, cap: float, base_url: str, trace: bool, requests: int
) -> Result:
    """Enqueue one run to `recipients` workers and `requests` request notices, and drain."""
    with tempfile.TemporaryDirectory() as home:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(home) / 'bench.db'}")
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        now = datetime.now(UTC)
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Person),
                [
                    {
                        "telegram_user_id": FIRST_CHAT + i,
                        "chat_id": FIRST_CHAT + i,
                        "role": Role.WORKER,
                        "language": "zh_Hans",
                        "enrolled_at": now,
                        "active": True,
                    }
                    for i in range(recipients)
                ],
            )
            notice = await broadcasts.add(
                session,
                Broadcast(
                    content_kind=ContentKind.TEXT,
                    text="春节期间食堂照常开放",
                    audience=Audience().to_json(),
                    send_at=now,
                    status=BroadcastStatus.SCHEDULED,
                    created_at=now,
                ),
            )
            # Requests for help passed on to a staff member each, through the same outbox.
            for i in range(requests):
                await post(
                    session,
                    Message(Msg("request.notify_new", card=Raw(f"#{i}"))),
                    Audience(people=(i % recipients + 1,)),
                    Purpose.REQUEST_NOTICE,
                    now,
                    audited=False,
                )
        started = time.perf_counter()
        async with sessions() as session, session.begin():
            run = await broadcasts.enqueue_run(session, notice, now, now)
            assert run is not None and run.total == recipients
        enqueue_seconds = time.perf_counter() - started
        recipients += requests

        messenger = HttpMessenger(base_url, TOKEN)
        catalogs = Catalogs(ROOT / "locales", LANGUAGES, "zh_Hans", ZONE)
        settings = BroadcastSettings(rate_per_second=cap, progress_seconds=3600)
        sender = Sender(
            sessions,
            {TELEGRAM: messenger},
            catalogs,
            settings,
            lambda: datetime.now(UTC),
            Schedule(ZONE, 3600),
        )
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        task = asyncio.create_task(sender.run())
        # Watched by the sender's own count (it has no event for it): counting rows in the
        # database would hold the sender's event loop for a moment, a pause of the bench's
        # making.
        while sender.sent < recipients:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await sender.stop()
        await task
        send_seconds = time.perf_counter() - started  # every outcome written by now
        async with sessions() as session:
            figures = await broadcasts.run_figures(session, run.id)
            purposes = await broadcasts.figures_by_purpose(session)
        assert figures[DeliveryStatus.PENDING] == 0, figures
        peak = 0
        if trace:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        await messenger.close()
        await engine.dispose()
        sent = sum(counted[DeliveryStatus.SENT] for counted in purposes.values())
        by_purpose = {p.value: counted[DeliveryStatus.SENT] for p, counted in purposes.items()}
        return Result(
            enqueue_seconds, send_seconds, sent, sender.window.busiest, 0, peak, by_purpose
        )


def measure(recipients: int, cap: float, trace: bool, requests: int = 0) -> Result:
    """One broadcast against a fresh fake Bot API process."""
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.Process(target=serve, args=(theirs,), daemon=True)
    server.start()
    try:
        base_url = ours.recv()
        result = asyncio.run(broadcast(recipients, cap, base_url, trace, requests))
        ours.send("times")
        times = ours.recv()
    finally:
        server.join(timeout=30)
        if server.is_alive():
            server.kill()
    return result._replace(busiest_second=busiest_second(times), seen_rate=steady_rate(times))


def steady_rate(times: list[float]) -> float:
    """Sends per second as the server saw them, from the first send to the last."""
    times.sort()
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--cap", type=float, default=1000.0)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    big = measure(args.recipients, args.cap, trace=False, requests=args.requests)
    rate = big.sent / big.send_seconds
    print(f"recipients: {args.recipients}, cap: {args.cap:.0f} messages/s")
    print("sent by purpose: " + ", ".join(f"{p} {n}" for p, n in sorted(big.by_purpose.items())))
    print(f"enqueue: {big.enqueue_seconds:.2f} s")
    print(
        f"send rate as the server saw it, first send to last: {big.seen_rate:.0f}/s, "
        f"{big.seen_rate / args.cap:.2f} of the cap"
    )
    print(
        f"sent {big.sent} in {big.send_seconds:.1f} s from start to every row settled: "
        f"{rate:.0f}/s, {rate / args.cap:.2f} of the cap"
    )
    print(
        f"busiest second: {big.busiest_at_sender} sent by the sender, "
        f"{big.busiest_second} received by the server"
    )
    small_peak = measure(args.small, args.cap, trace=True).peak_bytes
    big_peak = measure(args.recipients, args.cap, trace=True).peak_bytes
    print(
        f"sender peak memory: {small_peak / 2**20:.1f} MiB at {args.small}, "
        f"{big_peak / 2**20:.1f} MiB at {args.recipients} recipients "
        f"(ratio {big_peak / max(small_peak, 1):.2f})"
    )


if __name__ == "__main__":
    main()
