"""The fake Bot API, driven by the real aiogram 3 and python-telegram-bot 22 clients."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import aiohttp
import pytest
import telegram
from aiogram import Bot as AioBot
from aiogram import Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from telegram import error as ptb_error
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakebotapi import Call, FakeBotAPI, parse_html

JSON = dict[str, Any]


@pytest.fixture
def api() -> Iterator[FakeBotAPI]:
    """A running fake Bot API."""
    with FakeBotAPI() as fake:
        yield fake


def raw(api: FakeBotAPI, method: str, token: str | None = None, **params: Any) -> tuple[int, JSON]:
    """Call the fake with a JSON body from plain urllib."""
    url = f"{api.base_url}/bot{token or api.token}/{method}"
    request = urllib.request.Request(
        url,
        data=json.dumps(params).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@asynccontextmanager
async def aiogram_bot(api: FakeBotAPI) -> AsyncIterator[AioBot]:
    """An aiogram Bot pointed at the fake."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = AioBot(api.token, session=session)
    try:
        yield bot
    finally:
        # session.close() sleeps 250 ms for TLS shutdown; there is no TLS here.
        if session._session is not None:
            await session._session.close()


def ptb_bot(api: FakeBotAPI) -> telegram.Bot:
    """A python-telegram-bot Bot pointed at the fake."""
    return telegram.Bot(
        api.token, base_url=f"{api.base_url}/bot", base_file_url=f"{api.base_url}/file/bot"
    )


YES_NO = [("Yes", "yes"), ("No", "no")]


def aiogram_keyboard() -> InlineKeyboardMarkup:
    """Yes/No inline keyboard for aiogram."""
    row = [InlineKeyboardButton(text=text, callback_data=data) for text, data in YES_NO]
    return InlineKeyboardMarkup(inline_keyboard=[row])


def ptb_keyboard() -> telegram.InlineKeyboardMarkup:
    """Yes/No inline keyboard for python-telegram-bot."""
    row = [telegram.InlineKeyboardButton(text, callback_data=data) for text, data in YES_NO]
    return telegram.InlineKeyboardMarkup([row])


# --------------------------------------------------------------------------- HTTP surface


def test_http_surface_tokens_methods_and_parameter_decoding(api: FakeBotAPI) -> None:
    assert raw(api, "getMe", token="999:WRONG") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert raw(api, "sendTelepathy") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    status, body = raw(api, "GETME")
    assert status == 200
    assert body["result"]["id"] == 123456
    assert body["result"]["username"] == "outreach_test_bot"

    query = f"{api.api_url}/sendmessage?chat_id=-100123&text=hi&disable_notification=true"
    with urllib.request.urlopen(query, timeout=10) as response:
        assert json.loads(response.read())["result"]["chat"]["type"] == "supergroup"
    form = urllib.parse.urlencode(
        {
            "chat_id": "77",
            "text": "form",
            "reply_markup": json.dumps({"inline_keyboard": [[{"text": "A", "url": "https://a"}]]}),
        }
    ).encode()
    with urllib.request.urlopen(f"{api.api_url}/sendMessage", data=form, timeout=10) as response:
        assert json.loads(response.read())["result"]["reply_markup"]["inline_keyboard"]
    calls = api.calls_of("sendmessage")
    assert calls[0].params == {"chat_id": -100123, "text": "hi", "disable_notification": True}
    assert calls[1].params["chat_id"] == 77
    assert isinstance(calls[1].params["reply_markup"], dict)
    assert [c.status for c in api.calls[:2]] == [401, 404]

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{api.base_url}/file/bot{api.token}/documents/nope", timeout=10)
    assert caught.value.code == 404


def test_html_parse_mode_like_telegram(api: FakeBotAPI) -> None:
    text, entities = parse_html('<b>Hi</b> 👋 <a href="https://x.y/?a=1&amp;b=2">link</a> &lt;3')
    assert text == "Hi 👋 link <3"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 6, "length": 4, "url": "https://x.y/?a=1&b=2"},
    ]
    status, body = raw(api, "sendMessage", chat_id=1, text="<b>oops", parse_mode="HTML")
    assert status == 400
    assert body["description"] == (
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\""
    )
    status, body = raw(api, "sendMessage", chat_id=1, text="a<br>b", parse_mode="HTML")
    assert body["description"].endswith('Unsupported start tag "br" at byte offset 1')
    assert raw(api, "sendMessage", chat_id=1, text="  ")[1]["description"] == (
        "Bad Request: message text is empty"
    )
    assert raw(api, "sendMessage", chat_id=1, text="x" * 4097)[1]["description"] == (
        "Bad Request: message is too long"
    )
    bad_button = {"inline_keyboard": [[{"text": "x", "callback_data": "y" * 65}]]}
    status, body = raw(api, "sendMessage", chat_id=1, text="t", reply_markup=bad_button)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")


# --------------------------------------------------------------------------- aiogram


@pytest.mark.asyncio
async def test_aiogram_messages_callbacks_files_and_commands(api: FakeBotAPI) -> None:
    async with aiogram_bot(api) as bot:
        me = await bot.get_me()
        assert (me.id, me.username, me.is_bot) == (123456, "outreach_test_bot", True)

        sent = await bot.send_message(
            42, "Hello <b>there</b>", parse_mode="HTML", reply_markup=aiogram_keyboard()
        )
        assert sent.text == "Hello there"
        assert sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][1].callback_data == "no"
        assert api.calls_of("sendMessage")[-1].params["reply_markup"]["inline_keyboard"][0][0] == {
            "text": "Yes",
            "callback_data": "yes",
        }
        assert api.user(42).buttons() == ["Yes", "No"]

        edited = await bot.edit_message_text("Done", chat_id=42, message_id=sent.message_id)
        assert isinstance(edited, Message)
        assert (edited.text, edited.reply_markup) == ("Done", None)
        with pytest.raises(TelegramBadRequest, match="message is not modified"):
            await bot.edit_message_text("Done", chat_id=42, message_id=sent.message_id)
        with pytest.raises(TelegramBadRequest, match="message to edit not found"):
            await bot.edit_message_text("Nope", chat_id=42, message_id=999)
        assert [m["text"] for m in api.messages_to(42)] == ["Done"]

        update = api.callback(42, api.messages_to(42)[0], "yes")
        api.push_update(update)
        query_id = update["callback_query"]["id"]
        assert await bot.answer_callback_query(query_id, text="Saved") is True
        with pytest.raises(TelegramBadRequest, match="query is too old"):
            await bot.answer_callback_query(query_id)
        assert api.calls_of("answerCallbackQuery")[0].params["text"] == "Saved"

        csv = "名字,电话\n张三,138\n".encode()
        doc = await bot.send_document(
            42, BufferedInputFile(csv, filename="roster.csv"), caption="Roster"
        )
        assert doc.document is not None
        assert (doc.document.file_name, doc.caption) == ("roster.csv", "Roster")
        assert api.calls_of("sendDocument")[-1].files == {"document": ("roster.csv", csv)}
        file = await bot.get_file(doc.document.file_id)
        assert file.file_path is not None
        downloaded = await bot.download_file(file.file_path)
        assert downloaded is not None
        assert downloaded.read() == csv

        commands = [
            BotCommand(command="start", description="开始"),
            BotCommand(command="help", description="帮助"),
        ]
        scope = BotCommandScopeAllPrivateChats()
        assert await bot.set_my_commands(commands, scope=scope, language_code="zh")
        assert [c["command"] for c in api.commands("all_private_chats", "zh")] == ["start", "help"]
        got = await bot.get_my_commands(scope=scope, language_code="zh")
        assert [c.description for c in got] == ["开始", "帮助"]
        assert await bot.get_my_commands() == []
        with pytest.raises(TelegramBadRequest, match="invalid language code"):
            await bot.set_my_commands(commands, language_code="zh-hans")


@pytest.mark.asyncio
async def test_aiogram_long_polling_and_offsets(api: FakeBotAPI) -> None:
    async with aiogram_bot(api) as bot:
        timer = threading.Timer(0.2, lambda: api.push_update(api.message(5, "late")))
        timer.start()
        started = time.monotonic()
        updates = await bot.get_updates(timeout=5)
        assert time.monotonic() - started < 2
        assert [u.message.text for u in updates if u.message] == ["late"]
        first = updates[0].update_id
        assert first == 1000

        api.push_update(api.message(5, "a"))
        api.push_update(api.message(5, "b"))
        unconfirmed = await bot.get_updates(offset=first + 1, timeout=0)
        assert [u.update_id for u in unconfirmed] == [1001, 1002]
        again = await bot.get_updates(timeout=0)
        assert [u.update_id for u in again] == [1001, 1002]
        confirmed = await bot.get_updates(offset=1002, timeout=0)
        assert [u.update_id for u in confirmed] == [1002]
        assert await bot.get_updates(offset=1003, timeout=0) == []
        assert api.pending() == []

        original = api.message(5, "again")
        api.push_update(original)
        await bot.get_updates(offset=original["update_id"] + 1, timeout=0)
        api.redeliver(original)
        redelivered = await bot.get_updates(offset=original["update_id"] + 1, timeout=0)
        assert [u.update_id for u in redelivered] == [original["update_id"]]
        assert await bot.get_updates(offset=original["update_id"] + 1, timeout=0) == []


@pytest.mark.asyncio
async def test_aiogram_typed_errors(api: FakeBotAPI) -> None:
    async with aiogram_bot(api) as bot:
        api.block_chat(7)
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(7, "hi")
        api.unblock_chat(7)
        await bot.send_message(7, "hi")

        api.retry_after(3)
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(7, "hi")
        assert caught.value.retry_after == 3
        await bot.send_message(7, "after the wait")

        api.missing_chat(8)
        with pytest.raises(TelegramBadRequest, match="chat not found"):
            await bot.send_message(8, "hi")

        api.server_error()
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(7, "hi")

        await bot.set_webhook("http://127.0.0.1:9/hook")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates(timeout=0)
        await bot.delete_webhook()
    statuses = [(c.method, c.status) for c in api.calls if c.method == "sendMessage"]
    assert statuses == [
        ("sendMessage", 403),
        ("sendMessage", 200),
        ("sendMessage", 429),
        ("sendMessage", 200),
        ("sendMessage", 400),
        ("sendMessage", 502),
    ]
    assert [chat for _, chat in api.send_times()] == [7, 7]


@pytest.mark.asyncio
async def test_aiogram_dispatcher_polling_with_fake_user(api: FakeBotAPI) -> None:
    router = Router()

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Pick one", reply_markup=aiogram_keyboard())

    @router.callback_query(F.data == "yes")
    async def yes(query: CallbackQuery) -> None:
        await query.answer("ok")
        assert isinstance(query.message, Message)
        await query.message.edit_text("You said yes")

    @router.message(F.text == "phone")
    async def ask_phone(message: Message) -> None:
        keyboard = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="Share my number", request_contact=True)]],
            resize_keyboard=True,
        )
        await message.answer("Your number?", reply_markup=keyboard)

    @router.message(F.contact)
    async def got_contact(message: Message) -> None:
        assert message.contact is not None
        assert message.from_user is not None
        own = message.contact.user_id == message.from_user.id
        await message.answer(f"own={own}", reply_markup=ReplyKeyboardRemove())

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    async with aiogram_bot(api) as bot:
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot, handle_signals=False, close_bot_session=False, polling_timeout=2
            )
        )
        user = api.user(1001)
        user.command("start")
        reply = await asyncio.to_thread(user.wait_reply)
        assert reply["text"] == "Pick one"
        assert user.buttons() == ["Yes", "No"]
        with pytest.raises(AssertionError, match=r"available: \['Yes', 'No'\]"):
            user.press("Maybe")

        user.press("Ye", exact=False)
        edited = await asyncio.to_thread(user.wait_text, "You said yes")
        assert "reply_markup" not in edited
        assert user.last_text() == "You said yes"
        answer = await asyncio.to_thread(api.wait_for, lambda c: c.method == "answerCallbackQuery")
        assert answer.params["text"] == "ok"

        user.send("phone")
        await asyncio.to_thread(user.wait_text, "Your number?")
        assert user.reply_keyboard() == ["Share my number"]
        user.share_contact("+8613800000000")
        await asyncio.to_thread(user.wait_text, "own=True")
        assert user.reply_keyboard() == []

        await dispatcher.stop_polling()
        await asyncio.wait_for(polling, 5)
    assert user.language_code == "zh-hans"


@pytest.mark.asyncio
async def test_aiogram_webhook_with_secret_and_reply_in_response(api: FakeBotAPI) -> None:
    router = Router()

    @router.message(F.text == "ping")
    async def ping(message: Message) -> Any:
        return message.answer("pong")  # answered inside the webhook response

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    async with aiogram_bot(api) as bot:
        app = web.Application()
        SimpleRequestHandler(
            dispatcher, bot, handle_in_background=False, secret_token="s3cret"
        ).register(app, path="/hook")
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        try:
            assert await bot.set_webhook(url, secret_token="s3cret")
            info = await bot.get_webhook_info()
            assert info.url == url
            user = api.user(2002)
            user.send("ping")
            reply = await asyncio.to_thread(user.wait_reply)
            assert reply["text"] == "pong"
            assert await asyncio.to_thread(api.wait_webhook, 1) == [200]
            wrong = await asyncio.to_thread(
                api.post_webhook, url, api.message(2002, "ping"), "wrong"
            )
            assert wrong == 401
        finally:
            await runner.cleanup()


# --------------------------------------------------------------------------- python-telegram-bot


@pytest.mark.asyncio
async def test_ptb_messages_callbacks_files_and_commands(api: FakeBotAPI) -> None:
    async with ptb_bot(api) as bot:
        assert (bot.id, bot.username) == (123456, "outreach_test_bot")
        sent = await bot.send_message(
            42, "Hi <i>you</i>", parse_mode="HTML", reply_markup=ptb_keyboard()
        )
        assert sent.text == "Hi you"
        assert sent.reply_markup is not None
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "yes"
        edited = await bot.edit_message_text(
            "Chosen", chat_id=42, message_id=sent.message_id, reply_markup=ptb_keyboard()
        )
        assert isinstance(edited, telegram.Message)
        assert edited.text == "Chosen"
        with pytest.raises(ptb_error.BadRequest, match="Message is not modified"):
            await bot.edit_message_text(
                "Chosen", chat_id=42, message_id=sent.message_id, reply_markup=ptb_keyboard()
            )
        with pytest.raises(ptb_error.BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=42, message_id=12345)

        update = api.callback(42, api.messages_to(42)[0], "no")
        api.push_update(update)
        assert await bot.answer_callback_query(update["callback_query"]["id"], text="Noted")

        doc = await bot.send_document(42, document=b"%PDF-1.4 fake", filename="guide.pdf")
        assert doc.document is not None
        assert doc.document.file_name == "guide.pdf"
        assert api.calls_of("sendDocument")[-1].files == {
            "document": ("guide.pdf", b"%PDF-1.4 fake")
        }
        file = await bot.get_file(doc.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 fake"

        assert await bot.set_my_commands([("start", "开始")], language_code="zh")
        assert api.commands("default", "zh") == [{"command": "start", "description": "开始"}]
        assert [c.command for c in await bot.get_my_commands(language_code="zh")] == ["start"]
        with pytest.raises(ptb_error.BadRequest, match="Invalid language code"):
            await bot.set_my_commands([("start", "开始")], language_code="zh-hans")


@pytest.mark.asyncio
async def test_ptb_long_polling_and_typed_errors(
    api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with ptb_bot(api) as bot:
        threading.Timer(0.2, lambda: api.push_update(api.message(9, "/start"))).start()
        started = time.monotonic()
        updates = await bot.get_updates(timeout=dt.timedelta(seconds=5))
        assert time.monotonic() - started < 2
        assert updates[0].message is not None
        assert updates[0].message.text == "/start"
        assert updates[0].message.from_user is not None
        assert updates[0].message.from_user.language_code == "zh-hans"
        offset = updates[0].update_id + 1
        assert await bot.get_updates(offset=offset, timeout=dt.timedelta(0)) == ()

        api.block_chat(9)
        with pytest.raises(ptb_error.Forbidden, match="bot was blocked by the user"):
            await bot.send_message(9, "hi")
        api.unblock_chat(9)
        api.retry_after(4, methods=["sendPhoto"])
        await bot.send_message(9, "messages are not limited")
        with pytest.raises(ptb_error.RetryAfter) as caught:
            await bot.send_photo(9, photo=b"\xff\xd8fakejpeg")
        assert caught.value.retry_after == dt.timedelta(seconds=4)
        photo = await bot.send_photo(9, photo=b"\xff\xd8fakejpeg", caption="pic")
        assert (
            photo.photo[-1].file_id == api.calls_of("sendPhoto")[-1].result["photo"][-1]["file_id"]
        )
        api.missing_chat(10)
        with pytest.raises(ptb_error.BadRequest, match="Chat not found"):
            await bot.send_message(10, "hi")
        api.server_error()
        with pytest.raises(ptb_error.NetworkError, match="Bad Gateway"):
            await bot.send_message(9, "hi")
        await bot.set_webhook("http://127.0.0.1:9/hook")
        with pytest.raises(ptb_error.Conflict):
            await bot.get_updates(offset=offset)
        await bot.delete_webhook()
    assert [c.status for c in api.calls_of("sendPhoto")] == [429, 200]


@pytest.mark.asyncio
async def test_ptb_application_polling_with_fake_user(api: FakeBotAPI) -> None:
    async def start(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Pick one", reply_markup=ptb_keyboard())

    async def pressed(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You said {query.data}")

    app = (
        Application.builder()
        .token(api.token)
        .base_url(f"{api.base_url}/bot")
        .base_file_url(f"{api.base_url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dt.timedelta(seconds=1))
        user = api.user(3003, language_code="en", first_name="Li")
        user.command("start")
        reply = await asyncio.to_thread(user.wait_reply)
        assert (reply["text"], reply["chat"]["first_name"]) == ("Pick one", "Li")
        user.press("No")
        await asyncio.to_thread(user.wait_text, "You said no")
        await app.updater.stop()
        await app.stop()
    assert api.pending() == []


# --------------------------------------------------------------------------- webhooks, injection


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str | None, JSON]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(
            (self.headers.get("X-Telegram-Bot-Api-Secret-Token"), json.loads(body))
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_webhook_push_with_secret_header(api: FakeBotAPI) -> None:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/tg"
    try:
        api.push_update(api.message(4, "queued before the webhook"))
        assert raw(api, "setWebhook", url=url, secret_token="top-secret")[0] == 200
        update_id = api.push_update(api.message(4, "hello"))
        assert api.wait_webhook(2) == [200, 200]
        assert [secret for secret, _ in _Hook.received] == ["top-secret", "top-secret"]
        assert _Hook.received[1][1]["update_id"] == update_id
        assert _Hook.received[1][1]["message"]["text"] == "hello"
        status, body = raw(api, "getUpdates")
        assert (status, body["error_code"]) == (409, 409)
        assert api.post_webhook(url, api.message(4, "direct"), secret=None) == 200
        assert _Hook.received[2][0] is None
        assert raw(api, "getWebhookInfo")[1]["result"]["url"] == url
        raw(api, "deleteWebhook")
        assert api.webhook_url is None
        api.push_update(api.message(4, "polled again"))
        assert raw(api, "getUpdates")[1]["result"][0]["message"]["text"] == "polled again"
    finally:
        server.shutdown()
        server.server_close()


def test_failure_injection_counts_latency_and_wait_for(api: FakeBotAPI) -> None:
    api.retry_after(2, count=2, methods=["sendMessage"])
    results = [raw(api, "sendMessage", chat_id=1, text="x") for _ in range(3)]
    assert [status for status, _ in results] == [429, 429, 200]
    assert results[0][1] == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    api.server_error(count=1)
    assert raw(api, "sendDocument", chat_id=1, document="x")[0] == 502
    assert raw(api, "sendMessage", chat_id=1, text="ok")[0] == 200

    api.latency = 0.15
    started = time.monotonic()
    raw(api, "sendMessage", chat_id=1, text="slow")
    assert time.monotonic() - started >= 0.15
    raw(api, "getMe")  # not a send: no latency
    api.clear_failures()
    assert api.latency == 0.0

    assert api.count("sendMessage") == 3
    assert api.count("sendMessage", 429) == 2
    mark = api.mark()
    threading.Timer(0.1, lambda: raw(api, "sendMessage", chat_id=5, text="later")).start()
    call = api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 5, after=mark)
    assert isinstance(call, Call)
    assert call.result["text"] == "later"
    with pytest.raises(AssertionError, match=r"(?s)no matching call.*#7 sendMessage -> 200"):
        api.wait_for(lambda c: c.method == "close", timeout=0.2, after=mark - 2)
    api.reset_calls()
    assert api.mark() == 0
    assert api.calls == []


def test_getupdates_conflict_and_stop_wake_long_polls() -> None:
    with FakeBotAPI() as api:
        _conflict_then_stop(api)


def _conflict_then_stop(api: FakeBotAPI) -> None:
    first: list[tuple[int, JSON]] = []
    older = threading.Thread(target=lambda: first.append(raw(api, "getUpdates", timeout=10)))
    older.start()
    api.wait_polling(5)
    second: list[tuple[int, JSON]] = []
    newer = threading.Thread(target=lambda: second.append(raw(api, "getUpdates", timeout=10)))
    newer.start()
    older.join(5)
    assert first[0][0] == 409
    assert "terminated by other getUpdates request" in first[0][1]["description"]
    started = time.monotonic()
    api.stop()
    newer.join(5)
    assert time.monotonic() - started < 3
    assert second == [(200, {"ok": True, "result": []})]


def test_allowed_updates_and_builders(api: FakeBotAPI) -> None:
    user = api.user(11)
    user.send_photo(caption="receipt")
    user.send_sticker()
    user.send_location()
    user.send_document("a.txt", b"hello", "text/plain")
    api.push_update(api.my_chat_member(11, "kicked"))
    status, body = raw(api, "getUpdates", allowed_updates=["message"])
    kinds = [next(k for k in u if k != "update_id") for u in body["result"]]
    assert kinds == ["message"] * 4
    messages = [u["message"] for u in body["result"]]
    assert messages[0]["caption"] == "receipt"
    assert "sticker" in messages[1]
    assert "location" in messages[2]
    document = messages[3]["document"]
    file_result = raw(api, "getFile", file_id=document["file_id"])[1]["result"]
    url = f"{api.base_url}/file/bot{api.token}/{file_result['file_path']}"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"hello"
    status, copied = raw(
        api, "copyMessage", chat_id=99, from_chat_id=11, message_id=messages[0]["message_id"]
    )
    assert status == 200
    assert api.messages_to(99)[0]["caption"] == "receipt"
    assert api.messages_to(99)[0]["message_id"] == copied["result"]["message_id"]


@pytest.mark.asyncio
async def test_record_messages_off_keeps_counters_and_is_fast() -> None:
    with FakeBotAPI(record_messages=False) as api:
        url = f"{api.api_url}/sendMessage"
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:

            async def send(i: int) -> int:
                async with session.post(url, data={"chat_id": str(i), "text": "hi"}) as response:
                    return response.status

            for batch in range(2):
                statuses = await asyncio.gather(*(send(batch * 500 + i) for i in range(500)))
                assert set(statuses) == {200}
        elapsed = time.monotonic() - started
        api.wait_count("sendMessage", 1000, timeout=1)
        assert len(api.send_times()) == 1000
        assert api.calls_of("sendMessage") == []
        assert api.messages_to(1) == []
        assert elapsed < 5, f"1000 sends took {elapsed:.2f}s"
