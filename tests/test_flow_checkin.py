"""The stay-or-return check-in as plain functions: every branch, date rules, Back and Edit."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import Msg
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
