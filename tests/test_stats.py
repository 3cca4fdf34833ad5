"""The day's picture on a generated district, with expected figures computed independently."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import daily
from handlers.actions import AnswerButton, SendMade, SendText
from models import broadcasts, organisation, reports, stats
from models.broadcasts import Audience, Broadcast, LetterRead
from models.checkins import CheckIn, Plan
from models.people import Person, Role
from models.reports import Figures
from tests.harness import ZONE, Kit, keys
from tests.test_daily import Recording, background
from tests.test_flow_broadcast import member
from tests.test_sender import drain

DAY = date(2027, 1, 20)
NOON = datetime(2027, 1, 20, 4, 0, tzinfo=UTC)


@dataclass
class Expected:
    """What the generator wrote, summed by plain Python."""

    enterprises: int = 0
    on_time: dict[str, int] = field(default_factory=dict)
    late: dict[str, int] = field(default_factory=dict)
    # By town: [total, staying, gone home, on duty, newly arrived], today and the day before;
    # today's counts an enterprise that did not report today by its figures of the day before.
    today: dict[str, list[int]] = field(default_factory=dict)
    carried: dict[str, int] = field(default_factory=dict)
    before: dict[str, list[int]] = field(default_factory=dict)
    plans: dict[Plan | None, int] = field(default_factory=dict)
    read: int = 0
    # By enterprise: today's reported (staying, gone home), and its workers' current plans.
    reported: dict[str, tuple[int, int]] = field(default_factory=dict)
    said: dict[str, dict[Plan | None, int]] = field(default_factory=dict)

    def district(self, figures: dict[str, list[int]]) -> list[int]:
        return [sum(column) for column in zip(*figures.values(), strict=True)]


async def district(kit: Kit, seed: int = 7) -> Expected:
    """Three towns, dozens of enterprises, revisions, late and missing reports, workers."""
    rng = random.Random(seed)
    expected = Expected()
    async with kit.sessions() as session, session.begin():
        for town_name in ("东湖镇", "西山镇", "南岗街道"):
            town = await organisation.get_or_create_town(session, town_name)
            expected.today[town_name] = [0] * 5
            expected.before[town_name] = [0] * 5
            expected.on_time[town_name] = expected.late[town_name] = 0
            expected.carried[town_name] = 0
            for number in range(12):
                name = f"{town_name}企业{number:02d}"
                enterprise = await organisation.add_enterprise(session, name, town, NOON)
                expected.enterprises += 1
                reported_before: tuple[int, ...] | None = None
                for day, today in ((DAY - timedelta(days=1), False), (DAY, True)):
                    if rng.random() < 0.2:
                        if today and reported_before is not None:
                            # Carried forward: yesterday's figures, never zero.
                            counted = expected.today[town_name]
                            expected.today[town_name] = [
                                a + b for a, b in zip(counted, reported_before, strict=True)
                            ]
                            expected.carried[town_name] += 1
                        continue  # missing that day
                    revisions = rng.choice((1, 1, 2))
                    late = rng.random() < 0.25
                    figures = Figures(0, 0, 0, 0, 0)
                    for _ in range(revisions):
                        total = rng.randint(10, 200)
                        staying = rng.randint(0, total)
                        gone = rng.randint(0, total - staying)
                        on_duty, new = rng.randint(0, staying), rng.randint(0, 5)
                        figures = Figures(total, staying, gone, on_duty, new)
                        await reports.submit(
                            session,
                            figures,
                            enterprise_id=enterprise.id,
                            local_date=day,
                            submitted_by=None,
                            now=NOON,
                            late=late,
                        )
                    sums = expected.today if today else expected.before
                    values = (total, staying, gone, on_duty, new)
                    reported_before = values
                    sums[town_name] = [a + b for a, b in zip(sums[town_name], values, strict=True)]
                    if today:
                        expected.on_time[town_name] += not late
                        expected.late[town_name] += late
                        expected.reported[name] = (staying, gone)
                expected.said[name] = {}
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
                    said = expected.said[name]
                    said[current] = said.get(current, 0) + 1
                    if rng.random() < 0.4:
                        session.add(LetterRead(person_id=person.id, read_at=NOON))
                        expected.read += 1
    return expected


def figures_of(totals: stats.Totals) -> list[int]:
    return [totals.total, totals.staying, totals.gone_home, totals.on_duty, totals.new_arrivals]


async def test_the_day_adds_up(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        picture = await stats.picture(session, DAY, zone=ZONE)
    line = picture.district
    assert line.enterprises == expected.enterprises == 36
    on_time, late = sum(expected.on_time.values()), sum(expected.late.values())
    assert (line.on_time, line.late, line.missing) == (on_time, late, 36 - on_time - late)
    carried = sum(expected.carried.values())
    assert line.carried == carried > 0
    assert line.unknown == line.missing - carried
    assert line.rate == round(100 * (on_time + late) / 36)
    assert figures_of(line.totals) == expected.district(expected.today)
    assert figures_of(picture.previous) == expected.district(expected.before)
    total, staying, gone = expected.district(expected.today)[:3]
    assert line.totals.undecided == total - staying - gone
    for town in picture.towns:
        assert (town.on_time, town.late) == (expected.on_time[town.name], expected.late[town.name])
        assert town.carried == expected.carried[town.name]
        assert figures_of(town.totals) == expected.today[town.name], town.name
        assert figures_of(town.before) == expected.before[town.name], town.name
    assert [t.name for t in picture.towns] == sorted(expected.today)
    assert picture.plans == {k: v for k, v in expected.plans.items() if v}
    assert picture.workers == 108
    assert picture.letter_read == expected.read > 0


async def test_a_town_officer_sees_only_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        town = await organisation.find_town(session, "西山镇")
        assert town is not None
        picture = await stats.picture(session, DAY, town.id, zone=ZONE)
        missing = await stats.missing(session, DAY, town.id)
    assert [t.name for t in picture.towns] == ["西山镇"]
    assert figures_of(picture.district.totals) == expected.today["西山镇"]
    assert picture.workers == 36
    assert {g.enterprise.town for g in picture.gaps} == {"西山镇"}
    assert all(m.town == "西山镇" for m in missing)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="西山镇")
    answer = await officer.command("stats")
    [said] = [a for a in answer.actions if isinstance(a, SendText)]
    text = kit.render("zh_Hans", said.text)
    assert "西山镇" in text and "东湖镇" not in text
    read = picture.letter_read
    # Everyone of this district came through Telegram: the split names that channel alone.
    share = f"已阅读公开信：{read} 人（{round(100 * read / 36)}%；Telegram {read}）"
    assert share in text, "a count, a share and the channels"


async def test_each_town_shows_every_total_with_its_change(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    staff = await member(kit, 900)
    answer = await staff.command("stats")
    [said] = [a for a in answer.actions if isinstance(a, SendText)]
    # Carried figures make totals of thousands: read them without any grouping separator.
    text = kit.render("zh_Hans", said.text).replace(",", "")
    for town, now in expected.today.items():
        before = expected.before[town]
        change = [f"{n - b:+d}" if n != b else "±0" for n, b in zip(now, before, strict=True)]
        assert (
            f"外地务工人员 {now[0]}（{change[0]}），在本地过年 {now[1]}（{change[1]}）" in text
        ), town
        assert f"节日在岗 {now[3]}（{change[3]}），新到岗 {now[4]}（{change[4]}）" in text, town
    total, staying, gone, *_ = expected.district(expected.today)
    total_before, staying_before, gone_before, *_ = expected.district(expected.before)
    undecided_change = (total - staying - gone) - (total_before - staying_before - gone_before)
    words = "多" if undecided_change > 0 else "少"
    assert f"未定：{total - staying - gone}（比前一天{words} {abs(undecided_change)}）" in text


async def test_gaps_are_each_enterprises_report_against_its_workers(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        found = (await stats.picture(session, DAY, zone=ZONE)).gaps
    sizes = [gap.size for gap in found]
    assert sizes == sorted(sizes, reverse=True)
    for gap in found:
        name = gap.enterprise.name
        said = expected.said[name]
        assert gap.said == {plan: n for plan, n in said.items() if n}
        if name not in expected.reported:
            assert gap.reported is None and gap.size == 0
            continue
        staying, gone = expected.reported[name]
        width = abs(staying - said.get(Plan.STAY, 0)) + abs(gone - said.get(Plan.RETURN, 0))
        assert gap.size == width, name
    assert any(size > 0 for size in sizes)


async def test_gaps_past_the_threshold_come_first_and_the_rest_are_counted(
    db: AsyncEngine,
) -> None:
    kit = Kit(db, gap_threshold=60)
    expected = await district(kit)
    staff = await member(kit, 900)
    answer = await staff.command("stats")
    [said] = [a for a in answer.actions if isinstance(a, SendText)]
    text = kit.render("zh_Hans", said.text)
    wide = within = 0
    for name, (staying, gone) in expected.reported.items():
        plans = expected.said[name]
        width = abs(staying - plans.get(Plan.STAY, 0)) + abs(gone - plans.get(Plan.RETURN, 0))
        wide += width >= 60
        within += width < 60
    assert within > 0 and wide > 10
    assert text.count("：企业报在本地过年") == 10, "the ten widest"
    assert f"另有 {wide - 10} 家相差较大" in text
    assert f"其余 {within} 家已报送企业相差不到 60 人" in text


async def test_the_trend_has_every_day(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = await district(kit)
    async with kit.sessions() as session:
        days = await stats.trend(session, DAY - timedelta(days=3), DAY, zone=ZONE)
    assert [d.day for d in days] == [DAY - timedelta(days=n) for n in (3, 2, 1, 0)]
    # Before any report and before the enterprises were added, nobody was due.
    assert (days[0].due, days[0].reported, days[0].totals) == (0, 0, stats.Totals())
    assert figures_of(days[-1].totals) == expected.district(expected.today)
    assert figures_of(days[-2].totals) == expected.district(expected.before)
    today = days[-1]
    assert today.due == 36 and today.carried == sum(expected.carried.values())
    assert today.reported == sum(expected.on_time.values()) + sum(expected.late.values())
    assert not today.complete and today.rate == round(100 * today.reported / 36)
    # The day before counts only the enterprises that had reported by then (they were
    # added on the 20th): every one of them reported, so the day is complete.
    assert days[-2].complete and days[-2].carried == 0


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
    async with kit.sessions() as session, session.begin():
        assert await broadcasts.enqueue_run(session, reminder, kit.clock(), kit.clock())
    again = await staff.press_data("!remindmissing|2027-01-20")
    [alert] = again.actions
    assert isinstance(alert, AnswerButton) and alert.text is not None
    assert kit.render("zh_Hans", alert.text) == "这些联系人在 30 分钟内刚提醒过，请稍后再提醒。"
    kit.clock.advance(minutes=31)
    assert keys(await staff.press_data("!remindmissing|2027-01-20")) == ["missing.reminding"]
    assert keys(await contact.press_data("!remindmissing|2027-01-20")) == ["error.not_allowed"]
    assert keys(await staff.press_data("!remindmissing|2027-01-19")) == ["missing.day_passed"]


async def test_an_enterprise_that_has_not_reported_is_carried_never_zero(db: AsyncEngine) -> None:
    """/stats, the digest and the trend say who was due and who reported; an enterprise
    without the day's report counts by its last figures, marked as carried (沿用), and one
    that never reported is counted nowhere rather than as zero."""
    kit = Kit(db)
    reporting, _ = await kit.add_enterprise("东湖一厂", "东湖镇")
    silent, _ = await kit.add_enterprise("东湖二厂", "东湖镇")
    await kit.add_enterprise("东湖三厂", "东湖镇")  # never reports
    async with kit.sessions() as session, session.begin():
        for enterprise_id, day, figures in (
            (silent, DAY - timedelta(days=2), Figures(50, 30, 10, 5, 0)),
            (reporting, DAY - timedelta(days=1), Figures(20, 8, 10, 2, 0)),
            (reporting, DAY, Figures(20, 9, 10, 2, 1)),
        ):
            await reports.submit(
                session, figures, enterprise_id=enterprise_id, local_date=day,
                submitted_by=None, now=NOON, late=False,
            )  # fmt: skip
    async with kit.sessions() as session:
        picture = await stats.picture(session, DAY, zone=ZONE)
        days = await stats.trend(session, DAY - timedelta(days=2), DAY, zone=ZONE)
    line = picture.district
    assert (line.enterprises, line.reported, line.carried, line.unknown) == (3, 1, 1, 1)
    assert line.rate == 33
    assert (line.totals.total, line.totals.staying) == (20 + 50, 9 + 30), "not zero for 二厂"
    assert line.before.staying == 8 + 30
    staff = await member(kit, 900)
    [said] = [a for a in (await staff.command("stats")).actions if isinstance(a, SendText)]
    text = kit.render("zh_Hans", said.text)
    assert "应报 3 家，已报 1 家，报送率 33%" in text
    assert "1 家沿用最近一次报数" in text and "1 家从未报送（未计入）" in text
    assert "<b>东湖镇</b>：应报 3、已报 1（报送率 33%），迟报 0，未报 2（沿用 1）" in text
    messenger = Recording()
    await daily.digest(background(kit), kit.clock())
    await drain(kit, messenger, kit.clock)
    assert "报送率 33%" in messenger.texts[900] and "沿用" in messenger.texts[900]
    # Added on the 20th, each enterprise is due from then, or from its first report.
    assert [(d.due, d.reported, d.carried, d.complete) for d in days] == [
        (1, 1, 0, True),
        (2, 1, 1, False),
        (3, 1, 1, False),
    ]
    assert [d.totals.staying for d in days] == [30, 8 + 30, 9 + 30]
