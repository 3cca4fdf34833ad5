"""The aiogram 3 runtime: updates in (polling or webhook), messenger calls out. No rules here."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from hmac import compare_digest
from typing import Any, ClassVar, TypeVar, cast

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.dispatcher.dispatcher import DEFAULT_BACKOFF_CONFIG
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, GetUpdates, SendMessage
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.backoff import Backoff
from aiohttp import web
from pydantic import BaseModel

from bot.app import App
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
)
from bot.scheduler import Background, background
from bot.updates import ALLOWED_UPDATES, NotAnUpdate, event_from_update, read_update
from handlers.events import Inbound

log = logging.getLogger(__name__)
T = TypeVar("T")
AiogramMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


def to_markup(markup: Markup | None) -> AiogramMarkup | None:
    """Bot API JSON keyboard → aiogram's type."""
    if markup is None:
        return None
    if "inline_keyboard" in markup:
        return InlineKeyboardMarkup.model_validate(markup)
    if "keyboard" in markup:
        return ReplyKeyboardMarkup.model_validate(markup)
    return ReplyKeyboardRemove.model_validate(markup)


async def _call(request: Awaitable[T]) -> T:
    """Make a Bot API call, turning aiogram's exceptions into the messenger's."""
    try:
        return await request
    except TelegramRetryAfter as error:
        raise RetryAfter(error.retry_after) from error
    except TelegramForbiddenError as error:
        raise Blocked(error.message) from error
    except TelegramBadRequest as error:
        if "chat not found" in error.message.lower():
            raise ChatNotFound(error.message) from error
        raise Rejected(error.message) from error
    except TelegramUnauthorizedError as error:  # a wrong or revoked token: no use trying again
        raise Rejected(error.message) from error
    except (TelegramNetworkError, TelegramServerError, TimeoutError) as error:
        raise Transient(str(error)) from error
    except MessengerError:
        raise
    except Exception as error:
        raise Transient(type(error).__name__) from error


class Sent(BaseModel):
    """What the messenger reads of a message it sent or edited: the message id."""

    message_id: int


# The calls of every update, as aiogram's own methods with two differences. The keyboard goes
# as the Bot API JSON the renderer built, not through aiogram's models and back (the request
# is the same). And Telegram's answer, the whole message with every button of that keyboard,
# is read as `Sent` rather than as aiogram's Message: for the id alone, that cost more than
# the rest of the call (bench/checkin_throughput.py). Errors are checked as before.
class _SendMessage(SendMessage):
    __returning__ = Sent  # type: ignore[assignment]
    reply_markup: Markup | None = None  # type: ignore[assignment]


class _EditMessageText(EditMessageText):
    __returning__ = Sent | bool
    reply_markup: Markup | None = None  # type: ignore[assignment]


class _EditMessageReplyMarkup(EditMessageReplyMarkup):
    __returning__ = Sent | bool
    reply_markup: Markup | None = None  # type: ignore[assignment]


def inline_only(markup: Markup | None) -> Markup | None:
    """Only inline keyboards can sit under an edited message."""
    if markup and "inline_keyboard" not in markup:
        raise ValueError(f"not an inline keyboard: {sorted(markup)}")
    return markup or None


def _input(source: str | FileData) -> str | BufferedInputFile:
    """A file id as it is; bytes as an upload."""
    if isinstance(source, str):
        return source
    return BufferedInputFile(source.data, filename=source.name)


class AiogramMessenger:
    """The messenger port over an aiogram Bot."""

    def __init__(self, bot: Bot, files: Files | None = None) -> None:
        self.bot = bot
        # Reads another channel's files, to upload them (bot/files.py).
        self.files = files

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        method = _SendMessage(chat_id=chat_id, text=text, reply_markup=markup)
        sent = await _call(self.bot(method))
        return cast(Sent, sent).message_id

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        method = _EditMessageText(
            text=text, chat_id=chat_id, message_id=message_id, reply_markup=inline_only(markup)
        )
        await _call(self.bot(method))

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        method = _EditMessageReplyMarkup(
            chat_id=chat_id, message_id=message_id, reply_markup=inline_only(markup)
        )
        await _call(self.bot(method))

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        await _call(self.bot.answer_callback_query(callback_id, text=text, show_alert=alert))

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        document = BufferedInputFile(data, filename=filename)
        message = await _call(self.bot.send_document(chat_id, document, caption=caption))
        return message.message_id

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, file_id, "document")
        message = await _call(
            self.bot.send_document(
                chat_id, _input(source), caption=caption, reply_markup=to_markup(markup)
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
                chat_id, _input(source), caption=caption, reply_markup=to_markup(markup)
            )
        )
        remember_upload(self.files, photo, source, "photo", message)
        return message.message_id

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, voice, "voice")
        keys = to_markup(markup)
        if isinstance(source, FileData) and not shows_as_voice(source.mime):
            sent = self.bot.send_document(
                chat_id, _input(source), caption=caption, reply_markup=keys
            )
            return (await _call(sent)).message_id
        message = await _call(
            self.bot.send_voice(chat_id, _input(source), caption=caption, reply_markup=keys)
        )
        remember_upload(self.files, voice, source, "voice", message)
        return message.message_id

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        scope = BotCommandScopeChat(chat_id=chat_id) if chat_id else BotCommandScopeDefault()
        await _call(
            self.bot.set_my_commands(
                [BotCommand(command=name, description=text) for name, text in commands],
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


class PinnedResponseSession(AiohttpSession):
    """aiogram's HTTP session, keeping each method's parametrised Response model alive.

    aiogram looks up `Response[method.__returning__]` on every call and pydantic caches that
    model only weakly, so `Response[Message | bool]` (every edit) was built again after each
    garbage collection: a fifth of the bot's time in bench/checkin_throughput.py.
    """

    _pinned: ClassVar[dict[Any, Any]] = {}

    def check_response(
        self, bot: Bot, method: TelegramMethod[TelegramType], status_code: int, content: str
    ) -> Response[TelegramType]:
        """Pin the response model, then let aiogram check the response as usual."""
        returning = method.__returning__
        if returning not in self._pinned:
            self._pinned[returning] = Response[returning]  # type: ignore[valid-type]
        return super().check_response(bot, method, status_code, content)


def make_bot(app: App) -> Bot:
    """An aiogram Bot for the configured token and Bot API server, speaking HTML."""
    return new_bot(app.settings.require_token(), app.settings.telegram.api_base_url)


def new_bot(token: str, api_base_url: str) -> Bot:
    """An aiogram Bot for this token and Bot API server, speaking HTML (also the reference
    echo bot's, bench/echo_raw.py)."""
    session = PinnedResponseSession(api=TelegramAPIServer.from_base(api_base_url))
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview=LinkPreviewOptions(is_disabled=True),
        ),
    )


# Updates are read as the Bot API JSON that bot/updates.py maps to inbound events. Parsed
# into aiogram's Update objects, sent through its dispatcher and dumped back to JSON for
# bot/updates.py, each update cost a quarter of the bot's CPU (bench/checkin_throughput.py):
# the pressed message came back with every button of its keyboard as objects. The bot uses
# none of the dispatcher's routing, filters or FSM; it hands every update to the app.
class _GetUpdates(GetUpdates):
    __returning__ = list[dict[str, Any]]


OnEvent = Callable[[Inbound], Awaitable[None]]


async def forward(on_event: OnEvent, update: Mapping[str, Any]) -> None:
    """Hand one update, as Bot API JSON, on as an inbound event."""
    event = event_from_update(update)
    if event is not None:
        await on_event(event)


async def learn_username(app: App, bot: Bot) -> None:
    """Ask Telegram who the bot is (getMe), for the invite links made in the bot."""
    try:
        me = await _call(bot.me())
    except MessengerError as error:
        log.warning("could not ask Telegram for the bot's username: %s", type(error).__name__)
        return
    app.know_username(me.username)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve until `stop` is set (or SIGTERM/SIGINT), then finish the updates in hand."""
    stop = stop or asyncio.Event()
    _stop_on_signals(stop)
    bot = make_bot(app)
    messenger = AiogramMessenger(bot, app.files)
    try:
        # bot.me() keeps Telegram's answer, which the polling loop reads again.
        if not await reach_bot_api(app, lambda: _call(bot.me()), stop):
            return
        await learn_username(app, bot)
        await introduce(app, messenger, messenger)
        # What is built by now lives as long as the process: frozen out of the collector's
        # way, it is no longer walked by every full collection, each a pause of a few
        # hundred ms every few seconds under load (bench/checkin_throughput.py).
        gc.collect()
        gc.freeze()
        async with background(app) as service:
            if app.settings.telegram.mode == "webhook":
                await _serve_webhook(app, bot, messenger, stop, service)
            else:
                await _poll(app, bot, messenger, stop)
            await app.drain()
    finally:
        await bot.session.close()


async def _poll(app: App, bot: Bot, messenger: AiogramMessenger, stop: asyncio.Event) -> None:
    async def on_event(event: Inbound) -> None:
        await app.on_event(event, messenger)

    await poll(bot, stop, app.settings.telegram.polling_timeout, on_event)


async def poll(bot: Bot, stop: asyncio.Event, long_poll: int, on_event: OnEvent) -> None:
    """Long-poll for updates until `stop`, at most 64 in hand at once, as aiogram's polling;
    each goes to `on_event` (the app's, or the reference echo bot's in bench/echo_raw.py)."""
    await bot.delete_webhook(drop_pending_updates=False)
    me = await bot.me()
    log.info("Run polling for bot @%s", me.username)
    method = _GetUpdates(timeout=long_poll, allowed_updates=ALLOWED_UPDATES)
    # The request outlasts the long poll it asks Telegram for.
    request_timeout = int(bot.session.timeout + long_poll)
    backoff = Backoff(DEFAULT_BACKOFF_CONFIG)
    in_hand = asyncio.Semaphore(64)
    tasks: set[asyncio.Task[None]] = set()
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            fetch = asyncio.ensure_future(bot(method, request_timeout=request_timeout))
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                # Stopping: updates not fetched yet are fetched again by the next start.
                fetch.cancel()
                with suppress(asyncio.CancelledError):
                    await fetch
                break
            try:
                updates = cast(list[dict[str, Any]], fetch.result())
            except Exception as error:
                log.error("could not fetch updates (%s); trying again", type(error).__name__)
                await asyncio.wait({stopping}, timeout=next(backoff))
                continue
            backoff.reset()
            for update in updates:
                await in_hand.acquire()
                task = asyncio.create_task(_handle_polled(on_event, update))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                task.add_done_callback(lambda _: in_hand.release())
                # Telegram forgets the updates before this offset when it is next asked.
                method.offset = int(update["update_id"]) + 1
    finally:
        stopping.cancel()


async def _handle_polled(on_event: OnEvent, update: dict[str, Any]) -> None:
    try:
        await forward(on_event, update)
    except Exception:
        log.exception("update %s failed", update.get("update_id"))


async def _serve_webhook(
    app: App, bot: Bot, messenger: AiogramMessenger, stop: asyncio.Event, service: Background | None
) -> None:
    hook = app.settings.telegram.webhook
    secret = hook.secret.get_secret_value()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not compare_digest(given, secret.encode()):
            return web.Response(status=401, text="Unauthorized")
        try:
            update, event = read_update(await request.read())
        except NotAnUpdate as error:
            return not_an_update(error)
        # Processed before the reply, so a crash means Telegram delivers the update again.
        try:
            if event is not None:
                await app.on_event(event, messenger)
        except Exception:
            log.exception("update %s failed", update.get("update_id"))
            raise
        return web.json_response({})

    web_app = web.Application()
    web_app.router.add_post(hook.path, receive)

    web_app.router.add_get("/healthz", health_handler(app, service))
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, hook.listen_host, hook.listen_port)
    await site.start()
    log.info("webhook listening on %s:%s%s", hook.listen_host, hook.listen_port, hook.path)
    try:
        await bot.set_webhook(
            url=hook.public_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
        )
        await stop.wait()
    finally:
        await runner.cleanup()
