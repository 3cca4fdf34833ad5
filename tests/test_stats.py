"""The day's picture on a generated district, with expected figures computed independently."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import SendMade, SendText
from handlers.flows.stats import mask_phone
from models import broadcasts, organisation, reports, stats
from models.broadcasts import Audience, Broadcast
from models.checkins import CheckIn, Plan
from models.people import Person, Role
from models.reports import Figures
from tests.harness import Kit, keys
from tests.test_flow_broadcast import member

DAY = date(2027, 1, 20)
NOON = datetime(2027, 1, 20, 4, 0, tzinfo=UTC)


@dataclass
class Expected:
    """What the generator wrote, summed by plain Python."""

    enterprises: int = 0
    on_time: int = 0
    late: int = 0
    staying: dict[str, int] = field(default_factory=dict)
    gone: dict[str, int] = field(default_factory=dict)
    total: int = 0
    on_duty: int = 0
    yesterday_staying: int = 0
    plans: dict[Plan | None, int] = field(default_factory=dict)


async def district(kit: Kit, seed: int = 7) -> Expected:
    """Three towns, dozens of enterprises, revisions, late and missing reports, workers."""
    rng = random.Random(seed)
    expected = Expected()
    async with kit.sessions() as session, session.begin():
        for town_name in ("东湖镇", "西山镇", "南岗街道"):
            town = await organisation.get_or_create_town(session, town_name)
            expected.staying[town_name] = expected.gone[town_name] = 0
            for number in range(12):
                enterprise = await organisation.add_enterprise(
                    session, f"{town_name}企业{number:02d}", town, NOON
                )
                expected.enterprises += 1
                for day, today in ((DAY - timedelta(days=1), False), (DAY, True)):
                    if rng.random() < 0.2:
                        continue  # missing that day
                    revisions = rng.choice((1, 1, 2))
                    late = rng.random() < 0.25
                    figures = Figures(0, 0, 0, 0, 0)
                    for _ in range(revisions):
                        total = rng.randint(10, 200)
                        staying = rng.randint(0, total)
                        gone = rng.randint(0, total - staying)
                        figures = Figures(total, staying, gone, rng.randint(0, staying), 0)
                        await reports.submit(
                            session,
                            figures,
                            enterprise_id=enterprise.id,
                            local_date=day,
                            submitted_by=None,
                            now=NOON,
                            late=late,
                        )
                    if today:
                        expected.on_time += not late
                        expected.late += late
                        expected.staying[town_name] += figures.staying
                        expected.gone[town_name] += figures.gone_home
                        expected.total += figures.total
                        expected.on_duty += figures.on_duty
                    else:
                        expected.yesterday_staying += figures.staying
                for _ in range(3):
                    person = Person(
                        telegram_user_id=None,
                        role=Role.WORKER,
                        language="zh_Hans",
                        enterprise_id=enterprise.id,
                        enrolled_at=NOON,
                        active=True,
                    )
                    session.add(person)
                    await session.flush()
                    plans = rng.choice(((), (Plan.STAY,), (Plan.UNDECIDED, Plan.RETURN)))
                    for index, plan in enumerate(plans):
                        session.add(
                            CheckIn(
                                person_id=person.id,
                                enterprise_id=enterprise.id,
                                created_at=NOON,
                                local_date=DAY - timedelta(days=len(plans) - index - 1),
                                plan=plan,
                                needs=[],
                            )
                        )
                    current = plans[-1] if plans else None
                    expected.plans[current] = expected.plans.get(current, 0) + 1
    return expected


async def test_the_day_adds_up(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        picture = await stats.picture(session, DAY)
    line = picture.district
    assert line.enterprises == expected.enterprises == 36
    assert (line.on_time, line.late) == (expected.on_time, expected.late)
    assert line.missing == 36 - expected.on_time - expected.late
    assert line.totals.staying == sum(expected.staying.values())
    assert line.totals.gone_home == sum(expected.gone.values())
    assert line.totals.total == expected.total
    assert line.totals.on_duty == expected.on_duty
    assert picture.previous.staying == expected.yesterday_staying
    assert {t.name: t.totals.staying for t in picture.towns} == expected.staying
    assert picture.plans == {k: v for k, v in expected.plans.items() if v}
    assert picture.workers == 108


async def test_a_town_officer_sees_only_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        town = await organisation.find_town(session, "西山镇")
        assert town is not None
        picture = await stats.picture(session, DAY, town.id)
        missing = await stats.missing(session, DAY, town.id)
    assert [t.name for t in picture.towns] == ["西山镇"]
    assert picture.district.totals.staying == expected.staying["西山镇"]
    assert picture.workers == 36
    assert all(m.town == "西山镇" for m in missing)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="西山镇")
    answer = await officer.command("stats")
    [said] = [a for a in answer.actions if isinstance(a, SendText)]
    text = kit.render("zh_Hans", said.text)
    assert "西山镇" in text and "东湖镇" not in text
    read = picture.letter_read
    assert f"已阅读公开信：{read} 人（{round(100 * read / 36)}%）" in text, "a count and a share"


async def test_gaps_list_the_widest_first(db: AsyncEngine) -> None:
    kit = Kit(db)
    await district(kit)
    async with kit.sessions() as session:
        found = await stats.gaps(session, DAY)
    sizes = [gap.size for gap in found]
    assert sizes == sorted(sizes, reverse=True)
    assert any(size > 0 for size in sizes)


async def test_the_trend_has_every_day(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        days = await stats.trend(session, DAY - timedelta(days=3), DAY)
    assert [d.day for d in days] == [DAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    assert days[0].reported == 0 and days[0].totals.staying == 0
    assert days[-1].totals.staying == sum(expected.staying.values())


async def test_staff_commands(db: AsyncEngine) -> None:
    kit = Kit(db)
    await district(kit)
    staff = await member(kit, 900)
    assert keys(await staff.command("stats")) == ["stats.text"]
    assert keys(await staff.command("stats", "2月30日")) == ["error.date.no_such_day"]
    assert keys(await staff.command("missing")) == ["stats.text"]
    answer = await staff.command("export", "1月19日 1月20日")
    [made] = [a for a in answer.actions if isinstance(a, SendMade)]
    assert made.what == "export" and made.params["mask"] is True
    assert made.params["first"] == "2027-01-19"
    assert keys(await staff.command("export", "1月20日 1月19日")) == ["stats.export_order"]
    answer = await staff.command("trend")
    assert [a.what for a in answer.actions if isinstance(a, SendMade)] == ["trend"]
    stranger = kit.user(100)
    assert keys(await stranger.command("stats")) == ["error.not_allowed"]


def test_phones_are_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(None) == ""


async def test_missing_and_remind_them_all(db: AsyncEngine) -> None:
    kit = Kit(db)
    enterprise_id, _ = await kit.add_enterprise("东湖一厂", "东湖镇")
    await kit.add_enterprise("东湖二厂", "东湖镇")
    contact = await member(kit, 800, Role.CONTACT)
    async with kit.sessions() as session, session.begin():
        row = await session.get(Person, 1)
        assert row is not None and row.telegram_user_id == 800
        row.enterprise_id = enterprise_id
    staff = await member(kit, 900)
    answer = await staff.command("missing")
    assert keys(answer) == ["stats.text"]
    assert staff.button_keys() == ["missing.remind_all"]
    answer = await staff.press("missing.remind_all")
    assert keys(answer) == ["missing.reminding"]
    async with kit.sessions() as session:
        [reminder] = await session.scalars(select(Broadcast))
        audience = Audience.from_json(reminder.audience)
        assert audience.unreported_on == "2027-01-20" and audience.role is Role.CONTACT
        assert await broadcasts.count_audience(session, audience) == 1
    assert keys(await contact.press_data("!remindmissing|2027-01-20")) == ["error.not_allowed"]
    assert keys(await staff.press_data("!remindmissing|2027-01-19")) == ["missing.day_passed"]
