"""Check-ins per second through the real bot, beside a bare echo bot on the same fake Bot API.

Simulated workers each go from the invite link to a confirmed check-in (11 updates: /start,
consent, name, phone, province, city, plan, a need, done, skip, confirm), all at once, each
waiting for the bot's answer before the next tap, as a person does. The echo bot gets the
same number of updates from the same number of simulated people. Prints updates/s for both
and their ratio (target: at least 0.5).

    python -m bench.checkin_throughput [--workers 60] [--runtime aiogram]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tests.botprocess import TOKEN, BotProcess, count_rows, label
from tests.fakebotapi import FakeBotAPI, FakeUser

STEPS_PER_WORKER = 11


def checkin_walk(user: FakeUser, code: str) -> None:
    """One worker from the invite to a confirmed check-in."""
    user.command("start", code)
    user.wait_reply()
    user.wait_reply()
    user.press(label("enrol.agree"))
    user.wait_reply()
    user.send("张三")
    user.wait_reply()
    user.send("13812345678")
    user.wait_reply()
    user.wait_reply()
    user.press("河南")
    user.wait_reply()
    user.send("信阳市")
    user.wait_reply()
    user.wait_reply()
    user.press(label("plan.stay"))
    user.wait_reply()
    user.press(label("ui.unchecked").format(label=label("need.heating")))
    user.wait_reply()
    user.press(label("ui.done"))
    user.wait_reply()
    user.press(label("ui.skip"))
    user.wait_reply()
    user.press(label("ui.confirm"))
    user.wait_text("已保存")


def echo_walk(user: FakeUser) -> None:
    """One person sending as many messages to the echo bot, each after the previous echo."""
    for index in range(STEPS_PER_WORKER):
        user.send(f"hello {index}")
        user.wait_reply(timeout=30)


def run_people(walks: list[Callable[[], None]]) -> float:
    """Run every walk at once; the seconds until all finished."""
    errors: list[BaseException] = []

    def guarded(walk: Callable[[], None]) -> None:
        try:
            walk()
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(w,)) for w in walks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def measure_bot(workers: int, runtime: str, home: Path) -> float:
    """Updates per second of the real bot."""
    with FakeBotAPI(token=TOKEN) as api:
        bot = BotProcess(api, home / runtime, runtime=runtime, log_level="WARNING")
        codes = [bot.add_enterprise(f"企业{i}") for i in range(max(1, workers // 10))]
        bot.start()
        try:
            people = [api.user(20_000 + i) for i in range(workers)]
            seconds = run_people(
                [partial(checkin_walk, u, codes[i % len(codes)]) for i, u in enumerate(people)]
            )
            assert count_rows(bot, "checkins") == workers
        finally:
            bot.stop()
    return workers * STEPS_PER_WORKER / seconds


def measure_echo(workers: int) -> float:
    """Updates per second of the bare aiogram echo bot."""
    with FakeBotAPI(token=TOKEN) as api:
        env = {**os.environ, "BOT_TOKEN": TOKEN}
        mark = api.mark()
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.echo_bot", api.base_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api.wait_for(lambda c: c.method == "getUpdates", timeout=30, after=mark)
            people = [api.user(30_000 + i) for i in range(workers)]
            seconds = run_people([partial(echo_walk, u) for u in people])
        finally:
            process.terminate()
            process.wait(timeout=30)
    return workers * STEPS_PER_WORKER / seconds


def main() -> None:
    """Measure both, side by side, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=60)
    parser.add_argument("--runtime", action="append", choices=["aiogram"], default=None)
    args = parser.parse_args()
    runtimes = args.runtime or ["aiogram"]
    with tempfile.TemporaryDirectory() as home:
        echo = measure_echo(args.workers)
        results = {runtime: measure_bot(args.workers, runtime, Path(home)) for runtime in runtimes}
    print(f"workers: {args.workers}, updates per worker: {STEPS_PER_WORKER}")
    print(f"bare aiogram echo bot:      {echo:8.1f} updates/s")
    for runtime, rate in results.items():
        print(f"check-in bot ({runtime:7}):     {rate:8.1f} updates/s   ratio {rate / echo:.2f}")


if __name__ == "__main__":
    main()
