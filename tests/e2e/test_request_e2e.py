"""A worker's request for help answered end to end through the real runtime: the worker
asks, the employer's contact answers from the notification, the worker gets the answer and
marks the request solved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.botprocess import BotProcess, count_rows, label
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
    contact.wait_text("将发给工人")
    contact.press(label("request.send_button"))
    contact.wait_text("答复已发给工人")

    answer = worker.wait_text("有答复了")
    assert "今天下午派人修窗户" in answer["text"]
    worker.press(label("request.solved_button"))
    worker.wait_text("已解决。还有困难")
    contact.wait_text("已解决")
    assert count_rows(shared_bot, "help_requests", "status = 'solved'") >= 1
    assert count_rows(shared_bot, "help_request_messages") >= 1
