"""The stay-or-return check-in as plain functions: every branch, date rules, Back and Edit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import Inline, Msg
from models.checkins import CheckIn, Plan, Transport
from tests.harness import Kit, SimUser, keys

TODAY = date(2027, 1, 20)  # the harness's frozen local date


async def enrolled(kit: Kit, user_id: int = 100, language_code: str = "zh-hans") -> SimUser:
    """A worker who has just enrolled and sees the plan question."""
    _, code = await kit.add_enterprise(f"企业{user_id}", "开发区")
    user = kit.user(user_id, language_code)
    await user.command("start", code)
    await user.press("enrol.agree")
    await user.send("张三")
    await user.send("13812345678")
    await user.press("province.41")
    await user.send("信阳市")
    return user


async def only_checkin(kit: Kit) -> CheckIn:
    [checkin] = await kit.rows(CheckIn)
    assert isinstance(checkin, CheckIn)
    return checkin


async def test_staying_with_needs_and_a_note(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    assert keys(await user.press("plan.stay")) == ["checkin.ask_needs"]
    await user.press("need.wages")
    await user.press("need.heating")
    await user.press("need.food")
    await user.press("need.food")  # ticked twice: off again
    assert keys(await user.press("ui.done")) == ["checkin.ask_note"]
    assert keys(await user.send("宿舍没有暖气")) == ["checkin.summary"]
    assert await kit.count(CheckIn) == 0, "only Confirm writes"
    # The needs ticked open requests for help on their own (tests/test_flow_requests.py).
    confirmed = await user.press("ui.confirm")
    assert keys(confirmed) == ["checkin.saved", "request.opened_from_checkin"]

    checkin = await only_checkin(kit)
    assert checkin.plan is Plan.STAY
    assert checkin.needs == ["heating", "wages"]
    assert checkin.note == "宿舍没有暖气"
    assert checkin.local_date == TODAY
    assert checkin.destination_province is None and checkin.depart_date is None
    assert await user.state() is None


async def test_ticking_a_need_edits_the_same_message(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    message = user.messages[-1]
    answer = await user.press("need.health")
    assert [type(a).__name__ for a in answer.actions] == ["AnswerButton", "EditText"]
    button, _ = user.find("need.health", message=message)
    assert button.label == Msg("ui.checked", label=Msg("need.health"))


async def test_nothing_needed_clears_ticks(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("need.housing")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert checkin.needs == [] and checkin.note is None


async def going_home_to_depart(kit: Kit) -> SimUser:
    user = await enrolled(kit)
    await user.press("plan.return")
    await user.press("province.51")
    await user.send("成都市")
    return user


async def test_going_home_with_typed_dates(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    assert keys(await user.send("2月5日")) == ["checkin.ask_return"]
    assert keys(await user.send("2027-02-20")) == ["checkin.ask_transport"]
    assert keys(await user.press("transport.train")) == ["checkin.summary"]
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert checkin.plan is Plan.RETURN
    assert (checkin.destination_province, checkin.destination_city) == ("51", "成都市")
    assert checkin.depart_date == date(2027, 2, 5)
    assert checkin.return_date == date(2027, 2, 20)
    assert checkin.transport is Transport.TRAIN
    assert checkin.needs == [] and checkin.ask_again_on is None


async def test_departing_tomorrow_by_button_and_return_not_known(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    await user.press("date.tomorrow")
    await user.press("checkin.return_not_known")
    await user.press("transport.coach")
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert checkin.depart_date == TODAY + timedelta(days=1)
    assert checkin.return_date is None


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("1/19", "error.date.past"),
        ("2026-12-31", "error.date.past"),
        ("2月30日", "error.date.no_such_day"),
        ("5", "error.date.format"),
        ("下周", "error.date.format"),
        ("", "error.text.empty"),
        ("2030-02-01", "error.date.year_out_of_range"),
        ("2027-12-01", "error.date.too_far"),
        ("😀", "error.date.format"),
    ],
)
async def test_bad_departure_dates(db: AsyncEngine, typed: str, error: str) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    before = await user.state()
    answer = await user.send(typed)
    assert keys(answer) == [error, "checkin.ask_depart"]
    assert await user.state() == before


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("2/5", "error.date.return_before_departure"),
        ("2/1", "error.date.return_before_departure"),
        ("4/31", "error.date.no_such_day"),
        ("13", "error.date.format"),
    ],
)
async def test_bad_return_dates(db: AsyncEngine, typed: str, error: str) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    await user.send("2/5")
    assert keys(await user.send(typed))[0] == error
    state = await user.state()
    assert state is not None and state.step == "return_date"


async def test_undecided_sets_when_to_ask_again(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    assert keys(await user.press("plan.undecided")) == ["checkin.ask_again"]
    assert user.button_keys()[:3] == ["checkin.again_in_days"] * 3
    await user.press("checkin.again_in_days", days=7)
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert checkin.plan is Plan.UNDECIDED
    assert checkin.ask_again_on == TODAY + timedelta(days=7)


async def test_edit_from_the_summary_changes_the_plan(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("ui.done")
    await user.press("ui.skip")
    assert keys(await user.press("ui.edit")) == ["checkin.ask_plan"]
    await user.press("plan.undecided")
    await user.press("checkin.again_in_days", days=3)
    await user.press("ui.confirm")
    assert (await only_checkin(kit)).plan is Plan.UNDECIDED


@pytest.mark.parametrize(
    ("path", "back_to"),
    [
        (["plan.stay"], "plan"),
        (["plan.stay", "ui.done"], "needs"),
        (["plan.stay", "ui.done", "ui.skip"], "note"),
        (["plan.return"], "plan"),
        (["plan.undecided"], "plan"),
    ],
)
async def test_back_goes_one_step_back(db: AsyncEngine, path: list[str], back_to: str) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    for key in path:
        await user.press(key)
    await user.press("nav.back")
    state = await user.state()
    assert state is not None and state.step == back_to


async def test_every_check_in_is_kept_and_the_latest_is_the_plan(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.undecided")
    await user.press("checkin.again_in_days", days=3)
    await user.press("ui.confirm")
    kit.clock.advance(days=3)
    assert keys(await user.command("checkin")) == ["checkin.ask_plan"]
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    rows = await kit.rows(CheckIn)
    assert [c.plan for c in rows] == [Plan.UNDECIDED, Plan.STAY]
    assert keys(await user.command("status")) == ["status.current"]
    assert "在本地过年" in user.last_text()


async def test_a_note_too_long_is_refused_with_its_length(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("ui.done")
    answer = await user.send("冷" * 501)
    assert keys(answer) == ["error.note.too_long", "checkin.ask_note"]
    assert "501" in user.kit.render("zh_Hans", user.messages[-2].text)


async def test_html_in_a_note_is_shown_as_text(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("ui.done")
    await user.send("<script>alert(1)</script> & 'x'")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 'x'" in user.last_text()


async def test_the_summary_reads_in_english(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit, language_code="en-GB")
    await user.press("plan.return")
    await user.press("province.44")
    await user.send("Shenzhen")
    await user.send("2/5")
    await user.send("2/20")
    await user.press("transport.plane")
    text = user.last_text()
    assert "Going to: Shenzhen, Guangdong" in text
    assert "Leaving for home: Feb 5, 2027" in text and "Travelling by: Plane" in text


async def test_going_home_to_the_registered_home_takes_one_tap(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)  # registered in 河南 信阳市
    await user.press("plan.return")
    assert user.button_keys()[0] == "checkin.dest_home"
    assert "回户籍地 河南信阳市" in kit.render("zh_Hans", user.find("checkin.dest_home")[0].label)
    assert keys(await user.press("checkin.dest_home")) == ["checkin.ask_depart"]
    await user.press("date.tomorrow")
    await user.press("checkin.return_not_known")
    await user.press("transport.train")
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert (checkin.destination_province, checkin.destination_city) == ("41", "信阳市")


async def test_the_city_is_picked_from_the_provinces_prefectures(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.return")
    assert keys(await user.press("province.51")) == ["checkin.pick_dest_city"]
    assert {"成都市", "南充市", "凉山州"} <= set(user.button_keys())
    assert keys(await user.press("南充市")) == ["checkin.ask_depart"]
    state = await user.state()
    assert state is not None and state.data["dest_city"] == "南充市"
    # A forged index is refused and changes nothing.
    await user.press("nav.back")
    before = await user.state()
    assert before is not None and before.step == "dest_city"
    answer = await user.press_data(f"{before.token}|dest_city|c:99")
    assert keys(answer) == ["error.stale_button"]
    assert await user.state() == before


async def test_a_province_without_a_list_is_typed(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.return")
    assert keys(await user.press("province.44")) == ["checkin.ask_dest_city"]
    assert user.button_keys() == ["nav.back", "nav.cancel"]
    assert keys(await user.send("深圳市")) == ["checkin.ask_depart"]


def _festival_days(user: SimUser) -> list[tuple[object, object, object]]:
    """(lunar label, month, day) of the date buttons now shown."""
    for message in reversed(user.messages):
        buttons = message.markup.buttons() if isinstance(message.markup, Inline) else []
        labels = [b.label for b in buttons if isinstance(b.label, Msg)]
        dated = [m for m in labels if m.key == "date.button"]
        if dated:
            return [(m.params["lunar"], m.params["month"], m.params["day"]) for m in dated]
    return []


async def test_dates_around_the_festival_are_buttons(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    # 2027-01-20: today, tomorrow, then the week before 正月初一 (2027-02-06), 除夕 by name.
    days = _festival_days(user)
    assert [(m, d) for _, m, d in days] == [
        (1, 30), (1, 31), (2, 1), (2, 2), (2, 3), (2, 4), (2, 5)
    ]  # fmt: skip
    assert days[0][0] == Msg("lunar.date", month=Msg("lunar.month.12"), day=Msg("lunar.day.23"))
    assert days[-1][0] == Msg("lunar.eve")
    assert keys(await user.press("date.button", lunar=Msg("lunar.eve"), month=2, day=5)) == [
        "checkin.ask_return"
    ]
    assert "2027年2月5日（腊月廿九）" in user.last_text()
    # Coming back: 初五 to 初十 and 元宵, 元宵 by name.
    days = _festival_days(user)
    assert [(m, d) for _, m, d in days] == [
        (2, 10), (2, 11), (2, 12), (2, 13), (2, 15), (2, 20), (2, 21)
    ]  # fmt: skip
    await user.press("date.button", lunar=Msg("lunar.lantern"), month=2, day=20)
    await user.press("transport.train")
    summary = user.last_text()
    assert "2027年2月5日（腊月廿九）" in summary and "2027年2月20日（正月十五）" in summary
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert (checkin.depart_date, checkin.return_date) == (date(2027, 2, 5), date(2027, 2, 20))


async def test_lunar_dates_are_typed_and_repeated_back(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    assert keys(await user.send("腊月二十八")) == ["checkin.ask_return"]
    assert keys(await user.send("初八")) == ["checkin.ask_transport"]
    await user.press("transport.coach")
    assert "2027年2月4日（腊月廿八）" in user.last_text()
    assert "2027年2月13日（正月初八）" in user.last_text()
    await user.press("ui.confirm")
    checkin = await only_checkin(kit)
    assert (checkin.depart_date, checkin.return_date) == (date(2027, 2, 4), date(2027, 2, 13))


async def test_impossible_lunar_dates_are_answered_clearly(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await going_home_to_depart(kit)
    before = await user.state()
    assert keys(await user.send("腊月三十")) == [
        "error.date.lunar_no_such_day",
        "checkin.ask_depart",
    ]
    assert "农历里没有“腊月三十”这一天" in kit.render("zh_Hans", user.messages[-2].text)
    assert await user.state() == before
    assert keys(await user.send("闰五月初一"))[0] == "error.date.no_leap_month"
    await user.send("除夕")
    assert keys(await user.send("腊月二十"))[0] == "error.date.return_before_departure"
    assert "2027年2月5日（腊月廿九）" in kit.render("zh_Hans", user.messages[-2].text)


async def test_lunar_dates_read_in_traditional_chinese_and_english(db: AsyncEngine) -> None:
    kit = Kit(db)
    hant = await enrolled(kit, 101, "zh-hant")
    await hant.press("plan.return")
    await hant.press("province.44")
    await hant.send("深圳市")
    await hant.send("臘月廿八")
    assert "2027年2月4日（臘月廿八）" in hant.last_text()
    english = await enrolled(kit, 102, "en")
    await english.press("plan.return")
    await english.press("province.44")
    await english.send("Shenzhen")
    await english.send("正月初八")
    assert "Feb 13, 2027 (lunar month 1, day 8)" in english.last_text()
