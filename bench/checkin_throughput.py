"""Check-ins per second through the real bot, beside each runtime's echo bot, on one fake Bot API.

Simulated workers each go from the invite link to a confirmed check-in (11 updates: /start,
consent, name, phone, province, city, plan, a need, done, skip, confirm), all at once, each
waiting for the bot's answer before the next tap, as a person does. Each runtime is measured
beside its reference echo bot (bench/echo_raw.py): the same transport and the same reading
of updates as that runtime, and nothing else, so the ratio is what the flows, the rendering
and the database cost. The echo bots get the same number of updates of the same kinds (a
message is echoed with a button, a press of it answered and the message edited). The
frameworks' own echo bots, through their dispatchers (bench/echo_bot.py, echo_bot_ptb.py),
are printed on a second, labelled line, and the raw echo that also records each update in
one SQLite transaction as the engine opens it (the update id, the person and the
conversation read, the conversation written back) on a third: the floor under any bot on
this stack that keeps its conversations in the database; and, on a fourth, the same three
statements run by SQLite's driver directly, past SQLAlchemy: how much of that floor is
SQLite's and how much SQLAlchemy's.

For each runtime and database (SQLite always; PostgreSQL with --postgres, in a scratch
database made on that server and dropped afterwards) and each --people size (that many
enrolled workers with their check-ins and requests, filled in before the bot starts), it
prints: updates/s, the bot process's CPU ms per update, SQL statements and transactions per
update (bench/counted_bot.py counts them in the bot), Bot API calls per update, and the
ratio to the runtime's echo. Every figure is the median of the rounds; in each round every
measurement runs once in turn, so a noisy spell on the machine falls on all of them; each
round's updates/s are shown.

    python -m bench.checkin_throughput [--workers 200] [--rounds 5] [--runtime aiogram|ptb]
        [--people 0 --people 10000 --people 100000] [--postgres postgresql://USER@HOST/DB]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text

from bench.echo_raw import BUTTON as ECHO_BUTTON
from models import migrate
from models.checkins import CheckIn, Need, Plan
from models.conversations import ProcessedUpdate
from models.db import create_engine, create_sessionmaker
from models.organisation import Enterprise, Town
from models.people import Person, Role
from models.requests import Category, HelpRequest, Route, Source, Status
from tests.botprocess import TOKEN, BotProcess, count_rows, label, postgres_database
from tests.fakebotapi import FakeBotAPI, FakeUser

STEPS_PER_WORKER = 11
# People who go through once before each measured run, to warm the bot up.
WARM_UP = 10
RUNTIMES = ("aiogram", "ptb")
NAMES = {"aiogram": "aiogram", "ptb": "PTB"}
# The reference echo bots (the runtime's own pieces), and the frameworks' dispatcher ones.
RAW_ECHO = "bench.echo_raw"
DISPATCHER_ECHO = {"aiogram": "bench.echo_bot", "ptb": "bench.echo_bot_ptb"}
# Telegram ids: each measurement's warm-up and measured walkers (below the staff's, from
# STAFF_FROM), then the pre-filled people.
ROUND_IDS = 10_000
STAFF_FROM = 9_000_000
FILLED_FROM = 10_000_000
# Targets, as the issue sets them.
ECHO_TARGET = 0.8
POSTGRES_TARGET = 0.6
GROWTH_TARGET = 1.2
CHUNK = 5_000
# How long a simulated person waits for an answer: long, as the machine may be busy with
# other work; a slow answer shows in the figures, not as a failed run.
PATIENCE = 120.0


def checkin_walk(user: FakeUser, code: str) -> None:
    """One worker from the invite to a confirmed check-in.

    Each step waits for its own prompt, not for a count of replies: the open letter, sent
    to each new worker as they enrol, arrives in between at its own pace.
    """
    user.command("start", code)
    user.wait_text("个人信息告知", timeout=PATIENCE)
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名", timeout=PATIENCE)
    user.send("张三")
    user.wait_text("手机号", timeout=PATIENCE)
    user.send("13812345678")
    user.wait_text("户籍", timeout=PATIENCE)
    user.press("河南")
    user.wait_text("的哪个市", timeout=PATIENCE)
    user.send("信阳市")
    user.wait_text("今年春节您打算", timeout=PATIENCE)
    user.press(label("plan.stay"))
    user.wait_text("缺少", timeout=PATIENCE)
    user.press(label("ui.unchecked").format(label=label("need.heating")))
    user.wait_text("缺少", timeout=PATIENCE)  # the same question, edited to show the need ticked
    user.press(label("ui.done"))
    user.wait_text("还有什么", timeout=PATIENCE)
    user.press(label("ui.skip"))
    user.wait_text("请核对", timeout=PATIENCE)
    user.press(label("ui.confirm"))
    user.wait_text("已保存", timeout=PATIENCE)


# The check-in walk's updates in order: t for a message, p for a button press.
WALK_KINDS = "tpttptppppp"


def echo_walk(user: FakeUser) -> None:
    """One person sending an echo bot the walk's kinds of update, each after the answer."""
    for index, kind in enumerate(WALK_KINDS):
        if kind == "p":
            user.press(ECHO_BUTTON)
        else:
            user.send(f"hello {index}")
        user.wait_reply(timeout=PATIENCE)


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


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, every thread) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    """One measured run of one bot."""

    updates_per_second: float
    cpu_ms: float  # the bot process's CPU per update
    statements: float  # SQL statements per update (0 for the echo bots)
    transactions: float
    calls: float  # Bot API calls (other than getUpdates) per update


def _calls(api: FakeBotAPI) -> int:
    return sum(1 for call in api.calls if call.method != "getUpdates")


def _read_counts(pid: int, path: Path) -> dict[str, int]:
    """Ask the counted bot (bench/counted_bot.py) for its counts so far."""
    path.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the bot wrote no counts")
        time.sleep(0.01)
    counts: dict[str, int] = json.loads(path.read_text())
    return counts


@dataclass
class Target:
    """A bot's database, filled once, measured in every round by a new bot process of each
    runtime in turn."""

    database: str  # "sqlite" or "postgresql"
    people: int
    url: str
    home: Path
    codes: list[str]

    def key(self, runtime: str) -> str:
        """The name of this database's figures through a runtime."""
        return f"{runtime} {self.database} {self.people}"


def measure_bot(target: Target, runtime: str, workers: int, sequence: int) -> Measured:
    """The real bot: every worker from the invite link to a confirmed check-in.

    `sequence` numbers the measurements of the run: each has Telegram ids and update ids of
    its own, past those of the measurements before it on the same database.
    """
    counts_path = target.home / "counts.json"
    base = (sequence + 1) * ROUND_IDS
    with FakeBotAPI(token=TOKEN, first_update_id=base * 100) as api:
        os.environ["BENCH_COUNTS"] = str(counts_path)
        bot = BotProcess(
            api,
            target.home,
            runtime=runtime,
            database_url=target.url,
            log_level="WARNING",
            module="bench.counted_bot",
            warm=False,
        )
        bot.start()
        assert bot.process is not None
        pid = bot.process.pid
        codes = target.codes
        try:
            # Warmed up first, like a bot that has been running: statements compiled, models
            # built. These walks are not counted.
            warm = [api.user(base + i) for i in range(WARM_UP)]
            run_people([partial(checkin_walk, u, codes[0]) for u in warm])
            people = [api.user(base + WARM_UP + i) for i in range(workers)]
            api.reset_calls()
            before, cpu = _read_counts(pid, counts_path), cpu_seconds(pid)
            seconds = run_people(
                [partial(checkin_walk, u, codes[i % len(codes)]) for i, u in enumerate(people)]
            )
            cpu = cpu_seconds(pid) - cpu
            after = _read_counts(pid, counts_path)
            calls = _calls(api)
            ours = f"telegram_user_id >= {base + WARM_UP} AND telegram_user_id < {base + ROUND_IDS}"
            walked = count_rows(
                bot, "checkins", f"person_id IN (SELECT id FROM people WHERE {ours})"
            )
            assert walked == workers, (walked, workers)
        finally:
            bot.stop()
    updates = workers * STEPS_PER_WORKER
    return Measured(
        updates / seconds,
        cpu * 1000 / updates,
        (after["statements"] - before["statements"]) / updates,
        (after["transactions"] - before["transactions"]) / updates,
        calls / updates,
    )


def measure_echo(module: str, args: list[str], workers: int, sequence: int) -> Measured:
    """An echo bot, sent the walk's kinds of update by every simulated person."""
    base = (sequence + 1) * ROUND_IDS
    with FakeBotAPI(token=TOKEN, first_update_id=base * 100) as api:
        env = {**os.environ, "BOT_TOKEN": TOKEN}
        mark = api.mark()
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args, api.base_url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            api.wait_for(lambda c: c.method == "getUpdates", timeout=30, after=mark)
            run_people([partial(echo_walk, api.user(base + i)) for i in range(WARM_UP)])
            people = [api.user(base + WARM_UP + i) for i in range(workers)]
            api.reset_calls()
            cpu = cpu_seconds(process.pid)
            seconds = run_people([partial(echo_walk, u) for u in people])
            cpu = cpu_seconds(process.pid) - cpu
            calls = _calls(api)
        finally:
            process.terminate()
            process.wait(timeout=30)
    updates = workers * len(WALK_KINDS)
    return Measured(updates / seconds, cpu * 1000 / updates, 0.0, 0.0, calls / updates)


# Filling a district of enrolled people ------------------------------------------------------


async def fill(url: str, people: int, seed: int = 2027) -> None:
    """Migrate, then add the district's staff and `people` enrolled workers, each with a
    check-in (a third with two), a tenth with an open request, and the update ids of the
    last day (as many as people) that the redelivery check keeps."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            await session.execute(insert(Town), [{"name": f"第{n + 1:02d}镇"} for n in range(10)])
            towns = list(await session.scalars(select(Town.id).order_by(Town.id)))
            await session.execute(
                insert(Enterprise),
                [
                    {"name": f"已有企业{n:04d}", "town_id": towns[n % 10], "created_at": now}
                    for n in range(max(1, people // 50))
                ],
            )
            enterprises = list(await session.scalars(select(Enterprise.id)))
            # The same staff at every size: a ticked need tells them.
            staff: list[tuple[Role, int | None, bool]] = [(Role.STAFF, None, False)] * 3
            staff += [(Role.STAFF, None, True), (Role.ADMIN, None, False)]
            staff += [(Role.TOWN_OFFICER, town, False) for town in towns]
            await session.execute(
                insert(Person),
                [
                    {
                        "telegram_user_id": STAFF_FROM + n,
                        "chat_id": STAFF_FROM + n,
                        "role": role,
                        "town_id": town,
                        "labour_inspection": inspection,
                        "language": "zh_Hans",
                        "enrolled_at": now,
                        "active": True,
                    }
                    for n, (role, town, inspection) in enumerate(staff)
                ],
            )
        for start in range(0, people, CHUNK):
            numbers = range(start, min(start + CHUNK, people))
            await _fill_workers(sessions, rng, enterprises, numbers, now)
        if engine.dialect.name == "postgresql":
            # Tables filled at once have no statistics yet (autovacuum gathers them in a
            # while, as in a running district): without, the planner guesses.
            async with engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()


async def _fill_workers(
    sessions: Any, rng: random.Random, enterprises: list[int], numbers: range, now: datetime
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            insert(Person),
            [
                {
                    "telegram_user_id": FILLED_FROM + n,
                    "chat_id": FILLED_FROM + n,
                    "role": Role.WORKER,
                    "language": "zh_Hans",
                    "enterprise_id": rng.choice(enterprises),
                    "full_name": f"工人{n:06d}",
                    "phone": f"138{n:08d}",
                    "hukou_province": "41",
                    "hukou_city": "信阳市",
                    "consent_version": 1,
                    "consent_at": now,
                    "enrolled_at": now,
                    "active": True,
                }
                for n in numbers
            ],
        )
        added = list(
            await session.execute(
                select(Person.id, Person.enterprise_id)
                .where(Person.telegram_user_id >= FILLED_FROM + numbers.start)
                .where(Person.telegram_user_id < FILLED_FROM + numbers.stop)
            )
        )
        checkins = [
            {
                "person_id": person_id,
                "enterprise_id": enterprise_id,
                "created_at": now - timedelta(days=days),
                "local_date": (now - timedelta(days=days)).date(),
                "plan": rng.choice((Plan.STAY, Plan.RETURN, Plan.UNDECIDED)),
                "needs": [Need.HEATING] if rng.random() < 0.1 else [],
            }
            for person_id, enterprise_id in added
            for days in ((9, 2) if rng.random() < 1 / 3 else (5,))
        ]
        await session.execute(insert(CheckIn), checkins)
        requests = [
            {
                "person_id": person_id,
                "enterprise_id": enterprise_id,
                "category": Category.HEATING,
                "source": Source.CHECKIN,
                "route": Route.STAFF,
                "status": Status.OPEN,
                "created_at": now,
                "waiting_since": now,
            }
            for person_id, enterprise_id in added
            if rng.random() < 0.1
        ]
        if requests:
            await session.execute(insert(HelpRequest), requests)
        await session.execute(
            insert(ProcessedUpdate),
            [
                {"update_id": 1 + n, "processed_at": now - timedelta(minutes=n % 1440)}
                for n in numbers
            ],
        )


@contextmanager
def targets(
    sizes: list[int], postgres: str | None, home: Path, workers: int
) -> Iterator[list[Target]]:
    """A filled database per database and size (scratch PostgreSQL databases are dropped
    afterwards), each with the enterprises the walkers enrol in."""
    made: list[Target] = []
    with ExitStack() as stack:
        for database in ["sqlite"] + (["postgresql"] if postgres else []):
            for people in sizes:
                folder = home / f"{database}-{people}"
                folder.mkdir(parents=True)
                if database == "sqlite":
                    url = f"sqlite+aiosqlite:///{folder / 'bot.db'}"
                else:
                    url = stack.enter_context(
                        postgres_database(f"bench_{people}", server_url=postgres or "")
                    )
                started = time.perf_counter()
                asyncio.run(fill(url, people))
                with FakeBotAPI(token=TOKEN) as api:
                    bot = BotProcess(api, folder, database_url=url, log_level="WARNING", warm=False)
                    codes = [bot.add_enterprise(f"企业{i}") for i in range(max(1, workers // 10))]
                made.append(Target(database, people, url, folder, codes))
                print(
                    f"  filled {database} with {people} people"
                    f" in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
        yield made


# Printing ------------------------------------------------------------------------------------


def median(runs: list[Measured]) -> Measured:
    """Each figure's median over the rounds."""
    names = Measured.__annotations__
    return Measured(*(statistics.median(getattr(run, name) for run in runs) for name in names))


def row(name: str, figures: Measured, base: Measured) -> str:
    """One printed line."""
    return (
        f"{name:44} {figures.updates_per_second:9.1f} {figures.cpu_ms:8.2f}"
        f" {figures.statements:8.2f} {figures.transactions:6.2f} {figures.calls:9.2f}"
        f" {figures.updates_per_second / base.updates_per_second:6.2f}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report(
    runs: dict[str, list[Measured]], runtimes: list[str], found: list[Target], rounds: int
) -> None:
    """The rounds, the medians, and the targets."""
    print("updates/s by round:")
    for key, measured in runs.items():
        print(f"  {key:42} " + " ".join(f"{m.updates_per_second:7.0f}" for m in measured))
    middle = {key: median(measured) for key, measured in runs.items()}
    print(f"\nmedians of {rounds} rounds, each after {WARM_UP} warm-up walks:")
    print(f"{'':44} {'updates/s':>9} {'CPU ms':>8} {'SQL':>8} {'tx':>6} {'calls':>9} {'ratio':>6}")
    print(f"{'':44} {'':>9} {'/update':>8} {'/update':>8} {'/upd':>6} {'/update':>9} {'':>6}")
    for runtime in runtimes:
        echo = middle[f"echo {runtime}"]
        print(row(f"{NAMES[runtime]} echo (the runtime's own pieces)", echo, echo))
        dispatcher = middle[f"dispatcher echo {runtime}"]
        print(row(f"  {NAMES[runtime]} echo through its dispatcher", dispatcher, echo))
        floor = middle[f"floor {runtime}"]
        print(row(f"  {NAMES[runtime]} echo + one transaction, sqlite", floor, echo))
        driver = middle[f"driver floor {runtime}"]
        print(row("    the same on SQLite's driver, no SQLAlchemy", driver, echo))
        for target in found:
            name = f"check-in bot, {target.database}, {target.people} people"
            print(row(name, middle[target.key(runtime)], echo))
    print("\ntargets:")
    for runtime in runtimes:
        echo = middle[f"echo {runtime}"]
        for target in found:
            ours = middle[target.key(runtime)]
            if target.database == "sqlite":
                ratio = ours.updates_per_second / echo.updates_per_second
                print(
                    f"  {target.key(runtime)}: {ratio:.2f} of its echo (at least"
                    f" {ECHO_TARGET}): {verdict(ratio >= ECHO_TARGET)}"
                )
            else:
                sqlite = middle[f"{runtime} sqlite {target.people}"]
                share = ours.updates_per_second / sqlite.updates_per_second
                print(
                    f"  {target.key(runtime)}: {share:.2f} of SQLite (at least"
                    f" {POSTGRES_TARGET}): {verdict(share >= POSTGRES_TARGET)}"
                )
        sizes = sorted({t.people for t in found})
        if len(sizes) < 2 or sizes[0] != 0:
            continue
        for target in found:
            if target.people != sizes[-1]:
                continue
            none = middle[f"{runtime} {target.database} 0"]
            growth = middle[target.key(runtime)].cpu_ms / none.cpu_ms
            print(
                f"  {runtime} {target.database}: CPU per update at {target.people} people"
                f" {growth:.2f}x that at none (at most {GROWTH_TARGET}):"
                f" {verdict(growth <= GROWTH_TARGET)}"
            )


def main() -> None:
    """Fill the databases, measure round after round, print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--runtime", action="append", choices=RUNTIMES, default=None)
    parser.add_argument("--rounds", type=int, default=5, help="each figure is the median")
    parser.add_argument(
        "--people", type=int, action="append", default=None, help="enrolled beforehand"
    )
    parser.add_argument("--postgres", help="a PostgreSQL server URL to make scratch databases on")
    args = parser.parse_args()
    runtimes: list[str] = args.runtime or list(RUNTIMES)
    if args.workers + WARM_UP > ROUND_IDS:
        parser.error(f"at most {ROUND_IDS - WARM_UP} workers")
    sizes: list[int] = args.people or [0]
    runs: dict[str, list[Measured]] = {}
    print(
        f"workers: {args.workers}, updates per worker: {STEPS_PER_WORKER}"
        f" ({WALK_KINDS.count('t')} messages, {WALK_KINDS.count('p')} button presses)",
        flush=True,
    )
    sequence = 0
    with (
        tempfile.TemporaryDirectory() as home,
        targets(sizes, args.postgres, Path(home), args.workers) as found,
    ):
        floor = f"sqlite+aiosqlite:///{Path(home) / 'floor.db'}"
        driver_floor = f"sqlite+aiosqlite:///{Path(home) / 'driver_floor.db'}"
        for round_number in range(args.rounds):
            for runtime in runtimes:
                measured: list[tuple[str, Callable[[int], Measured]]] = [
                    (f"echo {runtime}", partial(measure_echo, RAW_ECHO, [runtime], args.workers)),
                    (
                        f"dispatcher echo {runtime}",
                        partial(measure_echo, DISPATCHER_ECHO[runtime], [], args.workers),
                    ),
                    (
                        f"floor {runtime}",
                        partial(
                            measure_echo, RAW_ECHO, [runtime, "--database", floor], args.workers
                        ),
                    ),
                    (
                        f"driver floor {runtime}",
                        partial(
                            measure_echo,
                            RAW_ECHO,
                            [runtime, "--database", driver_floor, "--driver"],
                            args.workers,
                        ),
                    ),
                ]
                measured += [
                    (t.key(runtime), partial(measure_bot, t, runtime, args.workers)) for t in found
                ]
                for key, measure in measured:
                    runs.setdefault(key, []).append(measure(sequence))
                    sequence += 1
            done = ", ".join(f"{k} {v[-1].updates_per_second:.0f}" for k, v in runs.items())
            print(f"  round {round_number + 1}: {done}", flush=True)
    report(runs, runtimes, found, args.rounds)


if __name__ == "__main__":
    main()
