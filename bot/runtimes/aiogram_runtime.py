"""The aiogram 3 runtime: updates in (polling or webhook), messenger calls out. No rules here."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable
from contextlib import suppress
from typing import Any, ClassVar, TypeVar

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response, TelegramMethod, TelegramType
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from bot.app import App
from bot.messenger import (
    Blocked,
    ChatNotFound,
    Markup,
    MessengerError,
    Rejected,
    RetryAfter,
    Transient,
)
from bot.runtimes.common import health, menus
from bot.scheduler import background
from bot.updates import ALLOWED_UPDATES, event_from_update

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


def to_inline(markup: Markup | None) -> InlineKeyboardMarkup | None:
    """Only inline keyboards can sit under an edited message."""
    return InlineKeyboardMarkup.model_validate(markup) if markup else None


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
    except (TelegramNetworkError, TelegramServerError, TimeoutError) as error:
        raise Transient(str(error)) from error
    except MessengerError:
        raise
    except Exception as error:
        raise Transient(type(error).__name__) from error


class AiogramMessenger:
    """The messenger port over an aiogram Bot."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        message = await _call(self.bot.send_message(chat_id, text, reply_markup=to_markup(markup)))
        return message.message_id

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        await _call(
            self.bot.edit_message_text(
                text=text, chat_id=chat_id, message_id=message_id, reply_markup=to_inline(markup)
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
        document = BufferedInputFile(data, filename=filename)
        message = await _call(self.bot.send_document(chat_id, document, caption=caption))
        return message.message_id

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        message = await _call(
            self.bot.send_document(
                chat_id, file_id, caption=caption, reply_markup=to_markup(markup)
            )
        )
        return message.message_id

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = (
            BufferedInputFile(photo, filename="photo.png") if isinstance(photo, bytes) else photo
        )
        message = await _call(
            self.bot.send_photo(chat_id, source, caption=caption, reply_markup=to_markup(markup))
        )
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
    settings = app.settings.telegram
    session = PinnedResponseSession(api=TelegramAPIServer.from_base(settings.api_base_url))
    return Bot(
        token=app.settings.require_token(),
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview=LinkPreviewOptions(is_disabled=True),
        ),
    )


def make_dispatcher(app: App, messenger: AiogramMessenger) -> Dispatcher:
    """A dispatcher whose only handlers hand every update to the app."""
    router = Router(name="outreach")

    async def forward(event_update: Update, **_: Any) -> None:
        raw = event_update.model_dump(mode="json", by_alias=True, exclude_none=True)
        event = event_from_update(raw)
        if event is not None:
            await app.on_event(event, messenger)

    async def on_message(message: Message, event_update: Update) -> None:
        await forward(event_update)

    async def on_callback(query: CallbackQuery, event_update: Update) -> None:
        await forward(event_update)

    async def on_member(member: ChatMemberUpdated, event_update: Update) -> None:
        await forward(event_update)

    router.message.register(on_message)
    router.callback_query.register(on_callback)
    router.my_chat_member.register(on_member)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def set_menus(app: App, messenger: AiogramMessenger) -> None:
    """The per-language command menu."""
    for language_code, commands in menus(app):
        try:
            await messenger.set_commands(commands, language_code, None)
        except MessengerError as error:
            log.warning("could not set the %s menu: %s", language_code or "default", error)


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
    messenger = AiogramMessenger(bot)
    dispatcher = make_dispatcher(app, messenger)
    try:
        await set_menus(app, messenger)
        async with background(app):
            if app.settings.telegram.mode == "webhook":
                await _serve_webhook(app, bot, dispatcher, stop)
            else:
                await _poll(app, bot, dispatcher, stop)
            await app.drain()
    finally:
        await bot.session.close()


async def _poll(app: App, bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    await bot.delete_webhook(drop_pending_updates=False)
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot,
            polling_timeout=app.settings.telegram.polling_timeout,
            handle_signals=False,
            close_bot_session=False,
            allowed_updates=ALLOWED_UPDATES,
            tasks_concurrency_limit=64,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not polling.done():
        await dispatcher.stop_polling()
    stopping.cancel()
    await polling


async def _serve_webhook(app: App, bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event) -> None:
    hook = app.settings.telegram.webhook
    secret = hook.secret.get_secret_value()
    web_app = web.Application()
    # Processed before the reply, so a crash means Telegram delivers the update again.
    SimpleRequestHandler(
        dispatcher=dispatcher, bot=bot, secret_token=secret, handle_in_background=False
    ).register(web_app, path=hook.path)

    async def healthz(_: web.Request) -> web.Response:
        status, body = await health(app)
        return web.json_response(body, status=status)

    web_app.router.add_get("/healthz", healthz)
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
