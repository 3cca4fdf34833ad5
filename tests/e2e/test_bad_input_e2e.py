"""A sample of the bad-input corpus (tests/test_bad_input.py) through the real runtime."""

from __future__ import annotations

from typing import Any

import pytest

from tests.botprocess import BotProcess, count_rows, label
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e


def test_hostile_text_where_a_name_is_expected(shared_bot: BotProcess, new_user: Any) -> None:
    code = shared_bot.add_enterprise("机械三厂")
    user: FakeUser = new_user()
    user.command("start", code)
    user.wait_text("个人信息告知")
    user.send("随便说点什么")
    user.wait_text("请点击上面消息中的按钮")
    user.press(label("enrol.agree"))
    user.wait_text("真实姓名")
    for hostile in ("<b>张三</b> & 李四", "'; DROP TABLE people;--", "\u202e张三", "😀😀😀"):
        user.send(hostile)
        user.wait_text("真实姓名")  # explained, and asked again: never on to the phone
    user.send_location()
    user.wait_text("姓名")
    user.command("start", code)  # a second /start in the middle starts over, cleanly
    user.wait_text("个人信息告知")
    assert count_rows(shared_bot, "people", f"telegram_user_id = {user.user_id}") == 0


def test_staff_commands_and_forged_buttons_from_a_stranger(
    shared_bot: BotProcess, new_user: Any
) -> None:
    user: FakeUser = new_user()
    before = count_rows(shared_bot, "broadcasts")
    user.command("broadcast")
    user.wait_reply()
    forged = shared_bot.api.callback(
        user.user_id,
        {"message_id": 1, "chat": {"id": user.user_id, "type": "private"}, "date": 0},
        "!letter|send",
    )
    mark = shared_bot.api.mark()
    shared_bot.api.push_update(forged)
    shared_bot.api.wait_for(lambda c: c.method == "answerCallbackQuery", after=mark)
    assert count_rows(shared_bot, "broadcasts") == before, "nothing happens"
