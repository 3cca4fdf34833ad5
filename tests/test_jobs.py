"""The recurring jobs with a controlled clock: report reminders go only to the contacts of
enterprises without today's report, and only within the reporting period; undecided and
stale workers are asked again on their rhythm; a restart neither loses nor doubles a
reminder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr
from sqlalchemy import delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import jobs
from bot import scheduler as scheduler_module
from bot.app import build_app, utc_now
from bot.config import (
    DatabaseSettings,
    NominationSettings,
    ReportingSettings,
    Settings,
    TelegramSettings,
)
from bot.scheduler import Background
from bot.sender import render_content
from handlers.ports import Clock
from models import broadcasts, nominations
from models.broadcasts import (
    Audience,
    Broadcast,
    ContentKind,
    Delivery,
    message_parts,
    message_text,
)
from models.checkins import Plan
from models.nominations import Measure, Nomination, NominationStatus
from models.organisation import Enterprise
from models.people import Person, Role
from models.reports import Figures
from tests.harness import Kit, catalogs
from tests.test_flow_report import checked_in, enterprise, person, reported

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2027, 1, 20)
TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTESTtoken1"


def local(hour: int, minute: int = 0, day: date = TODAY) -> datetime:
    """A moment of the campaign, local time, as the clock gives it (UTC)."""
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


def settings_for(url: str = "sqlite+aiosqlite:///unused.db", **reporting: Any) -> Settings:
    return Settings(
        telegram=TelegramSettings(token=SecretStr(TOKEN)),
        database=DatabaseSettings(url=url),
        reporting=ReportingSettings(**reporting),
    )


async def recipients(kit: Kit, broadcast_id: int | None, now: datetime) -> set[int]:
    """Enqueue the broadcast's run; the person ids it reaches."""
    assert broadcast_id is not None
    async with kit.sessions() as session, session.begin():
        broadcast = await broadcasts.get(session, broadcast_id)
        assert broadcast is not None
        run = await broadcasts.enqueue_run(session, broadcast, broadcast.send_at, now)
        assert run is not None
        rows = await session.scalars(select(Delivery.person_id).where(Delivery.run_id == run.id))
        return set(rows)


async def only_broadcast(kit: Kit) -> Broadcast:
    [row] = [b for b in await kit.rows(Broadcast) if isinstance(b, Broadcast)]
    return row


async def four_enterprises(kit: Kit) -> dict[str, int]:
    """Contacts of a reported, an unreported, a yesterday-only and an inactive enterprise."""
    reported_today = await enterprise(kit, "已报企业")
    silent = await enterprise(kit, "未报企业")
    yesterday = await enterprise(kit, "昨天报过")
    inactive = await enterprise(kit, "已停用企业")
    await reported(kit, reported_today, TODAY, Figures(10, 5, 5, 5, 0))
    await reported(kit, yesterday, TODAY - timedelta(days=1), Figures(10, 5, 5, 5, 0))
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Enterprise).where(Enterprise.id == inactive).values(active=False)
        )
    return {
        "reported": await person(kit, 501, reported_today, Role.CONTACT),
        "silent": await person(kit, 502, silent, Role.CONTACT),
        "deputy": await person(kit, 503, silent, Role.CONTACT, language="en"),
        "yesterday": await person(kit, 504, yesterday, Role.CONTACT),
        "inactive": await person(kit, 505, inactive, Role.CONTACT),
        "worker": await person(kit, 101, silent),
        "staff": await person(kit, 900, None, Role.STAFF),
    }


# Report reminders ------------------------------------------------------------------------------


async def test_the_reminder_goes_only_to_contacts_without_todays_report(db: AsyncEngine) -> None:
    kit = Kit(db)
    people = await four_enterprises(kit)
    settings = settings_for()
    now = local(15)
    number = await jobs.write_report_reminder(kit.sessions, settings, now, time(15))
    assert await recipients(kit, number, now) == {
        people["silent"],
        people["deputy"],
        people["yesterday"],
    }
    row = await only_broadcast(kit)
    assert row.content_kind is ContentKind.MESSAGE
    assert message_parts(row.text or "") == ("report.remind.before", {"deadline": "16:00"})
    assert Audience.from_json(row.audience) == Audience(
        role=Role.CONTACT, unreported_on="2027-01-20"
    )
    async with kit.sessions() as session:
        zh = await render_content(session, catalogs(), row, "zh_Hans")
        en = await render_content(session, catalogs(), row, "en")
    assert zh.text == "⏰ 今天的人数日报还没有提交。请在 16:00 前发送 /report 上报。"
    assert "before 16:00" in en.text


async def test_at_the_deadline_the_reminder_says_it_is_overdue(db: AsyncEngine) -> None:
    kit = Kit(db)
    await four_enterprises(kit)
    await jobs.write_report_reminder(kit.sessions, settings_for(), local(16), time(16))
    row = await only_broadcast(kit)
    assert message_parts(row.text or "")[0] == "report.remind.overdue"


async def test_no_reminder_outside_the_reporting_period(db: AsyncEngine) -> None:
    kit = Kit(db)
    await four_enterprises(kit)
    default = settings_for()  # the campaign's service dates, 10 Jan - 14 Feb 2027
    for day in (date(2027, 1, 9), date(2027, 2, 15)):
        now = local(15, day=day)
        assert await jobs.write_report_reminder(kit.sessions, default, now, time(15)) is None
        assert await jobs.write_reask(kit.sessions, default, local(10, day=day)) is None
    ended = settings_for(period_start=date(2027, 1, 12), period_end=date(2027, 1, 19))
    assert await jobs.write_report_reminder(kit.sessions, ended, local(15), time(15)) is None
    assert await jobs.write_reask(kit.sessions, ended, local(10)) is None
    assert await kit.count(Broadcast) == 0
    last_day = settings_for(period_end=TODAY)
    assert await jobs.write_report_reminder(kit.sessions, last_day, local(15), time(15))


async def test_no_reminder_when_every_enterprise_reported(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await person(kit, 501, firm, Role.CONTACT)
    await reported(kit, firm, TODAY, Figures(10, 5, 5, 5, 0))
    assert (
        await jobs.write_report_reminder(kit.sessions, settings_for(), local(15), time(15)) is None
    )
    assert await kit.count(Broadcast) == 0


async def test_a_reminder_is_written_once_even_when_two_come_due_together(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    await four_enterprises(kit)
    settings = settings_for()
    # The bot was down from 14:50 to 16:10: both reminders come due at once.
    now = local(16, 10)
    first = await jobs.write_report_reminder(kit.sessions, settings, now, time(15))
    assert first is not None
    assert await jobs.write_report_reminder(kit.sessions, settings, now, time(16)) is None
    assert await jobs.write_report_reminder(kit.sessions, settings, now, time(15)) is None
    row = await only_broadcast(kit)
    assert message_parts(row.text or "")[0] == "report.remind.overdue", "it is late by now"
    # The next day's reminder is a new one.
    tomorrow = local(15, day=TODAY + timedelta(days=1))
    assert await jobs.write_report_reminder(kit.sessions, settings, tomorrow, time(15))


async def test_each_reminder_time_of_a_day_writes_its_own(db: AsyncEngine) -> None:
    kit = Kit(db)
    people = await four_enterprises(kit)
    settings = settings_for()
    first = await jobs.write_report_reminder(kit.sessions, settings, local(15), time(15))
    await recipients(kit, first, local(15))
    # The yesterday-only enterprise reports in between; the 16:00 reminder skips it.
    yesterday = next(p for p in await kit.rows(Person) if p.id == people["yesterday"])
    assert yesterday.enterprise_id is not None
    await reported(kit, yesterday.enterprise_id, TODAY, Figures(3, 3, 0, 0, 0))
    second = await jobs.write_report_reminder(kit.sessions, settings, local(16), time(16))
    assert await recipients(kit, second, local(16)) == {people["silent"], people["deputy"]}


# Asking workers again ----------------------------------------------------------------------------


async def workers_to_ask(kit: Kit) -> dict[str, int]:
    firm = await enterprise(kit)
    ids = {
        name: await person(kit, 100 + n, firm)
        for n, name in enumerate(
            ["due", "not_yet", "stale", "fresh", "silent", "going", "blocked", "replanned"]
        )
    }
    await checked_in(kit, ids["due"], firm, Plan.UNDECIDED, TODAY - timedelta(days=3), TODAY)
    await checked_in(
        kit, ids["not_yet"], firm, Plan.UNDECIDED, TODAY - timedelta(days=1), TODAY + timedelta(2)
    )
    await checked_in(kit, ids["stale"], firm, Plan.STAY, TODAY - timedelta(days=8))
    await checked_in(kit, ids["fresh"], firm, Plan.STAY, TODAY - timedelta(days=7))
    await checked_in(kit, ids["going"], firm, Plan.RETURN, TODAY)
    await checked_in(kit, ids["blocked"], firm, Plan.STAY, TODAY - timedelta(days=30))
    # Undecided and due, but a newer answer replaced that plan.
    await checked_in(kit, ids["replanned"], firm, Plan.UNDECIDED, TODAY - timedelta(days=3), TODAY)
    await checked_in(kit, ids["replanned"], firm, Plan.STAY, TODAY - timedelta(days=1))
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Person).where(Person.id == ids["blocked"]).values(active=False)
        )
    await person(kit, 501, firm, Role.CONTACT)
    return ids


async def test_undecided_workers_whose_day_came_and_stale_workers_are_asked_again(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    ids = await workers_to_ask(kit)
    now = local(10)
    number = await jobs.write_reask(kit.sessions, settings_for(), now)
    assert await recipients(kit, number, now) == {ids["due"], ids["stale"], ids["silent"]}
    row = await only_broadcast(kit)
    async with kit.sessions() as session:
        content = await render_content(session, catalogs(), row, "zh_Hant")
    assert "/checkin" in content.text and "計劃" in content.text


async def test_asking_again_keeps_its_rhythm(db: AsyncEngine) -> None:
    kit = Kit(db)
    ids = await workers_to_ask(kit)
    settings = settings_for(reask_every_days=3)
    asked = []
    for days in range(4):
        now = local(10, day=TODAY + timedelta(days=days))
        number = await jobs.write_reask(kit.sessions, settings, now)
        asked.append(await recipients(kit, number, now) if number else set())
        if days == 0:
            assert await jobs.write_reask(kit.sessions, settings, local(18)) is None, "daily"
    assert asked == [
        {ids["due"], ids["stale"], ids["silent"]},
        {ids["fresh"]},  # its check-in of the 13th is more than 7 days old on the 21st
        {ids["not_yet"]},  # the day it asked to be asked again
        # Three days on, those still undecided, stale or silent are asked once more.
        {ids["due"], ids["stale"], ids["silent"]},
    ]


async def test_a_contacts_nudge_counts_for_the_rhythm(db: AsyncEngine) -> None:
    kit = Kit(db)
    ids = await workers_to_ask(kit)
    firm = next(p for p in await kit.rows(Person) if p.id == ids["stale"]).enterprise_id
    assert firm is not None
    yesterday = local(11, day=TODAY - timedelta(days=1))
    async with kit.sessions() as session, session.begin():
        nudge = await broadcasts.add(
            session,
            Broadcast(
                content_kind=ContentKind.MESSAGE,
                text=message_text("checkin.remind.contact", enterprise="城建一公司"),
                audience=Audience(
                    role=Role.WORKER, enterprise_id=firm, stale_before="2027-01-13"
                ).to_json(),
                send_at=yesterday,
                status=broadcasts.BroadcastStatus.SCHEDULED,
                created_at=yesterday,
            ),
        )
        number = nudge.id
    assert await recipients(kit, number, yesterday) == {ids["stale"], ids["silent"]}
    now = local(10)
    asked = await recipients(kit, await jobs.write_reask(kit.sessions, settings_for(), now), now)
    assert asked == {ids["due"]}


# The scheduler: registering, running, restarting ------------------------------------------------


def url_of(db: AsyncEngine) -> str:
    return db.url.render_as_string(hide_password=False)


@pytest.fixture(autouse=True)
async def no_job_store_left(db: AsyncEngine) -> AsyncIterator[None]:
    """On PostgreSQL the job store is a table of the database: drop it, the schema test
    compares the database with the models."""
    yield
    if db.dialect.name == "postgresql":
        async with db.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS apscheduler_jobs"))


@asynccontextmanager
async def background(db: AsyncEngine, clock: Clock, **reporting: Any) -> AsyncIterator[Background]:
    """The scheduler service over this database, started without its sender."""
    app = await build_app(settings_for(url_of(db), **reporting), clock=clock, run_migrations=False)
    service = Background(app)
    try:
        yield service
    finally:
        if service.scheduler.running:
            service.scheduler.shutdown(wait=False)
            await asyncio.sleep(0.05)
        await service.release()
        await app.close()


FAR = {"period_start": date(2099, 1, 1), "period_end": date(2099, 1, 31)}


def reporting_jobs(service: Background) -> list[str]:
    """The ids of this module's jobs (other modules add theirs too)."""
    return sorted(
        job.id
        for job in service.scheduler.get_jobs()
        if job.id.startswith(jobs.REMINDER_JOB) or job.id == jobs.REASK_JOB
    )


async def test_register_adds_one_job_per_time_and_keeps_unchanged_ones(db: AsyncEngine) -> None:
    kit = Kit(db)
    async with background(db, kit.clock, **FAR) as service:
        service.scheduler.start()
        jobs.register(service)
        ids = reporting_jobs(service)
        assert ids == ["checkin-reask", "report-reminder:15:00:00", "report-reminder:16:00:00"]
        job = service.scheduler.get_job("report-reminder:15:00:00")
        assert job.next_run_time == datetime(2099, 1, 1, 15, tzinfo=ZONE)
        # A next run kept in the store (say, one missed while the bot was down) survives a
        # restart's registration when nothing changed...
        kept = datetime(2099, 1, 3, 15, tzinfo=ZONE)
        service.scheduler.modify_job("report-reminder:15:00:00", next_run_time=kept)
        jobs.register(service)
        assert service.scheduler.get_job("report-reminder:15:00:00").next_run_time == kept
    # ... and a changed configuration replaces the jobs.
    async with background(db, kit.clock, reminder_times=[time(14, 30)], **FAR) as service:
        service.scheduler.start()
        jobs.register(service)
        assert reporting_jobs(service) == ["checkin-reask", "report-reminder:14:30:00"]


async def test_no_jobs_once_the_reporting_period_is_over(db: AsyncEngine) -> None:
    kit = Kit(db)
    past = {"period_start": date(2020, 1, 1), "period_end": date(2020, 1, 31)}
    async with background(db, kit.clock, **FAR) as service:
        service.scheduler.start()
        jobs.register(service)
        assert len(reporting_jobs(service)) == 3
    async with background(db, kit.clock, **past) as service:
        service.scheduler.start()
        jobs.register(service)
        assert reporting_jobs(service) == []


async def test_the_jobs_enqueue_through_the_running_service(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(db)
    people = await four_enterprises(kit)
    kit.clock.now = local(15)
    async with background(db, kit.clock) as service:
        monkeypatch.setattr(scheduler_module, "_service", service)
        await jobs.remind_unreported("15:00:00")
        await jobs.reask_workers()
    rows = [d for d in await kit.rows(Delivery) if isinstance(d, Delivery)]
    assert {d.person_id for d in rows} == {
        people["silent"],
        people["deputy"],
        people["yesterday"],
        people["worker"],
    }
    assert {d.language for d in rows if d.person_id == people["deputy"]} == {"en"}


async def test_without_a_service_the_jobs_do_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    await four_enterprises(kit)
    await jobs.remind_unreported("15:00:00")
    await jobs.reask_workers()
    assert await kit.count(Broadcast) == 0


async def test_a_restart_neither_loses_nor_doubles_a_reminder(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(ZONE)
    if now.time() > time(23, 59, 30):
        pytest.skip("too close to midnight for a reminder a few seconds ahead")
    today = now.date()
    kit = Kit(db)
    firm = await enterprise(kit)
    contact_id = await person(kit, 501, firm, Role.CONTACT)
    slot = (now + timedelta(seconds=3)).time().replace(microsecond=0)
    config = {
        "reminder_times": [slot],
        "period_start": today - timedelta(days=1),
        "period_end": today + timedelta(days=1),
    }
    job_id = f"report-reminder:{slot:%H:%M:%S}"
    async with background(db, utc_now, **config) as first:
        first.scheduler.start()
        jobs.register(first)
        job = first.scheduler.get_job(job_id)
        assert job.next_run_time == datetime.combine(today, slot, ZONE)
    # The bot is down when the reminder is due...
    due = datetime.combine(today, slot, ZONE) + timedelta(seconds=1)
    await asyncio.sleep(max((due - datetime.now(ZONE)).total_seconds(), 0))
    assert await kit.count(Broadcast) == 0
    # ... and sends it once when it is back, within the grace time.
    async with background(db, utc_now, **config) as second:
        monkeypatch.setattr(scheduler_module, "_service", second)
        second.scheduler.start()
        jobs.register(second)
        for _ in range(100):
            if await kit.count(Delivery):
                break
            await asyncio.sleep(0.1)
    assert await kit.count(Broadcast) == 1
    [delivery] = [d for d in await kit.rows(Delivery) if isinstance(d, Delivery)]
    assert delivery.person_id == contact_id
    # Another restart the same day writes nothing more.
    async with background(db, utc_now, **config) as third:
        monkeypatch.setattr(scheduler_module, "_service", third)
        third.scheduler.start()
        jobs.register(third)
        await asyncio.sleep(1.0)
        assert third.scheduler.get_job(job_id).next_run_time.date() == today + timedelta(days=1)
    assert await kit.count(Broadcast) == 1


# Catalog messages as broadcasts ----------------------------------------------------------------


def test_a_message_text_carries_its_key_and_parameters() -> None:
    text = message_text("checkin.remind.contact", enterprise="A&B 公司?=x")
    assert message_parts(text) == ("checkin.remind.contact", {"enterprise": "A&B 公司?=x"})
    assert message_parts("checkin.remind.again") == ("checkin.remind.again", {})


async def test_a_message_renders_parameters_escaped(db: AsyncEngine) -> None:
    kit = Kit(db)
    row = Broadcast(
        content_kind=ContentKind.MESSAGE,
        text=message_text("checkin.remind.contact", enterprise="<A&B>"),
        audience=Audience().to_json(),
    )
    async with kit.sessions() as session:
        content = await render_content(session, catalogs(), row, "zh_Hans")
    assert content.kind is ContentKind.TEXT
    assert content.text.startswith("📣 &lt;A&amp;B&gt; 提醒您")


# Nominations: the reminder before the deadline, the close after it --------------------------------

DEADLINE = date(2027, 2, 14)


def nomination_settings(url: str = "sqlite+aiosqlite:///unused.db", **config: Any) -> Settings:
    return Settings(
        telegram=TelegramSettings(token=SecretStr(TOKEN)),
        database=DatabaseSettings(url=url),
        nominations=NominationSettings(**{"deadline": DEADLINE, **config}),
    )


async def nomination_of(
    kit: Kit, enterprise_id: int, *, measure: bool, summary: bool, submit: bool = False
) -> None:
    async with kit.sessions() as session, session.begin():
        draft = await nominations.start(session, enterprise_id, None, kit.clock())
        if measure:
            await nominations.set_measure(
                session, draft, Measure.WAGES, "每月10日按时足额发放", kit.clock()
            )
        if summary:
            await nominations.set_summary(
                session, draft, "春节期间留守职工全部按时发薪", kit.clock()
            )
        if submit:
            assert await nominations.submit(session, draft, kit.clock())


NOMINATING = {
    "none": "未申报企业",
    "complete": "草稿完整企业",
    "no_summary": "缺总结企业",
    "no_measure": "缺措施企业",
    "empty": "空草稿企业",
    "submitted": "已提交企业",
    "inactive": "已停用企业",
}


async def nominating_enterprises(kit: Kit) -> tuple[dict[str, int], dict[str, int]]:
    """Enterprises (their ids, and their contacts' person ids) with no nomination, drafts
    complete and not, a submitted nomination, and an inactive one with a complete draft."""
    ids = {key: await enterprise(kit, name) for key, name in NOMINATING.items()}
    await nomination_of(kit, ids["complete"], measure=True, summary=True)
    await nomination_of(kit, ids["no_summary"], measure=True, summary=False)
    await nomination_of(kit, ids["no_measure"], measure=False, summary=True)
    await nomination_of(kit, ids["empty"], measure=False, summary=False)
    await nomination_of(kit, ids["submitted"], measure=True, summary=True, submit=True)
    await nomination_of(kit, ids["inactive"], measure=True, summary=True)
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Enterprise).where(Enterprise.id == ids["inactive"]).values(active=False)
        )
    contacts = {
        key: await person(kit, 600 + n, ids[key], Role.CONTACT) for n, key in enumerate(ids)
    }
    await person(kit, 101, ids["none"])  # a worker: never reminded of nominations
    return ids, contacts


async def told(kit: Kit, numbers: list[int], now: datetime) -> dict[int, tuple[str, set[int]]]:
    """Each broadcast's enterprise: its message key and the people it reaches."""
    result: dict[int, tuple[str, set[int]]] = {}
    for number in numbers:
        async with kit.sessions() as session:
            row = await broadcasts.get(session, number)
        assert row is not None
        key, params = message_parts(row.text or "")
        assert params["deadline"] == "2027-02-14"
        enterprise_id = Audience.from_json(row.audience).enterprise_id
        assert enterprise_id is not None
        result[enterprise_id] = (key, await recipients(kit, number, now))
    return result


async def statuses(kit: Kit) -> dict[int, NominationStatus]:
    rows = [n for n in await kit.rows(Nomination) if isinstance(n, Nomination)]
    return {n.enterprise_id: n.status for n in rows}


async def test_contacts_without_a_submitted_nomination_are_reminded_once_before_the_deadline(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    ids, contacts = await nominating_enterprises(kit)
    settings = nomination_settings()
    early = local(10, day=DEADLINE - timedelta(days=3))
    assert await jobs.write_nomination_reminders(kit.sessions, settings, early) == []
    now = local(10, day=DEADLINE - timedelta(days=2))
    numbers = await jobs.write_nomination_reminders(kit.sessions, settings, now)
    draft = "nominate.remind.draft"
    assert await told(kit, numbers, now) == {
        ids["none"]: ("nominate.remind.none", {contacts["none"]}),
        ids["complete"]: (draft, {contacts["complete"]}),
        ids["no_summary"]: (draft, {contacts["no_summary"]}),
        ids["no_measure"]: (draft, {contacts["no_measure"]}),
        ids["empty"]: (draft, {contacts["empty"]}),
    }
    # Once per enterprise: the same day again, the next days, and the deadline write nothing.
    for day in range(-2, 1):
        for hour in (10, 15):
            moment = local(hour, day=DEADLINE + timedelta(days=day))
            assert await jobs.write_nomination_reminders(kit.sessions, settings, moment) == []
    after = local(10, day=DEADLINE + timedelta(days=1))
    assert await jobs.write_nomination_reminders(kit.sessions, settings, after) == []
    assert await kit.count(Broadcast) == len(numbers)


async def test_how_many_days_before_the_deadline_the_reminder_comes_is_configured(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await person(kit, 501, firm, Role.CONTACT)
    for days in (5, 0):
        settings = nomination_settings(remind_days_before=days)
        before = local(10, day=DEADLINE - timedelta(days=days + 1))
        assert await jobs.write_nomination_reminders(kit.sessions, settings, before) == []
        due = local(10, day=DEADLINE - timedelta(days=days))
        assert len(await jobs.write_nomination_reminders(kit.sessions, settings, due)) == 1
        async with kit.sessions() as session, session.begin():
            await session.execute(delete(Broadcast))


async def test_after_the_deadline_complete_drafts_are_submitted_and_the_contacts_told(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    ids, contacts = await nominating_enterprises(kit)
    settings = nomination_settings()
    last_minute = local(23, 59, day=DEADLINE)
    assert await jobs.write_nomination_close(kit.sessions, settings, last_minute) == []
    assert (await statuses(kit))[ids["complete"]] is NominationStatus.DRAFT
    now = local(0, 5, day=DEADLINE + timedelta(days=1))
    numbers = await jobs.write_nomination_close(kit.sessions, settings, now)
    assert await told(kit, numbers, now) == {
        ids["complete"]: ("nominate.deadline.submitted", {contacts["complete"]}),
        ids["no_summary"]: ("nominate.deadline.no_summary", {contacts["no_summary"]}),
        ids["no_measure"]: ("nominate.deadline.no_measure", {contacts["no_measure"]}),
        ids["empty"]: ("nominate.deadline.incomplete", {contacts["empty"]}),
    }
    after = await statuses(kit)
    assert after == {
        ids["complete"]: NominationStatus.SUBMITTED,
        ids["no_summary"]: NominationStatus.DRAFT,
        ids["no_measure"]: NominationStatus.DRAFT,
        ids["empty"]: NominationStatus.DRAFT,
        ids["submitted"]: NominationStatus.SUBMITTED,
        ids["inactive"]: NominationStatus.DRAFT,
    }
    async with kit.sessions() as session:
        submitted = await nominations.for_enterprise(session, ids["complete"])
    assert submitted is not None and submitted.submitted_at == now
    # The job runs every hour: the next runs submit and tell nothing again.
    for hours in (1, 25):
        again = now + timedelta(hours=hours)
        assert await jobs.write_nomination_close(kit.sessions, settings, again) == []
    assert await kit.count(Broadcast) == len(numbers)
    assert await statuses(kit) == after


async def test_the_closing_messages_say_why_in_the_contacts_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    row = Broadcast(
        content_kind=ContentKind.MESSAGE,
        text=message_text(
            "nominate.deadline.no_summary", enterprise="<A&B>", deadline="2027-02-14"
        ),
        audience=Audience().to_json(),
    )
    async with kit.sessions() as session:
        chinese = await render_content(session, catalogs(), row, "zh_Hans")
        english = await render_content(session, catalogs(), row, "en")
    assert (
        "2027-02-14 24 时截止" in chinese.text
        and "&lt;A&amp;B&gt; 的申报草稿没有写总结" in chinese.text
    )
    assert "The draft of &lt;A&amp;B&gt; has no summary" in english.text


@asynccontextmanager
async def nomination_background(
    db: AsyncEngine, clock: Clock, **config: Any
) -> AsyncIterator[Background]:
    """The scheduler service over this database with these nomination settings."""
    app = await build_app(
        nomination_settings(url_of(db), **config), clock=clock, run_migrations=False
    )
    service = Background(app)
    try:
        yield service
    finally:
        if service.scheduler.running:
            service.scheduler.shutdown(wait=False)
            await asyncio.sleep(0.05)
        await service.release()
        await app.close()


async def test_the_nomination_jobs_are_registered_for_the_configured_days(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    far = date(2099, 2, 14)
    async with nomination_background(db, kit.clock, deadline=far, remind_days_before=3) as service:
        service.scheduler.start()
        jobs.register(service)
        reminder = service.scheduler.get_job(jobs.NOMINATION_REMIND_JOB)
        assert reminder.next_run_time == datetime(2099, 2, 11, 10, tzinfo=ZONE)
        close = service.scheduler.get_job(jobs.NOMINATION_CLOSE_JOB)
        assert close.next_run_time == datetime(2099, 2, 15, 0, 5, tzinfo=ZONE)
    # Once the reminder days are past there is no reminder job; the close job stays.
    async with nomination_background(db, kit.clock, deadline=date(2020, 2, 14)) as service:
        service.scheduler.start()
        jobs.register(service)
        assert service.scheduler.get_job(jobs.NOMINATION_REMIND_JOB) is None
        assert service.scheduler.get_job(jobs.NOMINATION_CLOSE_JOB) is not None


async def test_the_nomination_jobs_enqueue_through_the_running_service(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(db)
    ids, contacts = await nominating_enterprises(kit)
    await jobs.close_nominations()  # no service: nothing
    assert await kit.count(Broadcast) == 0
    kit.clock.now = local(10, day=DEADLINE - timedelta(days=2))
    async with nomination_background(db, kit.clock) as service:
        monkeypatch.setattr(scheduler_module, "_service", service)
        await jobs.remind_nominations()
        reminded = {d.person_id for d in await kit.rows(Delivery) if isinstance(d, Delivery)}
        kit.clock.now = local(0, 5, day=DEADLINE + timedelta(days=1))
        await jobs.close_nominations()
        await jobs.close_nominations()
    assert reminded == {
        contacts[k] for k in ("none", "complete", "no_summary", "no_measure", "empty")
    }
    rows = [d for d in await kit.rows(Delivery) if isinstance(d, Delivery)]
    assert len(rows) == len(reminded) + 4, "four drafts closed, each told once"
    assert (await statuses(kit))[ids["complete"]] is NominationStatus.SUBMITTED
