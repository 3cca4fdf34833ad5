"""One scenario, three runtimes: the same conversations through aiogram, python-telegram-bot
and the web channel's page, written once and driven by the same taps and words.

A Telegram person is a FakeUser on the fake Bot API; a web person is a WebUser on the chat
page's own HTTP API (tests/webclient.py). The web bot runs with no token at all, as on a
fresh machine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from tests.botprocess import TOKEN, BotProcess, count_rows, label
from tests.e2e.test_report_e2e import enrol_contact
from tests.e2e.test_worker_e2e import (
    enrol,
    finish_going_home,
    start_going_home,
    stay_lacking_heating,
)
from tests.fakebotapi import VOICE_OGG, FakeBotAPI, FakeUser
from tests.webclient import PNG, WebUser

pytestmark = pytest.mark.e2e

CHANNEL_RUNTIMES = ["aiogram", "ptb", "web"]
_ids = count(60_000)


def make_bot(api: FakeBotAPI, home: Path, runtime: str) -> BotProcess:
    """A bot of the runtime: the web one with no token, serving the web channel alone."""
    if runtime == "web":
        return BotProcess(api, home, "aiogram", telegram=False)
    return BotProcess(api, home, runtime)


@pytest.fixture(scope="session", params=CHANNEL_RUNTIMES)
def channel_bot(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BotProcess]:
    """One bot per runtime, shared by this module's scenarios, on a fake Bot API of its own
    (another bot polling the same one would take its updates)."""
    with FakeBotAPI(token=TOKEN) as api:
        bot = make_bot(api, tmp_path_factory.mktemp(f"channel-{request.param}"), request.param)
        bot.start()
        yield bot
        assert bot.stop() == 0, bot.log()


def person_of(bot: BotProcess) -> Callable[[], Any]:
    """Makes new people of the bot's channel."""

    def make() -> Any:
        if not bot.telegram:
            return WebUser(bot.web_url)
        return bot.api.user(next(_ids), language_code="zh-hans")

    return make


def test_enrolment_and_check_in_by_tapping(channel_bot: BotProcess) -> None:
    code = channel_bot.add_enterprise("城建六公司")
    user = person_of(channel_bot)()
    enrol(user, code)
    stay_lacking_heating(user)
    channel = "web" if not channel_bot.telegram else "telegram"
    assert count_rows(channel_bot, "people", f"channel = '{channel}'") >= 1


def test_a_request_with_a_photo_reaches_the_contact(channel_bot: BotProcess) -> None:
    name = f"暖通公司{channel_bot.web_port}"
    code = channel_bot.add_enterprise(name)
    new_person = person_of(channel_bot)
    contact = new_person()
    enrol_contact(contact, channel_bot.contact_invite(name), "赵经理", "13900001001")

    worker = new_person()
    enrol(worker, code)
    worker.command("request")
    worker.wait_text("您需要什么帮助")
    worker.press(label("request.category.housing"))
    worker.wait_text("请把情况写清楚")
    worker.send("宿舍窗户坏了，很冷")
    worker.wait_text("有照片可以发一张")
    worker.send_photo()
    worker.wait_text("请核对您的求助")
    worker.press(label("ui.confirm"))
    worker.wait_text("已提交，编号")
    assert "宿舍窗户坏了" in contact.wait_text("新的求助")["text"]
    prefix = "web:%" if not channel_bot.telegram else "%"
    assert count_rows(channel_bot, "help_requests", f"photo_file_id LIKE '{prefix}'") >= 1


def ask_with_voice_and_photo(worker: Any, voice: Callable[[], object]) -> None:
    """A worker's housing request, described by a voice message, with a photo."""
    worker.command("request")
    worker.wait_text("您需要什么帮助")
    worker.press(label("request.category.housing"))
    worker.wait_text("请把情况写清楚")
    voice()
    worker.wait_text("有照片可以发一张")
    worker.send_photo()
    worker.wait_text("请核对您的求助")
    worker.press(label("ui.confirm"))
    worker.wait_text("已提交，编号")


# Both Telegram runtimes serve the web channel in the same process: a request made on one
# channel is handled on the other.
@pytest.mark.parametrize("channel_bot", ["aiogram", "ptb"], indirect=True)
def test_a_web_workers_photo_and_voice_reach_a_contact_on_telegram(
    channel_bot: BotProcess,
) -> None:
    bot = channel_bot
    name = f"跨网公司{bot.web_port}"
    code = bot.add_enterprise(name)
    contact = bot.api.user(next(_ids), language_code="zh-hans")
    enrol_contact(contact, bot.contact_invite(name), "孙经理", "13900001002")
    worker: Any = WebUser(bot.web_url)
    enrol(worker, code)
    ask_with_voice_and_photo(worker, lambda: worker.send_voice(VOICE_OGG))

    assert "（语音）" in contact.wait_text("新的求助")["text"]
    mark = bot.api.mark()
    contact.press(label("request.answer_button"))
    for method, field, data in (("sendPhoto", "photo", PNG), ("sendVoice", "voice", VOICE_OGG)):

        def uploaded(c: Any, m: str = method) -> bool:
            return bool(c.method == m and c.chat_id == contact.chat_id and c.ok)

        call = bot.api.wait_for(uploaded, after=mark)
        assert call.files[field][1] == data, f"{method}: the web upload's own bytes"
    contact.wait_text("请输入对求助")


@pytest.mark.parametrize("channel_bot", ["aiogram", "ptb"], indirect=True)
def test_a_telegram_workers_photo_and_voice_reach_a_contact_on_the_web(
    channel_bot: BotProcess,
) -> None:
    bot = channel_bot
    name = f"跨端公司{bot.web_port}"
    code = bot.add_enterprise(name)
    contact: Any = WebUser(bot.web_url)  # drives the same steps as a FakeUser
    enrol_contact(contact, bot.contact_invite(name), "周经理", "13900001003")
    worker: FakeUser = bot.api.user(next(_ids), language_code="zh-hans")
    enrol(worker, code)
    ask_with_voice_and_photo(worker, lambda: worker.send_voice(duration=7))
    photo_id = bot.api.calls_of("sendPhoto")[-1].params["photo"]

    contact.wait_text("新的求助")
    contact.press(label("request.answer_button"))
    # Fetched from Telegram (getFile, then the download) and kept for the contact's page.
    assert contact.wait_file("photo") == bot.api.file_bytes(str(photo_id))
    assert contact.wait_file("voice") == VOICE_OGG
    assert bot.api.count("getFile") >= 2


@pytest.fixture(params=CHANNEL_RUNTIMES)
def own_channel_bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BotProcess]:
    """A bot of this test's own, on each runtime in turn (for restarts)."""
    api = FakeBotAPI(token="123456789:TESTtokenTESTtokenTESTtokenTESTtoken1").start()
    bot = make_bot(api, tmp_path / "bot", request.param)
    yield bot
    if bot.process is not None:
        bot.kill()
    api.stop()


def test_a_restart_mid_conversation_goes_on_where_it_was(own_channel_bot: BotProcess) -> None:
    bot = own_channel_bot
    code = bot.add_enterprise("城建七公司")
    bot.start()
    user = person_of(bot)()
    enrol(user, code)
    start_going_home(user)
    bot.kill()  # SIGKILL: no goodbye

    bot.start()
    finish_going_home(user)
    assert count_rows(bot, "checkins", "destination_city = '长沙市'") == 1


def test_with_no_token_the_run_prints_the_page_a_worker_link_and_an_admin_link(
    tmp_path: Path,
) -> None:
    with FakeBotAPI(token="123456789:TESTtokenTESTtokenTESTtokenTESTtoken1") as api:
        bot = BotProcess(api, tmp_path / "bot", telegram=False)
        bot.start()
        try:
            out = bot.log()
            assert f"web channel: {bot.web_url}" in out
            assert "Telegram is off until a bot token is set" in out
            worker = re.search(r"worker link: (\S+)/j/([A-Za-z0-9_-]+)", out)
            admin = re.search(r"one-time admin link .*: (\S+)/j/([A-Za-z0-9_-]+)", out)
            assert worker and admin, out
            person = WebUser(bot.web_url, path=f"/j/{worker.group(2)}")
            person.wait_text("示范企业")
            staff = WebUser(bot.web_url, path=f"/j/{admin.group(2)}")
            staff.wait_text("关于您的个人信息")
            staff.press(label("enrol.agree"))
            staff.wait_text("真实姓名")
            staff.send("李主任")
            staff.wait_text("李主任，您已登记为")
            assert count_rows(bot, "people", "role = 'admin' AND channel = 'web'") == 1
            again = WebUser(bot.web_url, path=f"/j/{admin.group(2)}")
            assert "李主任，您已登记为" not in again.last_text(), "the admin link works once"
        finally:
            assert bot.stop() == 0, bot.log()


def test_a_broadcast_sent_while_the_page_was_closed_waits_for_the_worker(
    tmp_path: Path,
) -> None:
    with FakeBotAPI(token="123456789:TESTtokenTESTtokenTESTtokenTESTtoken1") as api:
        bot = BotProcess(
            api,
            tmp_path / "bot",
            telegram=False,
            extra_config="[broadcast]\nrate_per_second = 200\nprogress_seconds = 0.5",
        )
        bot.start()
        try:
            admin = re.search(r"one-time admin link .*/j/([A-Za-z0-9_-]+)", bot.log())
            worker_link = re.search(r"worker link: \S+/j/([A-Za-z0-9_-]+)", bot.log())
            assert admin and worker_link
            worker: Any = WebUser(bot.web_url)  # drives the same scenario steps as a FakeUser
            enrol(worker, worker_link.group(1))
            worker.command("cancel")
            closed_at = worker.last_seq  # the worker closes the page here

            staff = WebUser(bot.web_url, path=f"/j/{admin.group(1)}")
            staff.press(label("enrol.agree"))
            staff.wait_text("真实姓名")
            staff.send("李主任")
            staff.wait_text("李主任，您已登记为")
            staff.command("broadcast")
            staff.wait_text("发给谁")
            staff.press(label("broadcast.audience.workers"))
            staff.wait_text("1")
            staff.send("春节期间食堂照常开放 <每天 6:00-20:00>")
            staff.wait_text("什么时候发送")
            staff.press(label("broadcast.send_now"))
            staff.wait_text("请核对")
            staff.press(label("ui.confirm"))
            staff.wait_text("发送报告", timeout=30)
            assert count_rows(bot, "deliveries", "status = 'sent'") == 1, "sent once written"
            assert count_rows(bot, "web_chats", f"read_seq < last_seq AND last_seq > {closed_at}")

            # The worker opens the page again: the notice is there, as written.
            worker.wait_text("春节期间食堂照常开放 <每天 6:00-20:00>")
        finally:
            assert bot.stop() == 0, bot.log()
