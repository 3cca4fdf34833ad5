"""What people read through the real runtimes: the letter's buttons, and invite links that
open when the config does not name the bot (it asks Telegram, getMe)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.botprocess import BotProcess, label
from tests.e2e.test_worker_e2e import enrol
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e


def test_the_letter_ends_with_buttons_that_work(shared_bot: BotProcess, new_user: Any) -> None:
    code = shared_bot.add_enterprise("城建五公司")
    user: FakeUser = new_user()
    enrol(user, code)
    letter = next(
        m
        for m in shared_bot.api.messages_to(user.user_id)
        if "致全区务工朋友的一封信" in m.get("text", "")
    )
    assert "/checkin" not in letter["text"] and "/help" not in letter["text"]
    rows = [[b["text"] for b in row] for row in letter["reply_markup"]["inline_keyboard"]]
    assert rows == [
        [label("letter.read_button")],
        [label("button.checkin"), label("button.request")],
        [label("button.phones")],
    ]
    user.press(label("button.phones"))
    assert "0315-0000001" in user.wait_text("咨询电话")["text"]
    user.press(label("button.request"))
    user.wait_text("您需要什么帮助")
    user.press(label("button.checkin"))
    user.wait_text("今年春节您打算")


def test_invite_links_made_in_the_bot_open_without_the_name_configured(
    own_bot: Any,
) -> None:
    bot: BotProcess = own_bot(name_in_config=False)
    bot.start()
    admin = bot.api.user(601)
    bot.cli("admin", "add", str(admin.user_id))
    admin.command("invite")
    admin.wait_text("要邀请谁")
    admin.press(label("invite.kind.staff"))
    link = admin.wait_text("邀请链接")["text"]
    name = bot.api.bot_username
    assert re.search(rf"https://t\.me/{name}\?start=[A-Za-z0-9_-]+", link), link
    assert "/start " not in link
    assert bot.stop() == 0
