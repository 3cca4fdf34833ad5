"""Check-ins per second through the real bot, beside bare echo bots on the same fake Bot API.

Simulated workers each go from the invite link to a confirmed check-in (11 updates: /start,
consent, name, phone, province, city, plan, a need, done, skip, confirm), all at once, each
waiting for the bot's answer before the next tap, as a person does. The echo bots (a bare
aiogram one and a bare python-telegram-bot one) get the same number of updates from the
same number of simulated people. Prints updates/s for each, and each runtime's ratio to the
echo bot of its own framework (target: at least 0.5). The echo bots get the same updates in
kind: they echo each message with a button under it, and answer each press of that button
with an edit, the least any bot does for them; a second echo run, all messages, is printed
beside it.

    python -m bench.checkin_throughput [--workers 200] [--rounds 3] [--runtime aiogram|ptb]
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
# People who go through once before each measured run, to warm the bot up.
WARM_UP = 10


def checkin_walk(user: FakeUser, code: str) -> None:
    """One worker from the invite to a confirmed check-in.

    Each step waits for its own prompt, not for a count of replies: the open letter, sent
    to each new worker as they enrol, arrives in between at its own pace.
    """
    user.command("start", code)
    user.wait_text("个人信息告知")
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名")
    user.send("张三")
    user.wait_text("手机号")
    user.send("13812345678")
    user.wait_text("户籍")
    user.press("河南")
    user.wait_text("的哪个市或县")
    user.send("信阳市")
    user.wait_text("今年春节您打算")
    user.press(label("plan.stay"))
    user.wait_text("缺少")
    user.press(label("ui.unchecked").format(label=label("need.heating")))
    user.wait_text("缺少")  # the same question, edited to show the need ticked
    user.press(label("ui.done"))
    user.wait_text("还有什么")
    user.press(label("ui.skip"))
    user.wait_text("请核对")
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
            # Warmed up first, like a bot that has been running: statements compiled, models
            # built. These walks are not counted.
            warm = [api.user(10_000 + i) for i in range(WARM_UP)]
            run_people([partial(checkin_walk, u, codes[0]) for u in warm])
            people = [api.user(20_000 + i) for i in range(workers)]
            api.reset_calls()
            seconds = run_people(
                [partial(checkin_walk, u, codes[i % len(codes)]) for i, u in enumerate(people)]
            )
            calls = _calls(api)
            assert count_rows(bot, "checkins") == workers + WARM_UP
        finally:
            bot.stop()
    updates = workers * STEPS_PER_WORKER
    return Rate(updates / seconds, calls / updates)


def median_rate(rates: list[Rate]) -> Rate:
    """The run with the median throughput."""
    ordered = sorted(rates, key=lambda rate: rate.updates_per_second)
    return ordered[len(ordered) // 2]


#: The bare echo bot of each runtime's framework.
ECHO_BOTS = {"aiogram": "bench.echo_bot", "ptb": "bench.echo_bot_ptb"}
NAMES = {"aiogram": "aiogram", "ptb": "PTB"}


def measure_echo(workers: int, kinds: str, framework: str = "aiogram") -> Rate:
    """A bare echo bot (aiogram or ptb), sent `kinds` by every simulated person."""
    with FakeBotAPI(token=TOKEN) as api:
        env = {**os.environ, "BOT_TOKEN": TOKEN}
        mark = api.mark()
        process = subprocess.Popen(
            [sys.executable, "-m", ECHO_BOTS[framework], api.base_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api.wait_for(lambda c: c.method == "getUpdates", timeout=30, after=mark)
            run_people([partial(echo_walk, api.user(10_000 + i), kinds) for i in range(WARM_UP)])
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
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--runtime", action="append", choices=list(ECHO_BOTS), default=None)
    parser.add_argument("--rounds", type=int, default=3, help="each figure is the median")
    args = parser.parse_args()
    runtimes: list[str] = args.runtime or list(ECHO_BOTS)
    runs: dict[str, list[Rate]] = {}
    with tempfile.TemporaryDirectory() as home:
        # Round after round of every measurement in turn, so a noisy spell on the machine
        # falls on all of them rather than on one.
        for round_number in range(args.rounds):
            for framework in ECHO_BOTS:
                for kinds, name in ((WALK_KINDS, "same"), ("t" * len(WALK_KINDS), "texts")):
                    rate = measure_echo(args.workers, kinds, framework)
                    runs.setdefault(f"{name} {framework}", []).append(rate)
            for runtime in runtimes:
                rate = measure_bot(args.workers, runtime, Path(home) / str(round_number))
                runs.setdefault(runtime, []).append(rate)
    middle = {key: median_rate(rates) for key, rates in runs.items()}
    same = {f: middle[f"same {f}"] for f in ECHO_BOTS}
    texts = {f: middle[f"texts {f}"] for f in ECHO_BOTS}
    results = {runtime: middle[runtime] for runtime in runtimes}
    presses = WALK_KINDS.count("p")
    print(
        f"workers: {args.workers}, updates per worker: {STEPS_PER_WORKER}"
        f" ({STEPS_PER_WORKER - presses} messages, {presses} button presses);"
        f" medians of {args.rounds} rounds, each after {WARM_UP} warm-up walks"
    )
    for key, rates in runs.items():
        figures = " ".join(f"{rate.updates_per_second:.0f}" for rate in rates)
        print(f"  updates/s by round, {key}: {figures}")
    print(f"{'':40} {'updates/s':>10} {'calls/update':>13} {'ratio':>6}")
    rows: list[tuple[str, Rate, Rate]] = []
    for framework, name in NAMES.items():
        rows.append((f"bare {name} echo, the same updates", same[framework], same[framework]))
        rows.append((f"bare {name} echo, messages only", texts[framework], texts[framework]))
    # Each runtime against the echo bot of its own framework.
    rows += [
        (f"check-in bot ({runtime})", rate, same[runtime]) for runtime, rate in results.items()
    ]
    for name, rate, base in rows:
        ratio = rate.updates_per_second / base.updates_per_second
        print(
            f"{name:40} {rate.updates_per_second:10.1f} {rate.calls_per_update:13.2f} {ratio:6.2f}"
        )
    for runtime, rate in results.items():
        own = rate.updates_per_second / texts[runtime].updates_per_second
        aiogram = rate.updates_per_second / same["aiogram"].updates_per_second
        print(
            f"check-in bot ({runtime}) against the {NAMES[runtime]} messages-only echo: "
            f"ratio {own:.2f}; against the aiogram echo, the same updates: {aiogram:.2f}"
        )


if __name__ == "__main__":
    main()
