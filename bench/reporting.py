"""Staff's reporting over a whole district: /stats beside hand-written SQL, and the export.

Generates a district of 500 enterprises in 10 towns with 60 days of headcount reports (some
missing, some late, some revised) and 50,000 workers with 5 check-ins each (and a second
district with 5,000 workers). Prints the time /stats takes through the flow engine (the
staff member's command in, the rendered text out) beside one hand-written SQL aggregate
that computes the same figures, with their ratio, after checking that both give the same
answer; then the time and the peak Python memory of the full export (every sheet, phones
masked) at 5,000 and at 50,000 workers.

    python -m bench.reporting [--workers 50000] [--small 5000] [--repeats 5]
                              [--postgres postgresql://postgres@127.0.0.1:5432/test]

With --postgres the districts are written to scratch databases on that server (created and
dropped by the bench); otherwise to SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import exports
from handlers.actions import SendText
from models import migrate, stats
from models.base import UTCDateTime
from models.broadcasts import LetterRead
from models.checkins import CheckIn, Need, Plan, Transport
from models.db import create_engine, create_sessionmaker
from models.organisation import Enterprise, Town
from models.people import Person, Role
from models.reports import Report
from tests.harness import CAMPAIGN_NOW, ZONE, Kit, catalogs

TOWNS = 10
ENTERPRISES = 500
DAYS = 60
CHECKINS_PER_WORKER = 5
DAY = CAMPAIGN_NOW.astimezone(ZONE).date()
STAFF_USER = 900
FIRST_WORKER = 10_000_000
CHUNK = 5_000

# Everything /stats shows, per enterprise due to report (active, and added by the day's end
# or reporting already), in one statement: the newest revision of its latest report up to
# the day (the day's own, or carried forward) and up to the day before, and its workers by
# the plan of their newest check-in up to the day (a worker who erased their data counts by
# their check-ins), and how many read the open letter.
AGGREGATE = text(
    """
WITH latest AS (
    SELECT enterprise_id,
           max(local_date) AS day_now,
           max(CASE WHEN local_date <= :before THEN local_date END) AS day_before
    FROM reports WHERE local_date <= :day
    GROUP BY enterprise_id
),
newest AS (
    SELECT r.enterprise_id, r.local_date, r.total, r.staying, r.gone_home, r.on_duty,
           r.new_arrivals, r.late
    FROM reports r
    JOIN (SELECT r2.enterprise_id, r2.local_date, max(r2.revision) AS revision
          FROM reports r2
          JOIN latest l ON l.enterprise_id = r2.enterprise_id
           AND (r2.local_date = l.day_now OR r2.local_date = l.day_before)
          GROUP BY r2.enterprise_id, r2.local_date) m
      ON m.enterprise_id = r.enterprise_id AND m.local_date = r.local_date
     AND m.revision = r.revision
),
plans AS (
    SELECT c.person_id, c.plan
    FROM checkins c
    JOIN (SELECT max(id) AS id FROM checkins WHERE local_date <= :day GROUP BY person_id) m
      ON m.id = c.id
),
workers AS (
    SELECT p.enterprise_id,
           count(*) AS enrolled,
           sum(CASE WHEN pl.plan = 'stay' THEN 1 ELSE 0 END) AS said_staying,
           sum(CASE WHEN pl.plan = 'return' THEN 1 ELSE 0 END) AS said_gone,
           sum(CASE WHEN pl.plan = 'undecided' THEN 1 ELSE 0 END) AS said_undecided,
           sum(CASE WHEN pl.plan IS NULL THEN 1 ELSE 0 END) AS no_checkin,
           count(lr.person_id) AS read_letter
    FROM people p
    LEFT JOIN plans pl ON pl.person_id = p.id
    LEFT JOIN letter_reads lr ON lr.person_id = p.id
    WHERE p.role = 'worker' AND (p.erased_at IS NULL OR pl.person_id IS NOT NULL)
    GROUP BY p.enterprise_id
)
SELECT t.name AS town,
       now.local_date = :day AS reported,
       now.total, now.staying, now.gone_home, now.on_duty, now.new_arrivals, now.late,
       yesterday.total AS total_before, yesterday.staying AS staying_before,
       yesterday.gone_home AS gone_before,
       w.enrolled, w.said_staying, w.said_gone, w.said_undecided, w.no_checkin, w.read_letter
FROM enterprises e
JOIN towns t ON t.id = e.town_id
LEFT JOIN latest l ON l.enterprise_id = e.id
LEFT JOIN newest now ON now.enterprise_id = e.id AND now.local_date = l.day_now
LEFT JOIN newest yesterday ON yesterday.enterprise_id = e.id
     AND yesterday.local_date = l.day_before
LEFT JOIN workers w ON w.enterprise_id = e.id
WHERE e.active AND (e.created_at < :day_end OR l.enterprise_id IS NOT NULL)
ORDER BY t.name
"""
).bindparams(bindparam("day_end", type_=UTCDateTime()))


@dataclass(frozen=True)
class Headline:
    """The figures both ways of counting must agree on."""

    due: int
    reported: int
    late: int
    carried: int
    total: int
    staying: int
    gone_home: int
    staying_before: int
    by_town: tuple[tuple[str, int], ...]
    workers: int
    plans: tuple[tuple[str, int], ...]
    read: int


async def generate(engine: AsyncEngine, workers: int, seed: int = 2027) -> None:
    """Write the district: towns, enterprises, 60 days of reports, workers and check-ins."""
    rng = random.Random(seed)
    created = CAMPAIGN_NOW - timedelta(days=DAYS)
    first_day = DAY - timedelta(days=DAYS - 1)
    async with create_sessionmaker(engine)() as session, session.begin():
        await session.execute(insert(Town), [{"name": f"第{n + 1:02d}镇"} for n in range(TOWNS)])
        town_ids = list(await session.scalars(select(Town.id).order_by(Town.id)))
        await session.execute(
            insert(Enterprise),
            [
                {
                    "name": f"企业{n:03d}",
                    "town_id": town_ids[n % TOWNS],
                    "created_at": created,
                    "contact_name": f"联系人{n:03d}",
                    "contact_phone": f"139{n:08d}",
                }
                for n in range(ENTERPRISES)
            ],
        )
        enterprise_ids = list(await session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
        reports: list[dict[str, Any]] = []
        for enterprise_id in enterprise_ids:
            size = rng.randint(40, 160)
            for offset in range(DAYS):
                if rng.random() < 0.05:
                    continue  # not reported that day
                day = first_day + timedelta(days=offset)
                late = rng.random() < 0.15
                for revision in range(1, 3 if rng.random() < 0.1 else 2):
                    staying = rng.randint(0, size)
                    gone = rng.randint(0, size - staying)
                    reports.append(
                        {
                            "enterprise_id": enterprise_id,
                            "local_date": day,
                            "revision": revision,
                            "total": size,
                            "staying": staying,
                            "gone_home": gone,
                            "on_duty": rng.randint(0, staying),
                            "new_arrivals": rng.randint(0, 3),
                            "submitted_at": created + timedelta(days=offset),
                            "late": late,
                        }
                    )
        for start in range(0, len(reports), CHUNK):
            await session.execute(insert(Report), reports[start : start + CHUNK])
        session.add(
            Person(
                telegram_user_id=STAFF_USER,
                chat_id=STAFF_USER,
                role=Role.STAFF,
                language="zh_Hans",
                full_name="工作人员",
                enrolled_at=created,
                active=True,
            )
        )
    for start in range(0, workers, CHUNK):
        await _workers(engine, rng, enterprise_ids, range(start, min(start + CHUNK, workers)))


async def _workers(
    engine: AsyncEngine, rng: random.Random, enterprise_ids: list[int], numbers: range
) -> None:
    created = CAMPAIGN_NOW - timedelta(days=DAYS)
    first_day = DAY - timedelta(days=DAYS - 1)
    async with create_sessionmaker(engine)() as session, session.begin():
        people = [
            {
                "telegram_user_id": FIRST_WORKER + n,
                "chat_id": FIRST_WORKER + n,
                "role": Role.WORKER,
                "language": "zh_Hans",
                "enterprise_id": rng.choice(enterprise_ids),
                "full_name": f"工人{n:05d}",
                "phone": f"138{n:08d}",
                "hukou_province": "41",
                "hukou_city": "信阳市",
                "consent_version": 1,
                "consent_at": created,
                "enrolled_at": created,
                "active": True,
            }
            for n in numbers
        ]
        await session.execute(insert(Person), people)
        added = list(
            await session.execute(
                select(Person.id, Person.enterprise_id)
                .where(Person.telegram_user_id >= FIRST_WORKER + numbers.start)
                .where(Person.telegram_user_id < FIRST_WORKER + numbers.stop)
                .order_by(Person.id)
            )
        )
        # One round of check-ins after another, so a later check-in has the larger id, as
        # when workers answer over the weeks.
        for round_ in range(CHECKINS_PER_WORKER):
            checkins: list[dict[str, Any]] = []
            for person_id, enterprise_id in added:
                day = first_day + timedelta(days=round_ * 12 + rng.randint(0, 11))
                plan = rng.choice((Plan.STAY, Plan.STAY, Plan.RETURN, Plan.UNDECIDED))
                home = plan is Plan.RETURN
                checkins.append(
                    {
                        "person_id": person_id,
                        "enterprise_id": enterprise_id,
                        "created_at": created + timedelta(days=round_ * 12),
                        "local_date": day,
                        "plan": plan,
                        "needs": [Need.HEATING] if rng.random() < 0.1 else [],
                        "destination_province": "41" if home else None,
                        "destination_city": "信阳市" if home else None,
                        "depart_date": date(2027, 2, 1) if home else None,
                        "return_date": date(2027, 2, 20) if home else None,
                        "transport": Transport.TRAIN if home else None,
                    }
                )
            await session.execute(insert(CheckIn), checkins)
        reads = [
            {"person_id": person_id, "read_at": created}
            for person_id, _ in added
            if rng.random() < 0.6
        ]
        await session.execute(insert(LetterRead), reads)


async def by_stats(kit: Kit) -> str:
    """/stats as a staff member sends it; returns the text they read."""
    answer = await kit.user(STAFF_USER).command("stats")
    [said] = [a for a in answer.actions if isinstance(a, SendText)]
    return kit.render("zh_Hans", said.text)


async def headline_from_stats(kit: Kit) -> Headline:
    """What models/stats.py counts for the day."""
    async with kit.sessions() as session:
        picture = await stats.picture(session, DAY, zone=ZONE)
    district = picture.district
    return Headline(
        due=district.enterprises,
        reported=district.reported,
        late=district.late,
        carried=district.carried,
        total=district.totals.total,
        staying=district.totals.staying,
        gone_home=district.totals.gone_home,
        staying_before=picture.previous.staying,
        by_town=tuple((line.name, line.totals.staying) for line in picture.towns),
        workers=picture.workers,
        plans=tuple(sorted((str(plan or "none"), n) for plan, n in picture.plans.items())),
        read=picture.letter_read,
    )


async def headline_from_sql(engine: AsyncEngine) -> Headline:
    """The same figures summed from the hand-written aggregate's rows."""
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                AGGREGATE,
                {
                    "day": DAY,
                    "before": DAY - timedelta(days=1),
                    "day_end": datetime.combine(DAY + timedelta(days=1), dt_time(0), ZONE),
                },
            )
        ).all()
    by_town: dict[str, int] = {}
    plans = {"stay": 0, "return": 0, "undecided": 0, "none": 0}
    for row in rows:
        by_town[row.town] = by_town.get(row.town, 0) + (row.staying or 0)
        plans["stay"] += row.said_staying or 0
        plans["return"] += row.said_gone or 0
        plans["undecided"] += row.said_undecided or 0
        plans["none"] += row.no_checkin or 0
    return Headline(
        due=len(rows),
        reported=sum(bool(row.reported) for row in rows),
        late=sum(bool(row.reported and row.late) for row in rows),
        carried=sum(row.total is not None and not row.reported for row in rows),
        total=sum(row.total or 0 for row in rows),
        staying=sum(row.staying or 0 for row in rows),
        gone_home=sum(row.gone_home or 0 for row in rows),
        staying_before=sum(row.staying_before or 0 for row in rows),
        by_town=tuple(sorted(by_town.items())),
        workers=sum(row.enrolled or 0 for row in rows),
        plans=tuple(sorted((plan, n) for plan, n in plans.items() if n)),
        read=sum(row.read_letter or 0 for row in rows),
    )


async def median_seconds(run: Callable[[], Awaitable[object]], repeats: int) -> float:
    """The median time of `repeats` runs, after one to warm up."""
    await run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        await run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@dataclass(frozen=True)
class Exported:
    """One full export, timed and traced."""

    rows: int
    seconds: float
    peak_bytes: int
    file_bytes: int


async def export(engine: AsyncEngine, path: Path) -> Exported:
    """The full workbook, masked, as staff get it: timed on its own, then its memory traced."""
    sessions = create_sessionmaker(engine)

    async def write() -> int:
        return await exports.write_workbook(
            sessions,
            path,
            catalogs=catalogs(),
            language="zh_Hans",
            first=None,
            last=None,
            town_id=None,
            mask_phones=True,
            zone=ZONE,
            issuer="示例区人力资源和社会保障局",
            now=CAMPAIGN_NOW,
        )

    started = time.perf_counter()
    rows = await write()
    seconds = time.perf_counter() - started
    size = await asyncio.to_thread(lambda: path.stat().st_size)
    # Traced apart: tracing slows every allocation, which would spoil the time.
    tracemalloc.start()
    try:
        await write()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Exported(rows, seconds, peak, size)


@asynccontextmanager
async def district(
    workers: int, folder: Path, postgres: str | None, name: str
) -> AsyncIterator[AsyncEngine]:
    """A migrated database holding a generated district; dropped afterwards."""
    if postgres is None:
        engine = create_engine(f"sqlite+aiosqlite:///{folder / f'{name}.db'}")
        try:
            await migrate.upgrade(engine)
            await generate(engine, workers)
            yield engine
        finally:
            await engine.dispose()
        return
    server = make_url(postgres).set(drivername="postgresql+asyncpg")
    scratch = f"outreach_bench_{name}"
    admin = create_engine(server.render_as_string(hide_password=False))
    admin = admin.execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}"'))
            await connection.execute(text(f'CREATE DATABASE "{scratch}"'))
        engine = create_engine(server.set(database=scratch).render_as_string(hide_password=False))
        try:
            await migrate.upgrade(engine)
            await generate(engine, workers)
            # Tables filled at once have no statistics yet (autovacuum would gather them in a
            # while, as it does in a running district): without, the planner nests loops.
            async with engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
            yield engine
        finally:
            await engine.dispose()
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{scratch}"'))
    finally:
        await admin.dispose()


async def main_async(args: argparse.Namespace) -> None:
    """Generate, measure, print."""
    with tempfile.TemporaryDirectory() as home:
        folder = Path(home)
        started = time.perf_counter()
        async with district(args.workers, folder, args.postgres, "big") as engine:
            kind = engine.dialect.name
            print(
                f"[{kind}] district: {TOWNS} towns, {ENTERPRISES} enterprises, {DAYS} days of "
                f"reports, {args.workers} workers with {CHECKINS_PER_WORKER} check-ins each "
                f"(generated in {time.perf_counter() - started:.1f} s)"
            )
            kit = Kit(engine)
            ours, theirs = await headline_from_stats(kit), await headline_from_sql(engine)
            assert ours == theirs, (ours, theirs)
            assert "企业" in await by_stats(kit)
            stats_seconds = await median_seconds(lambda: by_stats(kit), args.repeats)
            sql_seconds = await median_seconds(lambda: headline_from_sql(engine), args.repeats)
            print(f"medians of {args.repeats} runs, after one to warm up; both agree: {ours}")
            print(f"{'':44}{'ms':>10}{'ratio':>8}")
            print(f"{'hand-written SQL aggregate':44}{sql_seconds * 1000:10.1f}{1.0:8.2f}")
            print(
                f"{'/stats through the flow engine, rendered':44}{stats_seconds * 1000:10.1f}"
                f"{stats_seconds / sql_seconds:8.2f}"
            )
            big = await export(engine, folder / "big.xlsx")
        async with district(args.small, folder, args.postgres, "small") as engine:
            small = await export(engine, folder / "small.xlsx")
    print("full export, every sheet, phones masked:")
    for workers, result in ((args.small, small), (args.workers, big)):
        print(
            f"  {workers:>6} workers: {result.rows} rows in {result.seconds:.1f} s "
            f"({result.rows / result.seconds:,.0f} rows/s), peak Python memory "
            f"{result.peak_bytes / 2**20:.1f} MiB, file {result.file_bytes / 2**20:.1f} MiB"
        )
    print(
        f"  {args.workers // args.small}x the workers: {big.rows / small.rows:.1f}x the rows, "
        f"{big.seconds / small.seconds:.1f}x the time, "
        f"{big.peak_bytes / small.peak_bytes:.2f}x the peak memory"
    )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL server URL to make scratch databases on")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
