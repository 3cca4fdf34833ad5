"""Check-ins per second through the real bot, beside a bare echo bot on the same fake Bot API.

Simulated workers each go from the invite link to a confirmed check-in (11 updates: /start,
consent, name, phone, province, city, plan, a need, done, skip, confirm), all at once, each
waiting for the bot's answer before the next tap, as a person does. The echo bot gets the
same number of updates from the same number of simulated people. Prints updates/s for both
and their ratio (target: at least 0.5). The echo bot gets the same updates in kind: it echoes
each message with a button under it, and answers each press of that button with an edit,
the least any bot does for them; a second echo run, all messages, is printed beside it.

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
from typing import NamedTuple

from bench.echo_bot import BUTTON as ECHO_BUTTON
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


# The check-in walk's updates in order: t for a message, p for a button press.
WALK_KINDS = "tpttptppppp"


def echo_walk(user: FakeUser, kinds: str) -> None:
    """One person sending the echo bot the given updates, each after the previous answer."""
    for index, kind in enumerate(kinds):
        if kind == "p":
            user.press(ECHO_BUTTON)
        else:
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


class Rate(NamedTuple):
    """A measured run: updates per second, and Bot API calls (other than getUpdates) per update."""

    updates_per_second: float
    calls_per_update: float


def _calls(api: FakeBotAPI) -> int:
    return sum(1 for call in api.calls if call.method != "getUpdates")


def measure_bot(workers: int, runtime: str, home: Path) -> Rate:
    """The real bot: every worker from the invite link to a confirmed check-in."""
    with FakeBotAPI(token=TOKEN) as api:
        bot = BotProcess(api, home / runtime, runtime=runtime, log_level="WARNING")
        codes = [bot.add_enterprise(f"企业{i}") for i in range(max(1, workers // 10))]
        bot.start()
        try:
            people = [api.user(20_000 + i) for i in range(workers)]
            api.reset_calls()
            seconds = run_people(
                [partial(checkin_walk, u, codes[i % len(codes)]) for i, u in enumerate(people)]
            )
            calls = _calls(api)
            assert count_rows(bot, "checkins") == workers
        finally:
            bot.stop()
    updates = workers * STEPS_PER_WORKER
    return Rate(updates / seconds, calls / updates)


def measure_echo(workers: int, kinds: str) -> Rate:
    """The bare aiogram echo bot, sent `kinds` by every simulated person."""
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
            api.reset_calls()
            seconds = run_people([partial(echo_walk, u, kinds) for u in people])
            calls = _calls(api)
        finally:
            process.terminate()
            process.wait(timeout=30)
    updates = workers * len(kinds)
    return Rate(updates / seconds, calls / updates)


def main() -> None:
    """Measure the baselines and the bot, one after another in one run, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=60)
    parser.add_argument("--runtime", action="append", choices=["aiogram"], default=None)
    args = parser.parse_args()
    runtimes = args.runtime or ["aiogram"]
    with tempfile.TemporaryDirectory() as home:
        same = measure_echo(args.workers, WALK_KINDS)
        texts = measure_echo(args.workers, "t" * len(WALK_KINDS))
        results = {runtime: measure_bot(args.workers, runtime, Path(home)) for runtime in runtimes}
    presses = WALK_KINDS.count("p")
    print(
        f"workers: {args.workers}, updates per worker: {STEPS_PER_WORKER}"
        f" ({STEPS_PER_WORKER - presses} messages, {presses} button presses)"
    )
    print(f"{'':40} {'updates/s':>10} {'calls/update':>13} {'ratio':>6}")
    rows = [
        ("bare aiogram echo, the same updates", same, same),
        ("bare aiogram echo, messages only", texts, texts),
    ]
    rows += [(f"check-in bot ({runtime})", rate, same) for runtime, rate in results.items()]
    for name, rate, base in rows:
        ratio = rate.updates_per_second / base.updates_per_second
        print(
            f"{name:40} {rate.updates_per_second:10.1f} {rate.calls_per_update:13.2f} {ratio:6.2f}"
        )
    for runtime, rate in results.items():
        ratio = rate.updates_per_second / texts.updates_per_second
        print(f"check-in bot ({runtime}) against the messages-only echo: ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
