"""The python-telegram-bot 22 runtime: updates in (polling or webhook), messenger calls out.

The same seam as the aiogram runtime: one handler turns every update into the inbound event
and hands it to the app; no ConversationHandler and no persistence of PTB's, since the
conversation state lives in the database. No rules here.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    Document,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    PhotoSize,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    Voice,
)
from telegram import __version__ as ptb_version

# What PTB passes for a timeout not given in the call (its own transport reads them so too).
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
    TimedOut,
)
from telegram.error import RetryAfter as PtbRetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackContext,
    Defaults,
    ExtBot,
    TypeHandler,
)
from telegram.request import BaseRequest, RequestData

from bot.app import App
from bot.config import Settings
from bot.files import (
    FileData,
    Files,
    photo_source,
    remember_upload,
    shows_as_voice,
    telegram_source,
)
from bot.messenger import (
    Blocked,
    ChatNotFound,
    Markup,
    MessengerError,
    Rejected,
    RetryAfter,
    Transient,
)
from bot.runtimes.common import (
    SECRET_HEADER,
    health_handler,
    introduce,
    not_an_update,
    reach_bot_api,
    stop_on_signals,
)
from bot.scheduler import Background, background
from bot.updates import ALLOWED_UPDATES, NotAnUpdate, event_from_update, read_update
from handlers.events import Inbound

# PTB's opt-in to time periods as timedelta (its next major version's only behaviour);
# without it, every RetryAfter PTB raises also emits a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "true")

log = logging.getLogger(__name__)
T = TypeVar("T")
PtbMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]
PtbApplication = Application[
    ExtBot[None], Context, dict[Any, Any], dict[Any, Any], dict[Any, Any], None
]

# Updates handled at once; one chat's updates still queue behind each other in the engine.
CONCURRENT_UPDATES = 64


def to_markup(markup: Markup | None) -> PtbMarkup | None:
    """Bot API JSON keyboard → PTB's type."""
    if markup is None:
        return None
    if "inline_keyboard" in markup:
        return InlineKeyboardMarkup.de_json(markup, None)
    if "keyboard" in markup:
        return ReplyKeyboardMarkup.de_json(markup, None)
    return ReplyKeyboardRemove.de_json(markup, None)


def to_inline(markup: Markup | None) -> InlineKeyboardMarkup | None:
    """Only inline keyboards can sit under an edited message."""
    return InlineKeyboardMarkup.de_json(markup, None) if markup else None


def _seconds(error: PtbRetryAfter) -> float:
    """How long Telegram asks to wait (a timedelta with PTB_TIMEDELTA, else an int)."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def messenger_error(error: Exception) -> MessengerError:
    """PTB's exception as the messenger's typed error (the same mapping as aiogram's)."""
    if isinstance(error, MessengerError):
        return error
    if isinstance(error, PtbRetryAfter):
        return RetryAfter(_seconds(error))
    if isinstance(error, Forbidden):
        return Blocked(error.message)
    if isinstance(error, BadRequest):  # before NetworkError: PTB makes it a subclass
        if "chat not found" in error.message.lower():
            return ChatNotFound(error.message)
        return Rejected(error.message)
    if isinstance(error, ChatMigrated | InvalidToken):
        return Rejected(error.message)
    if isinstance(error, NetworkError | TimeoutError):  # TimedOut is a NetworkError
        return Transient(str(error))
    if isinstance(error, TelegramError):
        return Transient(error.message)
    return Transient(type(error).__name__)


async def _call(request: Awaitable[T]) -> T:
    """Make a Bot API call, turning PTB's exceptions into the messenger's."""
    try:
        return await request
    except Exception as error:
        raise messenger_error(error) from error


def _message_id(result: object) -> int:
    message_id = getattr(result, "message_id", None)
    return int(message_id) if message_id is not None else 0


class PtbMessenger:
    """The messenger port over a PTB Bot (HTML and no link previews come from its Defaults)."""

    def __init__(self, bot: ExtBot[None], files: Files | None = None) -> None:
        self.bot = bot
        # Reads another channel's files, to upload them (bot/files.py).
        self.files = files

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        message = await _call(self.bot.send_message(chat_id, text, reply_markup=to_markup(markup)))
        return message.message_id

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        await _call(
            self.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, reply_markup=to_inline(markup)
            )
        )

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        await _call(
            self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=to_inline(markup)
            )
        )

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        await _call(self.bot.answer_callback_query(callback_id, text=text, show_alert=alert))

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        message = await _call(
            self.bot.send_document(chat_id, data, filename=filename, caption=caption)
        )
        return message.message_id

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, file_id, "document")
        # A file id goes as a Document, not a string: PTB would upload a local file of that name.
        document = (
            source.data
            if isinstance(source, FileData)
            else Document(file_id=source, file_unique_id="")
        )
        message = await _call(
            self.bot.send_document(
                chat_id,
                document,
                caption=caption,
                reply_markup=to_markup(markup),
                filename=source.name if isinstance(source, FileData) else None,
            )
        )
        remember_upload(self.files, file_id, source, "document", message)
        return message.message_id

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await photo_source(self.files, photo)
        message = await _call(
            self.bot.send_photo(
                chat_id,
                source.data
                if isinstance(source, FileData)
                else PhotoSize(file_id=source, file_unique_id="", width=0, height=0),
                caption=caption,
                reply_markup=to_markup(markup),
                filename=source.name if isinstance(source, FileData) else None,
            )
        )
        remember_upload(self.files, photo, source, "photo", message)
        return message.message_id

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, voice, "voice")
        if isinstance(source, FileData):
            if not shows_as_voice(source.mime):
                return await self.send_document(chat_id, source.name, source.data, caption)
            sent = self.bot.send_voice(
                chat_id,
                source.data,
                caption=caption,
                reply_markup=to_markup(markup),
                filename=source.name,
            )
        else:
            held = Voice(file_id=source, file_unique_id="", duration=timedelta(0))
            sent = self.bot.send_voice(
                chat_id, held, caption=caption, reply_markup=to_markup(markup)
            )
        message = await _call(sent)
        remember_upload(self.files, voice, source, "voice", message)
        return message.message_id

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        scope = BotCommandScopeChat(chat_id) if chat_id else BotCommandScopeDefault()
        await _call(
            self.bot.set_my_commands(
                [BotCommand(name, text) for name, text in commands],
                scope=scope,
                language_code=language_code,
            )
        )

    async def set_description(
        self, description: str, short_description: str, language_code: str | None
    ) -> None:
        await _call(self.bot.set_my_description(description, language_code=language_code))
        await _call(
            self.bot.set_my_short_description(short_description, language_code=language_code)
        )


class AiohttpRequest(BaseRequest):
    """PTB's HTTP transport over aiohttp instead of httpx.

    PTB's bots are transport-agnostic (`BaseRequest`); its default, httpx, spent more than
    half of the bot's time choosing a pooled connection and asking which async library runs
    (bench/checkin_throughput.py). aiohttp, which the webhook server and the broadcast
    sender use already, costs a fraction of that. Parameters go as a form, files as
    multipart, exactly as PTB's own transport sends them; failures become PTB's errors.
    """

    def __init__(
        self,
        connections: int = 256,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        pool_timeout: float = 1.0,
        media_write_timeout: float = 20.0,
    ) -> None:
        self._connections = connections
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout (PTB adds the long-poll time to it for getUpdates)."""
        return self._read

    async def initialize(self) -> None:
        """Open the connection pool."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request: its status and body, or PTB's TimedOut / NetworkError."""
        if self._session is None:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data else {}
        read = _given(read_timeout, self._read)
        write = _given(write_timeout, self._media_write if files else self._write)
        connect = _given(connect_timeout, self._connect)
        pool = _given(pool_timeout, self._pool)
        # aiohttp has no write timeout of its own: sending is bounded by the total instead.
        timeout = aiohttp.ClientTimeout(
            total=None if read is None else read + (write or 0) + (connect or 0) + (pool or 0),
            connect=None if connect is None else connect + (pool or 0),
            sock_read=read,
        )
        data: aiohttp.FormData | dict[str, str] | None = None
        if request_data is not None:
            data = request_data.json_parameters
            if files:
                # Names as they are (UTF-8), as Telegram reads them; aiohttp would %-quote them.
                form = aiohttp.FormData(data, quote_fields=False)
                for name, (filename, content, mime_type) in files.items():
                    form.add_field(name, content, filename=filename, content_type=mime_type)
                data = form
        try:
            async with self._session.request(method, url, data=data, timeout=timeout) as reply:
                return reply.status, await reply.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _given(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout passed for one call, or this transport's default."""
    return default if isinstance(value, DefaultValue) else value


def make_application(settings: Settings, *, polling: bool) -> PtbApplication:
    """A PTB Application for the configured token and Bot API server, speaking HTML.

    No job queue (APScheduler runs the jobs, in one process only), no persistence, and an
    updater only for long polling.
    """
    api = settings.telegram.api_base_url
    builder = (
        ApplicationBuilder()
        .token(settings.require_token())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connections=1))
        .concurrent_updates(CONCURRENT_UPDATES)
        .job_queue(None)
    )
    if not polling:
        builder = builder.updater(None)
    return builder.build()


def add_handlers(
    application: PtbApplication, on_event: Callable[[Inbound], Awaitable[None]]
) -> None:
    """The only handler hands every update on as an inbound event (to the app, or to the
    reference echo bot in bench/echo_raw.py); the error handler logs it."""

    async def forward(update: Update, _: Context) -> None:
        event = event_from_update(update.to_dict())
        if event is not None:
            await on_event(event)

    async def on_error(update: object, context: Context) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        error = context.error
        log.error(
            "update %s failed: %s",
            update_id,
            type(error).__name__,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )

    application.add_handler(TypeHandler(Update, forward))
    application.add_error_handler(on_error)


async def run(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then finish the updates in hand."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    # PTB's debug lines carry whole updates (names, phone numbers) and request payloads.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLogger().level))
    polling = app.settings.telegram.mode == "polling"
    application = make_application(app.settings, polling=polling)
    messenger = PtbMessenger(application.bot, app.files)
    add_handlers(application, partial(app.on_event, messenger=messenger))
    # PTB's initialize asks getMe: the first call that needs the Bot API.
    reached = False
    try:
        reached = await reach_bot_api(app, lambda: _call(application.initialize()), stop)
    finally:
        if not reached:
            await application.bot.shutdown()  # the connection pools opened for the attempts
    if not reached:
        return
    # initialize() asked Telegram who the bot is (getMe): invite links made in the bot use it.
    app.know_username(application.bot.username)
    try:
        await introduce(app, messenger, messenger)
        # What is built by now lives as long as the process: frozen out of the collector's
        # way, it is not walked again by every full collection (as the aiogram runtime does).
        gc.collect()
        gc.freeze()
        async with background(app) as service:
            await application.start()
            try:
                if polling:
                    await poll(application, stop, app.settings.telegram.polling_timeout)
                else:
                    await _serve_webhook(app, application, stop, service)
            finally:
                # Handles what the updater already fetched, then waits for those updates.
                await application.stop()
            await app.drain()
    finally:
        await application.shutdown()


async def poll(application: PtbApplication, stop: asyncio.Event, long_poll: int) -> None:
    """Long-poll through PTB's updater until `stop` (the started application handles them)."""
    updater = application.updater
    assert updater is not None, "built with an updater for polling"
    await updater.start_polling(
        timeout=long_poll,
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=False,
    )
    log.info("polling for updates (python-telegram-bot %s)", ptb_version)
    try:
        await stop.wait()
    finally:
        # Stops the long poll and confirms the updates already fetched.
        await updater.stop()


async def _serve_webhook(
    app: App, application: PtbApplication, stop: asyncio.Event, service: Background | None
) -> None:
    hook = app.settings.telegram.webhook
    secret = hook.secret.get_secret_value()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401, text="Unauthorized")
        try:
            body, _ = read_update(await request.read())
        except NotAnUpdate as error:
            return not_an_update(error)
        try:
            update = Update.de_json(body, application.bot)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
            return not_an_update(NotAnUpdate(f"not a PTB Update ({type(error).__name__})"))
        # Processed before the reply, so a crash means Telegram delivers the update again.
        await application.process_update(update)
        return web.Response()

    web_app = web.Application()
    web_app.router.add_post(hook.path, receive)
    web_app.router.add_get("/healthz", health_handler(app, service))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, hook.listen_host, hook.listen_port)
    await site.start()
    log.info("webhook listening on %s:%s%s", hook.listen_host, hook.listen_port, hook.path)
    try:
        await application.bot.set_webhook(
            url=hook.public_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )
        await stop.wait()
    finally:
        await runner.cleanup()
