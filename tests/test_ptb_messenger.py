"""The python-telegram-bot messenger against the local fake Bot API: calls and typed errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.error import RetryAfter as PtbRetryAfter
from telegram.ext import ExtBot

from bot.config import Settings, TelegramSettings
from bot.messenger import Blocked, ChatNotFound, Rejected, RetryAfter, Transient
from bot.runtimes.ptb_runtime import (
    AiohttpRequest,
    PtbMessenger,
    make_application,
    messenger_error,
)
from tests.botprocess import TOKEN
from tests.fakebotapi import FakeBotAPI

CHAT = 4242
KEYBOARD = {"inline_keyboard": [[{"text": "好", "callback_data": "t1|plan|stay"}]]}


@pytest.fixture(scope="module")
def api() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def messenger(api: FakeBotAPI) -> AsyncIterator[PtbMessenger]:
    api.clear_failures()
    settings = Settings(telegram=TelegramSettings(token=TOKEN, api_base_url=api.base_url))
    application = make_application(settings, polling=False)
    async with application.bot as bot:
        yield PtbMessenger(bot)


async def test_messages_go_out_as_html_without_link_previews(
    api: FakeBotAPI, messenger: PtbMessenger
) -> None:
    mark = api.mark()
    message_id = await messenger.send_text(CHAT, "<b>留企</b> https://example.org", KEYBOARD)
    [sent] = [c for c in api.calls[mark:] if c.method == "sendMessage"]
    assert sent.params["parse_mode"] == "HTML"
    assert sent.params["link_preview_options"] == {"is_disabled": True}
    assert sent.params["reply_markup"] == KEYBOARD
    assert sent.result["message_id"] == message_id
    assert sent.result["text"] == "留企 https://example.org"

    await messenger.edit_text(CHAT, message_id, "<i>已保存</i>")
    await messenger.send_text(CHAT, "手机号", {"keyboard": [[{"text": "分享"}]]})
    await messenger.send_text(CHAT, "好", {"remove_keyboard": True})
    await messenger.edit_markup(CHAT, message_id, KEYBOARD)
    await messenger.edit_markup(CHAT, message_id, None)
    edits = [c for c in api.calls[mark:] if c.method.startswith("edit")]
    assert [c.ok for c in edits] == [True, True, True]
    assert edits[0].params["parse_mode"] == "HTML"
    assert "reply_markup" not in edits[0].params, "an edit without buttons removes them"
    assert api.messages_to(CHAT)[-1]["text"] == "好"


async def test_files_photos_buttons_and_menus(api: FakeBotAPI, messenger: PtbMessenger) -> None:
    mark = api.mark()
    await messenger.send_document(CHAT, "台账.xlsx", b"PK\x03\x04ledger", "<b>台账</b>")
    upload = api.calls[-1]
    assert upload.files["document"][0] == "台账.xlsx"
    file_id = upload.result["document"]["file_id"]
    assert api.file_bytes(file_id) == b"PK\x03\x04ledger"

    await messenger.send_stored_document(CHAT, file_id, "一封信", KEYBOARD)
    assert api.calls[-1].params["document"] == file_id
    assert api.calls[-1].params["reply_markup"] == KEYBOARD
    # A file id that happens to name a local file is still a file id, never an upload.
    with pytest.raises(Rejected):
        await messenger.send_stored_document(CHAT, __file__, None)
    assert api.calls[-1].files == {}

    await messenger.send_photo(CHAT, b"\x89PNG\r\n\x1a\nfake", "海报")
    photo_id = api.calls[-1].result["photo"][-1]["file_id"]
    await messenger.send_photo(CHAT, photo_id, None, KEYBOARD)
    assert api.calls[-1].params["photo"] == photo_id

    press = api.callback(CHAT, api.messages_to(CHAT)[-1], "t1|plan|stay")
    api.push_update(press)
    await messenger.answer_button(press["callback_query"]["id"], "已过期", True)
    assert api.calls[-1].params["show_alert"] is True
    assert api.calls[-1].params["text"] == "已过期"

    await messenger.set_commands([("checkin", "打卡")], "zh", None)
    await messenger.set_commands([("report", "日报")], None, CHAT)
    assert api.commands("default", "zh") == [{"command": "checkin", "description": "打卡"}]
    assert api.commands(f"chat:{CHAT}", "") == [{"command": "report", "description": "日报"}]
    assert all(c.ok for c in api.calls[mark:] if c.params.get("document") != __file__)


async def test_refusals_become_the_messengers_typed_errors(
    api: FakeBotAPI, messenger: PtbMessenger
) -> None:
    api.block_chat(CHAT + 1)
    with pytest.raises(Blocked):
        await messenger.send_text(CHAT + 1, "hi")
    api.missing_chat(CHAT + 2)
    with pytest.raises(ChatNotFound):
        await messenger.send_text(CHAT + 2, "hi")
    api.retry_after(7)
    with pytest.raises(RetryAfter) as waited:
        await messenger.send_text(CHAT, "hi")
    assert waited.value.seconds == 7
    api.server_error()
    with pytest.raises(Transient):
        await messenger.send_text(CHAT, "hi")
    with pytest.raises(Rejected):
        await messenger.edit_text(CHAT, 999_999, "no such message")
    with pytest.raises(Rejected):
        await messenger.send_text(CHAT, "<b>unclosed")


async def test_an_unreachable_server_is_transient() -> None:
    with FakeBotAPI(token=TOKEN) as fake:
        settings = Settings(telegram=TelegramSettings(token=TOKEN, api_base_url=fake.base_url))
        application = make_application(settings, polling=False)
        async with application.bot as bot:
            fake.stop()
            with pytest.raises(Transient):
                await PtbMessenger(bot).send_text(CHAT, "hi")


async def test_a_slow_answer_times_out_as_transient(api: FakeBotAPI) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    bot = ExtBot(TOKEN, base_url=f"{api.base_url}/bot", request=request)
    async with bot:
        api.latency = 0.5
        mark = api.mark()
        try:
            with pytest.raises(Transient, match="Timed out"):
                await PtbMessenger(bot).send_text(CHAT, "hi")
        finally:
            api.latency = 0.0
        # Let the fake finish the request it was still answering.
        await asyncio.to_thread(api.wait_for, lambda c: c.method == "sendMessage", 5, mark)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (PtbRetryAfter(3), RetryAfter),
        (PtbRetryAfter(timedelta(seconds=3)), RetryAfter),
        (Forbidden("Forbidden: bot was blocked by the user"), Blocked),
        (BadRequest("Bad Request: chat not found"), ChatNotFound),
        (BadRequest("Bad Request: message is not modified"), Rejected),
        (TimedOut(), Transient),
        (NetworkError("Bad Gateway"), Transient),
        (OSError("connection reset"), Transient),
    ],
)
def test_the_mapping_of_ptb_exceptions(error: Exception, expected: type[Exception]) -> None:
    mapped = messenger_error(error)
    assert type(mapped) is expected
    if isinstance(mapped, RetryAfter):
        assert mapped.seconds == 3
