"""The contact's /report, /myreports and /roster as plain functions: every step, each rule,
"same as yesterday", revisions, a late report, Back and Cancel, and forged buttons."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sender import render_content
from handlers.actions import EditText, Lines, Msg, Param, SendText
from handlers.engine import Answer
from handlers.flows import report as report_flow
from models import broadcasts, organisation, reports
from models.broadcasts import Audience, Broadcast, ContentKind, Delivery
from models.checkins import CheckIn, Plan
from models.people import Person, Role
from models.reports import Figures, Report
from tests.harness import Kit, SimUser, catalogs, keys

TODAY = date(2027, 1, 20)  # the harness's frozen local date, 10:00 in the morning
CONTACT = 500


async def enterprise(kit: Kit, name: str = "城建一公司") -> int:
    enterprise_id, _ = await kit.add_enterprise(name)
    return enterprise_id


async def person(
    kit: Kit,
    user_id: int,
    enterprise_id: int | None,
    role: Role = Role.WORKER,
    name: str = "张三",
    language: str = "zh_Hans",
) -> int:
    """Someone enrolled with the enterprise; their person id."""
    async with kit.sessions() as session, session.begin():
        row = Person(
            telegram_user_id=user_id,
            chat_id=user_id,
            role=role,
            language=language,
            enterprise_id=enterprise_id,
            full_name=name,
            enrolled_at=kit.clock(),
            active=True,
        )
        session.add(row)
        await session.flush()
        return row.id


async def contact(
    kit: Kit, enterprise_id: int, user_id: int = CONTACT, language: str = "zh_Hans"
) -> SimUser:
    await person(kit, user_id, enterprise_id, Role.CONTACT, "陈经理", language)
    return kit.user(user_id, "en" if language == "en" else "zh-hans")


async def checked_in(
    kit: Kit, person_id: int, enterprise_id: int, plan: Plan, on: date, again: date | None = None
) -> None:
    async with kit.sessions() as session, session.begin():
        session.add(
            CheckIn(
                person_id=person_id,
                enterprise_id=enterprise_id,
                created_at=datetime(on.year, on.month, on.day, 2, tzinfo=UTC),
                local_date=on,
                plan=plan,
                needs=[],
                ask_again_on=again,
            )
        )


async def reported(
    kit: Kit, enterprise_id: int, day: date, figures: Figures, *, late: bool = False
) -> None:
    async with kit.sessions() as session, session.begin():
        await reports.submit(
            session,
            figures,
            enterprise_id=enterprise_id,
            local_date=day,
            submitted_by=None,
            now=kit.clock(),
            late=late,
        )


async def stored(kit: Kit) -> list[Report]:
    rows = [r for r in await kit.rows(Report) if isinstance(r, Report)]
    return sorted(rows, key=lambda r: (r.local_date, r.revision))


def message(user: SimUser, key: str) -> Msg:
    """The newest message of the chat with this key."""
    for chat_message in reversed(user.messages):
        if isinstance(chat_message.text, Msg) and chat_message.text.key == key:
            return chat_message.text
    raise AssertionError(f"no message {key}")


def parts(overview: Msg) -> tuple[Param, ...]:
    """The paragraphs of a message made of several."""
    details = overview.params["details"]
    assert isinstance(details, Lines)
    return details.items


def said(kit: Kit, answer: Answer) -> str:
    """What an answer sends or edits in, as the person reads it."""
    return "\n".join(
        kit.render(answer.language, a.text)
        for a in answer.actions
        if isinstance(a, SendText | EditText)
    )


async def type_figures(user: SimUser, *figures: str) -> None:
    """From the overview to the needs question, typing each figure."""
    await user.command("report")
    assert keys(await user.press("report.enter")) == ["report.ask_total"]
    for text in figures:
        await user.send(text)


def test_the_diagram_in_the_docstring_is_the_flow() -> None:
    assert report_flow.__doc__ is not None
    assert report_flow.REPORT.mermaid() in report_flow.__doc__


# The report, step by step -------------------------------------------------------------------


async def test_the_overview_shows_what_the_workers_said(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    other = await enterprise(kit, "钢铁二厂")
    workers = []
    for n, plan in enumerate([Plan.RETURN, Plan.STAY, Plan.RETURN, Plan.UNDECIDED, None]):
        workers.append(await person(kit, 100 + n, firm))
        if plan is not None:
            await checked_in(kit, workers[-1], firm, plan, TODAY - timedelta(days=1))
    # A later answer replaces an earlier one; another enterprise's worker does not count.
    await checked_in(kit, workers[0], firm, Plan.STAY, TODAY)
    await checked_in(kit, await person(kit, 199, other), other, Plan.STAY, TODAY)
    user = await contact(kit, firm)
    assert keys(await user.command("report")) == ["report.overview"]
    overview = message(user, "report.overview")
    details = parts(overview)
    assert (
        Msg("report.tally", workers=5, staying=2, going_home=1, undecided=1, not_answered=1)
        in details
    )
    assert Msg("report.no_previous") in details
    assert Msg("report.deadline", deadline="16:00") in details
    assert user.button_keys() == ["report.enter", "nav.cancel"]
    text = user.last_text()
    assert "在本地过年 2 · 返乡过年 1 · 未定 1 · 未登记 1" in text


async def test_a_report_typed_figure_by_figure(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    user = await contact(kit, firm)
    await user.command("report")
    assert keys(await user.press("report.enter")) == ["report.ask_total"]
    assert keys(await user.send("120")) == ["report.ask_staying"]
    assert keys(await user.send("80")) == ["report.ask_gone_home"]
    assert message(user, "report.ask_gone_home").params["rest"] == 40
    assert keys(await user.send("30")) == ["report.ask_on_duty"]
    assert keys(await user.send("50")) == ["report.ask_new_arrivals"]
    assert keys(await user.send("5")) == ["report.ask_needs"]
    answer = await user.send("缺口罩 <和> 取暖器")
    assert keys(answer) == ["report.summary"]
    assert "未定：<b>10</b>" in said(kit, answer), "undecided is computed"
    assert "缺口罩 &lt;和&gt; 取暖器" in said(kit, answer)
    assert user.button_keys() == [
        *(f"report.change.{f}" for f in ("total", "staying", "gone_home", "on_duty")),
        "report.change.new_arrivals",
        "report.change.needs",
        "report.submit",
        "ui.edit",
        "nav.back",
        "nav.cancel",
    ]
    assert await stored(kit) == [], "only Submit writes"

    assert keys(await user.press("report.submit")) == ["report.saved"]
    [row] = await stored(kit)
    assert (row.enterprise_id, row.local_date, row.revision, row.late) == (firm, TODAY, 1, False)
    assert row.figures == Figures(120, 80, 30, 50, 5, "缺口罩 <和> 取暖器")
    assert row.figures.undecided == 10
    contact_row = next(p for p in await kit.rows(Person) if p.telegram_user_id == CONTACT)
    assert row.submitted_by == contact_row.id
    assert await user.state() is None


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("-3", "error.number.negative"),
        ("2.5", "error.number.whole"),
        ("很多", "error.number.not_a_number"),
        ("1001", "error.number.too_big"),
        ("   ", "error.text.empty"),
    ],
)
async def test_each_number_is_checked(db: AsyncEngine, typed: str, problem: str) -> None:
    kit = Kit(db, report_max_count=1000)
    user = await contact(kit, await enterprise(kit))
    await user.command("report")
    await user.press("report.enter")
    for step in ("total", "staying"):
        answer = await user.send(typed)
        assert keys(answer)[0] == problem, step
        state = await user.state()
        assert state is not None and state.step == step, "asked again, nothing kept"
        await user.send("10")
    assert await stored(kit) == []


async def test_a_count_within_the_maximum_is_taken(db: AsyncEngine) -> None:
    kit = Kit(db, report_max_count=1000)
    user = await contact(kit, await enterprise(kit))
    await user.command("report")
    await user.press("report.enter")
    assert keys(await user.send("1,000")) == ["report.ask_staying"]
    answer = await user.send("1001")
    assert Msg("error.number.too_big", max=1000) in [
        a.text for a in answer.actions if isinstance(a, SendText)
    ]


@pytest.mark.parametrize(
    ("figures", "problem"),
    [
        (("100", "101"), Msg("report.rule.staying", staying=101, total=100)),
        (
            ("100", "80", "21"),
            Msg("report.rule.gone_home", gone_home=21, staying=80, total=100, rest=20),
        ),
        (("100", "80", "20", "81"), Msg("report.rule.on_duty", on_duty=81, staying=80)),
        (
            ("100", "80", "20", "80", "101"),
            Msg("report.rule.new_arrivals", new_arrivals=101, total=100),
        ),
    ],
)
async def test_each_rule_between_the_figures_explains_itself(
    db: AsyncEngine, figures: tuple[str, ...], problem: Msg
) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    await type_figures(user, *figures[:-1])
    state = await user.state()
    assert state is not None
    step = state.step
    answer = await user.send(figures[-1])
    assert next(a.text for a in answer.actions if isinstance(a, SendText)) == problem
    state = await user.state()
    assert state is not None and state.step == step
    assert figures[-1] not in [str(v) for k, v in state.data.items() if k == step]


async def test_the_rules_are_explained_in_the_persons_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit), language="en")
    await type_figures(user, "100", "80")
    answer = await user.send("30")
    assert answer.language == "en"
    assert "80 staying here and 30 gone home make more than the total of 100" in said(kit, answer)
    assert "At most 20 can have gone home" in said(kit, answer)
    hant = catalogs().render("zh_Hant", Msg("report.rule.on_duty", on_duty=9, staying=8))
    assert "節日在崗人數（9）不能超過在本地過年的人數（8）" in hant


async def test_needs_can_be_skipped_or_kept(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    await type_figures(user, "10", "5", "5", "0", "0")
    assert "report.keep_needs" not in user.button_keys()
    answer = await user.send("长" * 501)
    assert keys(answer)[0] == "error.note.too_long"
    assert keys(await user.press("report.no_needs")) == ["report.summary"]
    await user.press("report.submit")
    [row] = await stored(kit)
    assert row.needs is None
    assert row.figures == Figures(10, 5, 5, 0, 0, None)


async def test_back_and_cancel(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    await type_figures(user, "120", "80")
    assert keys(await user.press("nav.back")) == ["report.ask_staying"]
    assert "report.keep" in user.button_keys()
    user.find("report.keep", value=80)
    assert keys(await user.press("nav.back")) == ["report.ask_total"]
    assert keys(await user.press("report.keep", value=120)) == ["report.ask_staying"]
    assert keys(await user.press("report.keep", value=80)) == ["report.ask_gone_home"]
    assert keys(await user.press("nav.cancel")) == ["conversation.cancelled"]
    assert await user.state() is None
    await type_figures(user, "120")
    assert keys(await user.command("cancel")) == ["conversation.cancelled"]
    assert await stored(kit) == []


async def test_edit_goes_through_the_figures_again(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    await type_figures(user, "120", "80", "30", "50", "5")
    await user.press("report.no_needs")
    assert keys(await user.press("ui.edit")) == ["report.ask_total"]
    await user.send("100")
    assert keys(await user.press("report.keep", value=80)) == ["report.ask_gone_home"]
    # 80 staying and the 30 gone home kept from before no longer fit in 100.
    answer = await user.press("report.keep", value=30)
    assert keys(answer) == ["report.rule.gone_home"]
    state = await user.state()
    assert state is not None and state.step == "gone_home"
    await user.send("20")
    await user.press("report.keep", value=50)
    await user.press("report.keep", value=5)
    assert keys(await user.press("report.no_needs")) == ["report.summary"]
    await user.press("report.submit")
    [row] = await stored(kit)
    assert row.figures == Figures(100, 80, 20, 50, 5, None)


async def test_same_as_yesterday_in_one_tap(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await reported(kit, firm, TODAY - timedelta(days=1), Figures(120, 80, 30, 50, 7, "缺口罩"))
    user = await contact(kit, firm)
    await user.command("report")
    assert user.button_keys() == ["report.same_as_yesterday", "report.enter", "nav.cancel"]
    assert "外地务工人员总数：<b>120</b>" in user.last_text().replace("\n", "")
    answer = await user.press("report.same_as_yesterday")
    assert keys(answer) == ["report.same_filled", "report.summary"]
    assert "新到岗：<b>0</b>" in said(kit, answer), "nobody new: the same people"
    await user.press("report.submit")
    _, today = await stored(kit)
    assert (today.local_date, today.revision) == (TODAY, 1)
    assert today.figures == Figures(120, 80, 30, 50, 0, "缺口罩")


async def test_typing_offers_to_keep_the_last_reports_figures(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await reported(kit, firm, TODAY - timedelta(days=1), Figures(120, 80, 30, 50, 7, "缺口罩"))
    user = await contact(kit, firm)
    await user.command("report")
    await user.press("report.enter")
    for value in (120, 80, 30, 50):
        assert "report.keep" not in user.button_keys(), "同上 already offers the same figure"
        await user.press("report.same_as_last", value=value)
    assert "report.keep" not in user.button_keys(), "yesterday's arrivals are not today's"
    user.find("report.same_as_last", value=7)
    await user.send("2")
    assert user.button_keys() == ["report.keep_needs", "report.no_needs", "nav.back", "nav.cancel"]
    await user.press("report.keep_needs")
    await user.press("report.submit")
    assert (await stored(kit))[-1].figures == Figures(120, 80, 30, 50, 2, "缺口罩")


async def test_the_last_report_may_be_older_than_yesterday(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await reported(kit, firm, TODAY - timedelta(days=5), Figures(10, 5, 5, 5, 0))
    await reported(kit, firm, TODAY - timedelta(days=3), Figures(12, 6, 6, 6, 2))
    user = await contact(kit, firm)
    await user.command("report")
    user.find("report.same_as_day", date=TODAY - timedelta(days=3))
    await user.press("report.same_as_day")
    await user.press("report.submit")
    assert (await stored(kit))[-1].figures == Figures(12, 6, 6, 6, 0)


async def test_sending_again_the_same_day_makes_a_new_revision(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    user = await contact(kit, firm)
    await type_figures(user, "120", "80", "30", "50", "5")
    await user.press("report.no_needs")
    await user.press("report.submit")
    kit.clock.advance(hours=1)
    await user.command("report")
    details = parts(message(user, "report.overview"))
    assert Msg("report.sent_today", revision=1, at=kit.clock() - timedelta(hours=1)) in details
    await user.press("report.enter")
    await user.send("121")
    for value in (80, 30, 50, 5):
        await user.press("report.keep", value=value)
    answer = await user.press("report.no_needs")
    assert "这次会保存为第 2 版" in said(kit, answer)
    assert keys(await user.press("report.submit")) == ["report.saved"]
    assert message(user, "report.saved").params["revision"] == 2
    first, second = await stored(kit)
    assert (first.revision, first.total) == (1, 120), "the first revision is kept as it was"
    assert (second.revision, second.total, second.local_date) == (2, 121, TODAY)
    async with kit.sessions() as session:
        newest = await reports.latest(session, firm, TODAY)
        assert newest is not None and newest.revision == 2
        assert len(await reports.revisions(session, firm, TODAY)) == 2


async def test_a_report_after_the_deadline_is_accepted_and_marked_late(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    kit.clock.advance(hours=6, minutes=1)  # 16:01
    await type_figures(user, "10", "5", "5", "0", "0")
    answer = await user.press("report.no_needs")
    assert "已过今天 16:00 的截止时间" in said(kit, answer)
    assert keys(await user.press("report.submit")) == ["report.saved_late"]
    [row] = await stored(kit)
    assert row.late is True
    assert row.local_date == TODAY


async def test_a_report_started_before_the_deadline_and_sent_after_is_late(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    kit.clock.advance(hours=5, minutes=59)  # 15:59
    await type_figures(user, "10", "5", "5", "0", "0")
    await user.press("report.no_needs")
    kit.clock.advance(minutes=2)
    assert keys(await user.press("report.submit")) == ["report.saved_late"]
    [row] = await stored(kit)
    assert row.late is True


async def test_the_database_refuses_figures_that_do_not_add_up(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    with pytest.raises(Exception, match=r"(?i)check|constraint"):
        await reported(kit, firm, TODAY, Figures(10, 8, 5, 0, 0))
    assert await stored(kit) == []


# /myreports --------------------------------------------------------------------------------


async def test_myreports_shows_the_last_seven_days(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    other = await enterprise(kit, "钢铁二厂")
    await reported(kit, firm, TODAY, Figures(10, 5, 5, 5, 0))
    await reported(kit, firm, TODAY, Figures(11, 5, 5, 5, 1), late=True)
    await reported(kit, firm, TODAY - timedelta(days=2), Figures(9, 4, 5, 4, 0))
    await reported(kit, firm, TODAY - timedelta(days=7), Figures(1, 1, 0, 0, 0))
    await reported(kit, other, TODAY - timedelta(days=1), Figures(3, 3, 0, 0, 0))
    user = await contact(kit, firm)
    answer = await user.command("myreports")
    assert keys(answer) == ["myreports.text"]
    text = said(kit, answer)
    assert text.count("未上报") == 5
    assert "外地务工人员总数：<b>11</b>" in text and "第 2 版" in text and "迟报" in text
    assert "外地务工人员总数：<b>9</b>" in text
    assert "1月13日" not in text, "eight days ago is not shown"
    assert "总数：<b>3</b>" not in text, "nor another enterprise's"


# /roster and its reminder --------------------------------------------------------------------


async def roster_of_four(kit: Kit) -> tuple[int, dict[str, int]]:
    """An enterprise with a silent, a stale, a fresh and an erased worker (and a neighbour)."""
    firm = await enterprise(kit)
    other = await enterprise(kit, "钢铁二厂")
    ids = {
        "silent": await person(kit, 101, firm, name="李四"),
        "stale": await person(kit, 102, firm, name="王五"),
        "fresh": await person(kit, 103, firm, name="赵六"),
        "erased": await person(kit, 104, firm, name="孙七"),
        "other": await person(kit, 105, other, name="周八"),
    }
    await checked_in(kit, ids["stale"], firm, Plan.UNDECIDED, TODAY - timedelta(days=8))
    await checked_in(kit, ids["fresh"], firm, Plan.STAY, TODAY - timedelta(days=7))
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Person)
            .where(Person.id == ids["erased"])
            .values(erased_at=kit.clock(), full_name=None, chat_id=None, active=False)
        )
    return firm, ids


async def test_the_roster_lists_the_silent_and_the_stale_first(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm, _ = await roster_of_four(kit)
    user = await contact(kit, firm)
    answer = await user.command("roster")
    assert keys(answer) == ["roster.text"]
    text = said(kit, answer)
    assert text.index("李四") < text.index("王五") < text.index("赵六")
    assert "❔ 李四 · 未登记去留" in text
    assert "⚠️ 王五 · 🤔 未定 · 2027年1月12日（已过时）" in text
    assert "赵六 · 🏠 在本地过年 · 2027年1月13日" in text
    assert "孙七" not in text and "周八" not in text
    assert "未登记 1 人；超过 7 天没更新 1 人" in text
    assert user.button_keys() == ["roster.remind"]
    user.find("roster.remind", count=2)


async def test_remind_them_goes_through_the_sender_once_a_day(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm, ids = await roster_of_four(kit)
    user = await contact(kit, firm)
    await user.command("roster")
    roster_message = user.messages[-1]
    answer = await user.press("roster.remind")
    assert keys(answer) == ["roster.nudge_queued"]
    assert roster_message.markup is None, "the button is gone"
    [row] = [b for b in await kit.rows(Broadcast) if isinstance(b, Broadcast)]
    assert row.content_kind is ContentKind.MESSAGE
    assert Audience.from_json(row.audience) == Audience(
        role=Role.WORKER, enterprise_id=firm, stale_before="2027-01-13"
    )
    async with kit.sessions() as session, session.begin():
        run = await broadcasts.enqueue_run(session, row, row.send_at, kit.clock())
        assert run is not None
    deliveries = [d for d in await kit.rows(Delivery) if isinstance(d, Delivery)]
    assert {d.person_id for d in deliveries} == {ids["silent"], ids["stale"]}
    async with kit.sessions() as session:
        content = await render_content(session, catalogs(), row, "zh_Hans")
    assert "城建一公司 提醒您" in content.text and "/checkin" in content.text

    # Pressed again (an old copy of the button) and a fresh /roster: not twice in a day.
    button_data = f"!nudge|{firm}"
    answer = await user.press_data(button_data)
    assert keys(answer) == ["roster.already_nudged"]
    answer = await user.command("roster")
    assert "今天已经提醒过他们了" in said(kit, answer)
    assert user.button_keys() == []
    assert await kit.count(Broadcast) == 1

    kit.clock.advance(days=1)
    await user.command("roster")
    assert keys(await user.press("roster.remind")) == ["roster.nudge_queued"]
    assert await kit.count(Broadcast) == 2


async def test_a_roster_with_everyone_answered_offers_no_reminder(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    worker = await person(kit, 101, firm)
    await checked_in(kit, worker, firm, Plan.RETURN, TODAY)
    user = await contact(kit, firm)
    await user.command("roster")
    assert user.button_keys() == []
    assert keys(await user.press_data(f"!nudge|{firm}")) == ["roster.nobody_to_nudge"]
    assert await kit.count(Broadcast) == 0


async def test_an_empty_roster(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    assert keys(await user.command("roster")) == ["roster.empty"]


# Who may do what -------------------------------------------------------------------------------


async def test_only_contacts_report_or_see_a_roster(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await person(kit, 101, firm)
    await person(kit, 900, None, Role.STAFF)
    for user_id in (101, 900, 999):
        user = kit.user(user_id)
        for command in ("report", "myreports", "roster"):
            assert keys(await user.command(command)) == ["error.not_allowed"], (user_id, command)
        assert await user.state() is None


async def test_forged_buttons_change_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm, _ = await roster_of_four(kit)
    other = await organisation_id(kit, "钢铁二厂")
    owner = await contact(kit, firm)
    await owner.command("roster")
    worker = kit.user(101)
    stranger = await contact(kit, other, user_id=501)

    assert keys(await worker.press_data(f"!nudge|{firm}")) == ["error.not_allowed"]
    assert keys(await stranger.press_data(f"!nudge|{firm}")) == ["error.not_allowed"]
    assert keys(await stranger.press_data("!nudge|abc")) == ["error.not_allowed"]
    assert await kit.count(Broadcast) == 0

    # The owner's report, half done: others' presses of its buttons are stale to them.
    await type_figures(owner, "10", "5", "5", "0", "0")
    await owner.press("report.no_needs")
    state = await owner.state()
    assert state is not None
    forged = f"{state.token}|summary|submit"
    assert keys(await stranger.press_data(forged)) == ["error.stale_button"]
    assert keys(await worker.press_data(forged)) == ["error.stale_button"]
    assert await stored(kit) == []
    # A stranger's roster shows their own enterprise only.
    answer = await stranger.command("roster")
    assert "周八" in said(kit, answer)
    assert "李四" not in said(kit, answer)
    # The owner can still submit.
    assert keys(await owner.press("report.submit")) == ["report.saved"]


async def organisation_id(kit: Kit, name: str) -> int:
    async with kit.sessions() as session:
        found = await organisation.find_enterprise(session, name)
        assert found is not None
        return found.id


async def test_a_contact_moved_to_another_enterprise_cannot_submit_for_the_old_one(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    other = await enterprise(kit, "钢铁二厂")
    user = await contact(kit, firm)
    await type_figures(user, "10", "5", "5", "0", "0")
    await user.press("report.no_needs")
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Person).where(Person.telegram_user_id == CONTACT).values(enterprise_id=other)
        )
    assert keys(await user.press("report.submit")) == ["error.not_allowed"]
    assert await stored(kit) == []
    assert await user.state() is None


async def test_a_contact_who_became_a_worker_loses_the_report(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    user = await contact(kit, firm)
    await type_figures(user, "10")
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Person).where(Person.telegram_user_id == CONTACT).values(role=Role.WORKER)
        )
    answer = await user.send("5")
    assert keys(answer)[0] == "conversation.no_longer_allowed"
    assert await stored(kit) == []


async def test_a_contact_of_a_deactivated_enterprise_is_told(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    user = await contact(kit, firm)
    async with kit.sessions() as session, session.begin():
        found = await organisation.get_enterprise(session, firm)
        assert found is not None
        await organisation.set_enterprise_active(session, found, False)
    for command in ("report", "myreports", "roster"):
        assert keys(await user.command(command)) == ["report.no_enterprise"]


async def test_reminders_are_not_listed_as_staff_notices(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm, _ = await roster_of_four(kit)
    user = await contact(kit, firm)
    await user.command("roster")
    await user.press("roster.remind")
    staff = kit.user(900)
    await person(kit, 900, None, Role.STAFF)
    assert keys(await staff.command("notices")) == ["notices.none"]


async def test_zero_and_same_as_last_on_each_question(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    await reported(kit, firm, TODAY - timedelta(days=2), Figures(120, 80, 30, 50, 7, None))
    user = await contact(kit, firm)
    await user.command("report")
    await user.press("report.enter")
    assert user.button_keys()[:2] == ["report.zero", "report.same_as_last"]
    assert keys(await user.press("report.same_as_last", value=120)) == ["report.ask_staying"]
    assert keys(await user.send("100")) == ["report.ask_gone_home"]
    # 同上 offers the last report's 80 staying; "keep" the 100 typed now.
    await user.press("nav.back")
    user.find("report.same_as_last", value=80)
    await user.press("report.keep", value=100)
    # 同上 for gone home (30) no longer fits 100 staying of 120: refused with the rule.
    answer = await user.press("report.same_as_last", value=30)
    assert keys(answer) == ["report.rule.gone_home"]
    await user.press("report.zero")
    await user.press("report.zero")
    assert keys(await user.press("report.zero")) == ["report.ask_needs"]
    await user.press("report.no_needs")
    await user.press("report.submit")
    assert (await stored(kit))[-1].figures == Figures(120, 100, 0, 0, 0, None)


async def test_one_figure_is_changed_from_the_summary(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await contact(kit, await enterprise(kit))
    await type_figures(user, "120", "80", "30", "50", "5")
    await user.press("report.no_needs")
    assert keys(await user.press("report.change.on_duty", value=50)) == ["report.ask_on_duty"]
    assert keys(await user.send("60")) == ["report.summary"], "straight back to the summary"
    assert "节日在岗：<b>60</b>" in user.last_text()
    # A change that breaks a rule with a figure after it is refused, and nothing changes.
    await user.press("report.change.total", value=120)
    answer = await user.send("100")
    assert keys(answer) == ["report.rule.gone_home", "report.ask_total"]
    state = await user.state()
    assert state is not None and state.step == "total" and state.data["total"] == 120
    assert keys(await user.send("110")) == ["report.summary"]
    await user.press("report.change.needs")
    assert keys(await user.send("缺暖气")) == ["report.summary"]
    # Back from a figure opened on the summary, then Edit: every figure in turn again.
    await user.press("report.change.staying", value=80)
    await user.press("nav.back")
    await user.press("ui.edit")
    assert keys(await user.press("report.keep", value=110)) == ["report.ask_staying"]
    for value in (80, 30, 60, 5):
        await user.press("report.keep", value=value)
    await user.press("report.keep_needs")
    await user.press("report.submit")
    [row] = await stored(kit)
    assert row.figures == Figures(110, 80, 30, 60, 5, "缺暖气")
