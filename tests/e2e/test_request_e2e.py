"""A worker's request for help answered end to end through the real runtime: the worker
asks, the employer's contact answers from the notification, the worker gets the answer and
marks the request solved; a wage request reaches labour inspection, who pass it on to the
employer without the worker's name."""

from __future__ import annotations

import random
import re
import string
from typing import Any

import pytest

from tests.botprocess import BotProcess, count_rows, label
from tests.e2e.test_report_e2e import enrol_contact
from tests.e2e.test_worker_e2e import enrol
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e

NAME = "暖通安装公司"


def test_a_request_is_answered_and_solved(shared_bot: BotProcess, new_user: Any) -> None:
    code = shared_bot.add_enterprise(NAME)
    contact: FakeUser = new_user()
    contact.command("start", shared_bot.contact_invite(NAME))
    contact.wait_text("关于您的个人信息")
    contact.press(label("enrol.agree"))
    contact.wait_text("真实姓名")
    contact.send("赵经理")
    contact.wait_text("11 位手机号码")
    contact.send("13900001001")
    contact.wait_text("赵经理，您已登记为")

    worker: FakeUser = new_user()
    enrol(worker, code)
    worker.command("request")
    worker.wait_text("您需要什么帮助")
    worker.press(label("request.category.housing"))
    worker.wait_text("请把情况写清楚")
    worker.send("宿舍窗户坏了 <漏风> & 很冷")
    worker.wait_text("有照片可以发一张")
    worker.press(label("ui.skip"))
    worker.wait_text("请核对您的求助")
    worker.press(label("ui.confirm"))
    worker.wait_text("已提交，编号")

    notice = contact.wait_text("新的求助")
    assert "宿舍窗户坏了 &lt;漏风&gt; &amp; 很冷" not in notice["text"], "entities, not markup"
    assert "宿舍窗户坏了 <漏风> & 很冷" in notice["text"]
    assert "张三" in notice["text"], "a housing request tells the contact who asked"
    contact.press(label("request.answer_button"))
    contact.wait_text("请输入对求助")
    contact.send("今天下午派人修窗户")
    contact.wait_text("将发给务工人员")
    contact.press(label("request.send_button"))
    contact.wait_text("答复已发给务工人员")

    answer = worker.wait_text("有答复了")
    assert "今天下午派人修窗户" in answer["text"]
    worker.press(label("request.solved_button"))
    worker.wait_text("已解决。还有困难")
    contact.wait_text("已解决")
    assert count_rows(shared_bot, "help_requests", "status = 'solved'") >= 1
    assert count_rows(shared_bot, "help_request_messages") >= 1


def unique_name(bot: BotProcess, base: str) -> str:
    """An enterprise name no other run or runtime uses; letters only, so that staff can type
    it into the enterprise search (which takes no digits)."""
    return f"{base} {bot.runtime} {''.join(random.choices(string.ascii_lowercase, k=6))}"


def enrol_staff(bot: BotProcess, user: FakeUser, name: str, kind: str = "staff") -> None:
    """A district staff member (kind "inspection": of labour inspection) by a single-use
    invite made on the command line."""
    found = re.search(r"\?start=([A-Za-z0-9_-]+)", bot.cli("invite", kind))
    assert found
    user.command("start", found.group(1))
    user.wait_text("关于您的个人信息")
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名")
    user.send(name)
    user.wait_text(f"{name}，您已登记为")


def test_a_wage_request_passed_on_to_the_employer_keeps_the_worker_unnamed(
    shared_bot: BotProcess, new_user: Any
) -> None:
    api = shared_bot.api
    name = unique_name(shared_bot, "工资求助测试厂")
    code = shared_bot.add_enterprise(name)
    contact: FakeUser = new_user()
    enrol_contact(contact, shared_bot.contact_invite(name), "钱经理", "13900003001")
    inspector: FakeUser = new_user()
    enrol_staff(shared_bot, inspector, "孙监察", kind="inspection")

    worker: FakeUser = new_user()
    enrol(worker, code)  # 张三, 13812345678
    worker.command("request")
    worker.wait_text("您需要什么帮助")
    worker.press(label("request.category.wages"))
    worker.wait_text("请把情况写清楚")
    worker.send("十二月工资 3200 元至今没发")
    worker.wait_text("有照片可以发一张")
    worker.press(label("ui.skip"))
    worker.wait_text("要不要让单位知道是您反映的")
    worker.press(label("request.anonymity.withhold"))
    assert "不会告诉单位是您反映的" in worker.wait_text("请核对您的求助")["text"]
    asked = api.mark()
    worker.press(label("ui.confirm"))
    sent = re.search(r"编号 #(\d+)", worker.wait_text("已提交，编号")["text"])
    assert sent
    number = sent.group(1)

    notice = inspector.wait_text("新的求助")
    assert f"#{number}" in notice["text"] and "十二月工资 3200 元至今没发" in notice["text"]
    assert "张三" in notice["text"], "labour inspection knows who asked"
    to_contact = [c for c in api.calls[asked:] if c.chat_id == contact.chat_id]
    assert to_contact == [], "a wage request goes to labour inspection, not the employer"

    inspector.command("requests")
    inspector.wait_text("未结束的求助")
    inspector.press(label("requests.by_enterprise"))
    inspector.wait_text("请输入单位名称")
    inspector.send(name)
    inspector.wait_text(f"单位：{name}")
    inspector.press(f"#{number} ", exact=False)
    card = inspector.wait_text("处理：劳动监察大队")
    assert f"求助 #{number}" in card["text"] and "张三" in card["text"]
    assert label("request.forward_button") in inspector.buttons()
    passed = api.mark()
    inspector.press(label("request.forward_button"))
    inspector.wait_text(f"已转给单位联系人（求助 #{number}）")

    forwarded = contact.wait_text("区劳动监察大队转来一件工资方面的求助")
    assert "十二月工资 3200 元至今没发" in forwarded["text"]
    assert "务工人员要求不告诉单位" in forwarded["text"]
    for secret in ("张三", "13812345678", "5678"):
        assert secret not in forwarded["text"], f"{secret!r} reached the employer"
    assert label("request.answer_button") in contact.buttons()
    told = worker.wait_text(f"您的求助 #{number}")
    assert "没有告诉对方是您反映的" in told["text"]
    to_contact = [c for c in api.calls[passed:] if c.chat_id == contact.chat_id and c.ok]
    assert [c.method for c in to_contact] == ["sendMessage"], "the card only, no photo"
    where = f"id = {number} AND anonymous AND forwarded_at IS NOT NULL"
    assert count_rows(shared_bot, "help_requests", where) == 1
