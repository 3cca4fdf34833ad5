"""A worker's whole journey through the real runtime, pressing the buttons Telegram shows."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from handlers.menus import WORKER_SHORTCUTS
from tests.botprocess import TOKEN, BotProcess, count_rows, label
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e


def enrol(user: FakeUser, code: str) -> None:
    """From the invite link to the first check-in question, as a person does it."""
    user.command("start", code)
    user.wait_text("个人信息告知")
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名")
    user.send("张三")
    user.wait_text("手机号")
    assert user.reply_keyboard() == [
        label("enrol.share_phone"),
        label("nav.back"),
        label("nav.cancel"),
    ]
    user.share_contact("+8613812345678")
    user.wait_text("户籍")
    assert user.reply_keyboard() == [], "the share-number keyboard goes away"
    user.press("河南")
    user.wait_text("河南 的哪个市（州）")
    user.press("信阳市")
    user.wait_text("今年春节您打算")
    assert user.reply_keyboard() == [label(k) for k in WORKER_SHORTCUTS], "the worker's own keys"


def stay_lacking_heating(user: FakeUser) -> None:
    """A check-in by tapping: staying, heating lacking, a note typed, confirmed; /status."""
    user.press(label("plan.stay"))
    user.wait_text("缺少")
    user.press(label("ui.unchecked").format(label=label("need.heating")))
    user.wait_reply()
    assert label("ui.checked").format(label=label("need.heating")) in user.buttons()
    user.press(label("ui.done"))
    user.wait_text("还有什么想告诉我们")
    user.send("宿舍 <没有> 暖气 & 热水")
    summary = user.wait_text("请核对")
    assert "备注：宿舍 <没有> 暖气 & 热水" in summary["text"], "shown as typed, safely"
    user.press(label("ui.confirm"))
    assert "取暖/御寒衣物" in user.wait_text("已保存")["text"]
    user.command("status")
    assert "在本地过年" in user.wait_text("您的当前计划")["text"]


def start_going_home(user: FakeUser) -> None:
    """A check-in begun: going home to Hunan, the city asked next."""
    user.press(label("plan.return"))
    user.wait_text("您要回哪个省")
    user.press("湖南")
    user.wait_text("湖南 的哪个市（州）")


def finish_going_home(user: FakeUser) -> None:
    """The rest of that check-in, to Changsha by train, confirmed."""
    user.send("长沙市")
    user.wait_text("哪天")
    user.send("2/1")
    user.wait_text("哪天返岗")
    user.press(label("checkin.return_not_known"))
    user.wait_text("您怎么回去")
    user.press(label("transport.train"))
    summary = user.wait_text("请核对")
    assert "湖南 长沙市" in summary["text"]
    user.press(label("ui.confirm"))
    user.wait_text("已保存")


def test_invite_to_confirmed_checkin(shared_bot: BotProcess, new_user: Any) -> None:
    code = shared_bot.add_enterprise("城建一公司")
    user: FakeUser = new_user()
    enrol(user, code)
    before = count_rows(shared_bot, "checkins")
    stay_lacking_heating(user)
    assert count_rows(shared_bot, "checkins") == before + 1
    assert count_rows(shared_bot, "people", "phone = '13812345678'") >= 1


def test_bad_input_gets_a_clear_reply_and_changes_nothing(
    shared_bot: BotProcess, new_user: Any
) -> None:
    code = shared_bot.add_enterprise("钢铁二厂")
    user: FakeUser = new_user()
    enrol(user, code)
    user.press(label("plan.return"))
    user.wait_text("您要回哪个省")
    user.send_sticker()
    user.wait_text("请点击上面消息中的按钮")
    user.press("四川")
    user.wait_text("四川 的哪个市（州）")
    user.send("成" * 4000)
    user.wait_text("地名太长了")
    user.send("成都😀")
    user.wait_text("地名里不能有数字、表情或符号")
    user.send_photo()
    user.wait_text("请输入市或县的名称")
    user.send("成都市")
    user.wait_text("哪天")
    user.send("12345")
    user.wait_text("没看懂这个日期")
    user.send("2月30日")
    user.wait_text("没有 2月30日 这一天")
    stale = shared_bot.api.callback(
        user.user_id,
        {"message_id": 1, "chat": {"id": user.user_id, "type": "private"}, "date": 0},
        "t0|plan|stay",
    )
    mark = shared_bot.api.mark()
    shared_bot.api.push_update(stale)
    answer = shared_bot.api.wait_for(
        lambda c: (
            c.method == "answerCallbackQuery" and c.params.get("show_alert") in (True, "true")
        ),
        after=mark,
    )
    assert "过期" in str(answer.params.get("text"))
    user.command("cancel")
    user.wait_text("已取消")
    assert (
        count_rows(
            shared_bot,
            "checkins",
            f"person_id = (SELECT id FROM people WHERE telegram_user_id = {user.user_id})",
        )
        == 0
    )


def test_the_same_update_delivered_twice_writes_one_row(
    shared_bot: BotProcess, new_user: Any
) -> None:
    code = shared_bot.add_enterprise("纺织三厂")
    user: FakeUser = new_user()
    enrol(user, code)
    user.press(label("plan.stay"))
    user.wait_text("缺少")
    user.press(label("checkin.nothing_needed"))
    user.wait_text("还有什么")
    user.press(label("ui.skip"))
    user.wait_text("请核对")
    api = shared_bot.api
    summary = next(m for m in api.messages_to(user.user_id)[::-1] if "请核对" in m.get("text", ""))
    confirm = next(
        b["callback_data"]
        for row in summary["reply_markup"]["inline_keyboard"]
        for b in row
        if b["text"] == label("ui.confirm")
    )
    update = api.callback(user.user_id, summary, confirm)
    api.push_update(update)
    user.wait_text("已保存")
    mark = api.mark()
    api.redeliver(update)
    api.redeliver(update)
    user.command("status")
    user.wait_text("您的当前计划")
    where = f"person_id = (SELECT id FROM people WHERE telegram_user_id = {user.user_id})"
    assert count_rows(shared_bot, "checkins", where) == 1
    answers = [c for c in api.calls[mark:] if c.method == "answerCallbackQuery"]
    assert answers == [], "a redelivered update is not even answered again"


def test_menus_are_set_per_language(shared_bot: BotProcess) -> None:
    default = [c["command"] for c in shared_bot.api.commands("default", "")]
    assert default == ["checkin", "status", "mydata", "language", "help", "phones", "cancel"]
    english = {c["command"]: c["description"] for c in shared_bot.api.commands("default", "en")}
    assert english["checkin"] == label("command.checkin", "en")
    chinese = {c["command"]: c["description"] for c in shared_bot.api.commands("default", "zh")}
    assert chinese["checkin"] == label("command.checkin")


def test_the_bot_describes_itself_in_each_language(shared_bot: BotProcess) -> None:
    api = shared_bot.api
    assert api.bot_text("description", "") == label("bot.description")
    assert api.bot_text("short_description", "zh") == label("bot.short_description")
    assert api.bot_text("description", "en") == label("bot.description", "en")
    assert len(api.bot_text("short_description", "en")) <= 120


def test_a_workers_chat_gets_the_workers_menu_and_keys_that_work(
    shared_bot: BotProcess, new_user: Any
) -> None:
    code = shared_bot.add_enterprise("城建六公司")
    user: FakeUser = new_user()
    enrol(user, code)
    menu = [c["command"] for c in shared_bot.api.commands(f"chat:{user.chat_id}", "")]
    assert "request" in menu and "report" not in menu
    user.send(label("keyboard.phones"))
    user.wait_text("0315")
    user.send(label("keyboard.checkin"))
    user.wait_text("今年春节您打算")


def test_no_token_phone_or_name_reaches_the_log(shared_bot: BotProcess) -> None:
    # Runs after the journeys above, on the shared bot's DEBUG log: people are ids there.
    log = shared_bot.log()
    assert "polling" in log.lower() or "webhook" in log
    assert count_rows(shared_bot, "people", "full_name = '张三'") >= 1, "someone enrolled"
    for secret in (TOKEN, TOKEN.split(":")[1], "13812345678", "138 1234 5678", "张三", "信阳"):
        assert secret not in log, secret


def test_a_crash_mid_checkin_loses_nothing_then_a_new_consent_text_is_asked(
    own_bot: Any,
) -> None:
    bot: BotProcess = own_bot()
    code = bot.add_enterprise("城建四公司")
    bot.start()
    user = bot.api.user(501)
    enrol(user, code)
    start_going_home(user)
    bot.kill()  # SIGKILL: no goodbye

    bot.start()
    finish_going_home(user)
    assert count_rows(bot, "checkins", "destination_city = '长沙市'") == 1
    assert bot.stop(signal.SIGTERM) == 0, "a clean shutdown on SIGTERM"

    # Restarted with a changed consent text: the worker's next message is answered with it.
    with bot.config.open("a", encoding="utf-8") as config:
        config.write("[privacy]\nconsent_version = 2\n")
    bot.start()
    user.command("status")
    user.wait_text("个人信息告知已更新")
    user.command("mydata")
    user.wait_text("张三")  # seeing what is stored never waits for consent
    user.send("你好")
    user.wait_text("请点击上面消息中的按钮")  # the new text waits for an answer
    user.press(label("enrol.agree"))
    user.wait_text("已记录您对新告知内容的同意")
    assert count_rows(bot, "people", "consent_version = 2") == 1
    user.command("status")
    user.wait_text("湖南 长沙市")


def test_the_webhook_rejects_a_wrong_or_missing_secret(own_bot: Any) -> None:
    bot: BotProcess = own_bot(mode="webhook")
    bot.start()
    url = f"http://127.0.0.1:{bot.port}/telegram"
    update = bot.api.message(777, "/start")
    mark = bot.api.mark()
    assert bot.api.post_webhook(url, update, secret="wrong-secret-wrong-secret") == 401
    assert bot.api.post_webhook(url, update, secret=None) == 401
    assert [c for c in bot.api.calls[mark:] if c.method == "sendMessage"] == []
    assert bot.api.post_webhook(url, update, secret=bot.webhook_secret) == 200
    # Answered only once handled: a crash before the answer means Telegram sends it again.
    assert [c for c in bot.api.calls[mark:] if c.method == "sendMessage" and c.chat_id == 777]

    assert bot.process is not None
    status, health = bot.health()
    assert status == 200
    assert health["database"] == "ok" and health["scheduler"] == "running"
    assert f":{bot.process.pid}:" in health["scheduler_holder"]
    assert bot.stop() == 0
