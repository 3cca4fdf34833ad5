"""What people read says what is so, in the notice's words: the letter's and notices' buttons,
and the sentences that once leaked a template or said something untrue (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from handlers import content, helpdesk
from handlers.actions import Inline, Msg
from handlers.flow import global_data
from models.checkins import Plan
from models.invites import InviteKind
from models.people import Role
from models.reports import Figures
from tests.harness import Kit, catalogs, keys, sent
from tests.test_flow_broadcast import compose_text, member
from tests.test_flow_checkin import enrolled
from tests.test_flow_report import TODAY, checked_in, contact, enterprise, person, reported
from tests.test_flow_requests import ask, checkin_staying
from tests.test_flow_requests import person as request_person
from tests.test_flow_roles import role_invite, town_id

NEXT_STEPS = ["button.checkin", "button.request", "button.phones"]


def label_keys(markup: object) -> list[str]:
    """The catalog keys of an inline keyboard's buttons, row by row."""
    assert isinstance(markup, Inline), markup
    return [b.label.key for b in markup.buttons() if isinstance(b.label, Msg)]


# The letter and event notices end with buttons, not commands -------------------------------


async def test_the_letter_ends_with_check_in_ask_for_help_and_phone_buttons(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    [letter] = [m for m in worker.messages if m.text == Msg("letter.body")]
    assert label_keys(letter.markup) == ["letter.read_button", *NEXT_STEPS]
    assert "/" not in kit.render("zh_Hans", letter.text).replace("</", "")

    answer = await worker.press("button.phones", message=letter)
    assert keys(answer) == ["phones.text"]
    assert "0315-0000001、0315-0000002" in worker.last_text()

    answer = await worker.press("button.request", message=letter)
    assert keys(answer) == ["request.ask_category"]
    state = await worker.state()
    assert state is not None and state.flow == "request"

    answer = await worker.press("button.checkin", message=letter)
    assert keys(answer) == ["checkin.ask_plan"]
    state = await worker.state()
    assert state is not None and state.flow == "checkin"

    # Reading it keeps what to do next under it.
    await worker.press("letter.read_button", message=letter)
    assert label_keys(letter.markup) == ["letter.read_done", *NEXT_STEPS]


async def test_the_buttons_do_only_what_the_command_allows(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    # Staff may not check in or ask for help: the buttons say so, as the commands do.
    assert keys(await staff.press_data(global_data("cmd", "checkin"))) == ["error.not_allowed"]
    assert keys(await staff.press_data(global_data("cmd", "request"))) == ["error.not_allowed"]
    # Only those two commands: a forged button runs nothing else.
    assert keys(await staff.press_data(global_data("cmd", "broadcast"))) == ["error.stale_button"]
    assert await staff.state() is None
    stranger = kit.user(300)
    assert keys(await stranger.press_data(global_data("cmd", "checkin"))) == ["start.no_code"]
    assert keys(await stranger.press_data(global_data("phones"))) == ["phones.text"]


async def test_an_event_notice_ends_with_the_same_buttons(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await staff.command("event")
    await staff.send("元宵节猜灯谜")
    await staff.send("1月22日 19:00")
    await staff.send("职工之家")
    await staff.press("event.no_limit")
    await staff.press("broadcast.audience.workers")
    # The preview is the notice as recipients get it, with its buttons.
    [notice] = [
        m for m in staff.messages if isinstance(m.text, Msg) and m.text.key == "event.notice"
    ]
    assert label_keys(notice.markup) == ["event.sign_up", *NEXT_STEPS]
    assert content.signup_markup(7).buttons()[0].data == global_data("signup", 7)
    assert "/" not in kit.render("zh_Hans", notice.text).replace("</", "")


# Template leaks and circular sentences --------------------------------------------------------


async def test_a_town_officer_is_asked_only_for_what_is_kept_about_them(db: AsyncEngine) -> None:
    kit = Kit(db)
    town = await town_id(kit, "老庄子镇")
    code = await role_invite(kit, InviteKind.TOWN_OFFICER, town_id=town)
    officer = kit.user(300)
    await officer.command("start", code)
    text = officer.last_text()
    assert "老庄子镇工作人员" in text and "镇的镇" not in text
    assert "手机" not in text, "a town officer gives no phone number"
    assert "您的姓名和 Telegram 账号" in text

    enterprise_id, _ = await kit.add_enterprise("城建一公司")
    code = await role_invite(kit, InviteKind.CONTACT, enterprise_id=enterprise_id)
    boss = kit.user(400)
    await boss.command("start", code)
    text = boss.last_text()
    assert "城建一公司联系人" in text
    assert "您的姓名、手机号码和 Telegram 账号" in text
    assert "企业联系人还有" not in text


async def test_a_notice_sent_now_says_it_is_going_and_a_later_one_when(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await compose_text(staff)
    await staff.press("broadcast.send_now")
    assert "确认后立即发送" in staff.last_text(), "before Confirm, it says what Confirm does"
    assert keys(await staff.press("ui.confirm")) == ["broadcast.confirmed_now"]
    text = staff.last_text()
    assert "已开始发送" in text and "确认后" not in text
    await staff.command("notices")
    assert "确认后" not in staff.last_text(), "the list says when it went"
    assert "2027年1月20日 10:00 发送" in staff.last_text()

    await compose_text(staff)
    await staff.press("broadcast.send_once")
    await staff.send("1月21日 9点半")
    assert keys(await staff.press("ui.confirm")) == ["broadcast.confirmed"]
    assert "已安排" in staff.last_text() and "2027年1月21日 09:30" in staff.last_text()


def test_the_end_of_a_broadcast_is_told_once_with_its_figures() -> None:
    figures = {"sent": 1998, "blocked": 1, "failed": 1}
    done = catalogs().render("zh_Hans", Msg("broadcast.progress_done", total=2000, **figures))
    report = catalogs().render("zh_Hans", Msg("broadcast.final_report", number=3, **figures))
    assert "已送达" not in done and "发送完毕" not in done, "the figures are in the report alone"
    assert "2000" in done and "1998" in report


async def test_a_second_report_today_is_not_called_the_first(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    user = await contact(kit, firm)
    await user.command("report")
    assert "这是本企业第一次上报" in user.last_text(), "true the first time"
    await user.command("cancel")
    await reported(kit, firm, TODAY, Figures(120, 80, 30, 50, 5, None))
    await user.command("report")
    text = user.last_text()
    assert "第一次上报" not in text
    assert "今天已经提交过 1 次" in text


async def test_a_request_waiting_minutes_says_minutes_not_zero_hours(db: AsyncEngine) -> None:
    since = datetime(2027, 1, 20, 2, tzinfo=UTC)
    assert helpdesk.age(since, since) == Msg("requests.age_minutes", minutes=1)
    assert helpdesk.age(since, since + timedelta(seconds=30)) == Msg(
        "requests.age_minutes", minutes=1
    )
    assert helpdesk.age(since, since + timedelta(minutes=59)) == Msg(
        "requests.age_minutes", minutes=59
    )
    assert helpdesk.age(since, since + timedelta(hours=3)) == Msg("requests.age_hours", hours=3)
    kit = Kit(db)
    worker = await request_person(kit, 100, Role.WORKER)
    await ask(worker, "request.category.housing", "宿舍漏风晚上很冷")
    staff = await member(kit, 900)
    kit.clock.advance(minutes=20)
    await staff.command("requests")
    text = staff.last_text()
    assert "已等 20 分钟" in text and "0 小时" not in text


async def test_a_wage_need_from_a_check_in_is_kept_from_the_employer_by_rule(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await enrolled(kit, 100)
    staff = await member(kit, 900)
    # The check-in the worker is asked at enrolment, a wage need ticked.
    answer = await checkin_staying(user, "need.wages")
    [note] = [n for n in await sent(kit, answer) if n.chat_id == staff.user_id]
    assert "按规定对单位保密" in note.text
    assert "要求" not in note.text, "the worker asked nothing: it is the rule"

    # Asked in /request, the worker's own choice is what staff read.
    other = await request_person(kit, 101, Role.WORKER, company="企业100")
    answer = await ask(other, "request.category.wages", "三个月工资没发", withhold=True)
    [note] = [n for n in await sent(kit, answer) if n.chat_id == staff.user_id]
    assert "务工人员要求不告诉单位是谁反映的" in note.text


async def test_counts_read_as_numbers_are_said_in_each_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    firm = await enterprise(kit)
    worker = await person(kit, 100, firm)
    await checked_in(kit, worker, firm, Plan.STAY, TODAY)
    english = await contact(kit, firm, language="en")
    await english.command("roster")
    assert "1 enrolled worker</b>" in english.last_text()
    await person(kit, 101, firm, name="李四")
    await english.command("roster")
    assert "2 enrolled workers</b>" in english.last_text()
    # No Western thousands separators in Chinese text.
    await request_person(kit, 102, Role.WORKER, company="城建一公司")
    chinese = kit.user(102)
    await chinese.command("request")
    await chinese.press("request.category.wages")
    assert "（2–1000 个字）" in chinese.last_text()
