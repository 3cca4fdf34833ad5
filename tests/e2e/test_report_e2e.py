"""An enterprise contact through the real runtime: enrolment by invite link, a daily report by
buttons and typed numbers, and a second report the same day kept as a revision."""

from __future__ import annotations

from typing import Any

import pytest

from tests.botprocess import BotProcess, count_rows, label
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e

NAME = "华北重工"


def test_a_contact_enrols_and_reports_twice_in_a_day(shared_bot: BotProcess, new_user: Any) -> None:
    shared_bot.add_enterprise(NAME)
    contact: FakeUser = new_user()
    contact.command("start", shared_bot.contact_invite(NAME))
    contact.wait_text("关于您的个人信息")
    contact.press(label("enrol.agree"))
    contact.wait_text("真实姓名")
    contact.send("陈经理")
    contact.wait_text("11 位手机号码")
    contact.send("13900001002")
    contact.wait_text("陈经理，您已登记为")

    contact.command("report")
    overview = contact.wait_text("人数日报")
    assert "这是本企业第一次上报" in overview["text"]
    contact.press(label("report.enter"))
    contact.wait_text("一共多少人")
    contact.send("120")
    contact.wait_text("在本地过年")
    contact.send("八十")
    contact.wait_text("请输入一个数字")
    contact.send("80")
    contact.wait_text("已返乡")
    contact.send("50")
    contact.wait_text("在本地过年 80 人加已返乡 50 人，超过了总数 120 人")
    contact.send("30")
    contact.wait_text("在岗")
    contact.send("50")
    contact.wait_text("新到岗")
    contact.send("5")
    contact.wait_text("需求或困难")
    contact.press(label("report.no_needs"))
    summary = contact.wait_text("请核对")
    assert "未定：10" in summary["text"], "undecided is computed"
    contact.press(label("report.submit"))
    contact.wait_text("（第 1 版）")
    where = f"enterprise_id = (SELECT id FROM enterprises WHERE name = '{NAME}')"
    assert count_rows(shared_bot, "reports", where) == 1

    # Again the same day: today's figures are offered to keep; a second revision is stored.
    contact.command("report")
    contact.wait_text("今天已经提交过 1 次")
    contact.press(label("report.enter"))
    contact.wait_text("一共多少人")
    contact.send("121")
    contact.wait_text("在本地过年")
    for kept, question in (("80", "已返乡"), ("30", "在岗"), ("50", "新到岗"), ("5", "需求")):
        contact.press(label("report.keep").format(value=kept))
        contact.wait_text(question)
    contact.press(label("report.no_needs"))
    assert "第 2 版" in contact.wait_text("请核对")["text"]
    contact.press(label("report.submit"))
    contact.wait_text("（第 2 版）")
    assert count_rows(shared_bot, "reports", where) == 2
    assert count_rows(shared_bot, "reports", f"{where} AND revision = 1 AND total = 120") == 1
    assert count_rows(shared_bot, "reports", f"{where} AND revision = 2 AND total = 121") == 1

    contact.command("myreports")
    history = contact.wait_text("近 7 天的日报")
    assert "第 2 版" in history["text"] and "121" in history["text"]


def enrol_contact(user: FakeUser, code: str, name: str, phone: str) -> None:
    """From the invite link to an enrolled contact (or deputy)."""
    user.command("start", code)
    user.wait_text("关于您的个人信息")
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名")
    user.send(name)
    user.wait_text("11 位手机号码")
    user.send(phone)
    user.wait_text(f"{name}，您已登记为")


def test_a_deputy_reports_and_a_new_contact_takes_the_place_at_once(
    shared_bot: BotProcess, new_user: Any
) -> None:
    name = "东方钢构"
    shared_bot.add_enterprise(name)
    contact: FakeUser = new_user()
    enrol_contact(contact, shared_bot.contact_invite(name), "郑经理", "13900002001")
    deputy: FakeUser = new_user()
    enrol_contact(deputy, shared_bot.contact_invite(name, "deputy"), "钱副经理", "13900002002")
    deputy.command("report")
    deputy.wait_text("人数日报")
    deputy.command("cancel")

    contact.command("report")
    contact.wait_text("人数日报")
    newcomer: FakeUser = new_user()
    enrol_contact(newcomer, shared_bot.contact_invite(name), "孙经理", "13900002003")
    contact.wait_text("您已不再担任")
    contact.press(label("report.enter"))
    contact.wait_text("身份已变更")  # the report begun before is closed, not continued
    contact.command("report")
    contact.wait_text("您没有权限")
    where = f"enterprise_id = (SELECT id FROM enterprises WHERE name = '{name}')"
    assert count_rows(shared_bot, "people", f"{where} AND role = 'contact'") == 2
    assert count_rows(shared_bot, "people", f"{where} AND role = 'former'") == 1
    deputy.command("report")
    deputy.wait_text("人数日报")
