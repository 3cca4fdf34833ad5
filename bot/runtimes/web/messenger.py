"""The messenger port for the web channel: a message is stored for the page, then pushed.

A send writes the message (sanitised HTML and its keyboard, as the Bot API JSON the
renderer built) in its own transaction and counts as sent once written; the hub pushes it
to the pages open on this instance, and PostgreSQL's NOTIFY to those on every other one.
A page that is closed finds it waiting. Anyone may send (the renderer answering an event,
the outbox's sender from any instance): it needs only the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files import Files, FileUnavailable
from bot.i18n import Catalogs
from bot.messenger import ChatNotFound, Markup, Rejected
from bot.runtimes.web.html import sanitise
from handlers.actions import N_
from models import people, web
from models.people import WEB

log = logging.getLogger(__name__)
# Said where a file of another channel cannot be had (no Telegram token, too large, gone).
UNAVAILABLE = N_("web.file_unavailable")


@dataclass(frozen=True)
class Toast:
    """A button's answer: a short note (or an alert) shown on the page that pressed it."""

    text: str
    alert: bool


@dataclass
class ButtonAnswers:
    """Answers to button presses in hand, by callback id, until their request returns."""

    waiting: dict[str, list[Toast]] = field(default_factory=dict)

    def expect(self, callback_id: str) -> None:
        """A press is being handled: keep what it is answered."""
        self.waiting[callback_id] = []

    def take(self, callback_id: str) -> list[Toast]:
        """What the press was answered (and stop keeping it)."""
        return self.waiting.pop(callback_id, [])


class WebMessenger:
    """Stores messages for web chats' pages; `chat_id` is the web chat's id.

    A file is copied into the reader's chat (a page fetches only its own chat's files): a
    web upload from the database, a Telegram file fetched through the Bot API (bot/files.py).
    One that cannot be had is replaced by a line saying so, in the reader's language.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        files: Files,
        catalogs: Catalogs,
        changed: Callable[[int], None] | None = None,
        answers: ButtonAnswers | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.files = files
        self.catalogs = catalogs
        # Called after each commit with the chat's id, so the local pages see it at once.
        self.changed = changed or (lambda _chat: None)
        self.answers = answers or ButtonAnswers()

    async def _store(
        self,
        chat_id: int,
        html: str,
        markup: Markup | None,
        *,
        file: tuple[str, str, bytes] | None = None,
        photo: bool = False,
        voice: bool = False,
    ) -> int:
        async with self.sessions() as session, session.begin():
            file_id = None
            if file is not None:
                mime, name, data = file
                file_id = await web.add_file(session, chat_id, mime, name, data, self.clock())
            message_id = await web.append(
                session,
                chat_id,
                html,
                markup,
                self.clock(),
                file_id=file_id,
                photo=photo,
                voice=voice,
            )
            if message_id is None:
                raise ChatNotFound(f"no web chat {chat_id}")
        self.changed(chat_id)
        return message_id

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        return await self._store(chat_id, sanitise(text), markup)

    async def _edit(
        self, chat_id: int, message_id: int, html: str | None, markup: Markup | None
    ) -> None:
        async with self.sessions() as session, session.begin():
            found = await web.edit(session, chat_id, message_id, html=html, markup=markup)
        if not found:
            raise Rejected("message to edit not found")
        self.changed(chat_id)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        await self._edit(chat_id, message_id, sanitise(text), markup)

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        await self._edit(chat_id, message_id, None, markup)

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        # The press's request is still open on this instance: the answer goes back with it.
        toasts = self.answers.waiting.get(callback_id)
        if toasts is not None and text:
            toasts.append(Toast(text, alert))

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        file = ("application/octet-stream", filename, data)
        return await self._store(chat_id, sanitise(caption or ""), None, file=file)

    async def _send_file(
        self,
        chat_id: int,
        ref: str,
        caption: str | None,
        markup: Markup | None,
        *,
        photo: bool = False,
        voice: bool = False,
    ) -> int:
        """A file of any channel, copied into the reader's chat; or the line saying it
        cannot be had, under the caption, so the reader is not left with nothing."""
        try:
            file = await self.files.read(ref)
        except FileUnavailable as error:
            log.info("a file for web chat %s cannot be had: %s", chat_id, error)
            note = await self._unavailable(chat_id)
            text = f"{caption}\n\n{note}" if caption else note
            return await self._store(chat_id, sanitise(text), markup)
        mime = file.mime
        # Telegram serves files untyped at times: the page needs a picture or sound type.
        if photo and not mime.startswith("image/"):
            mime = "image/jpeg"
        if voice and not mime.startswith("audio/"):
            mime = "audio/ogg"
        stored = (mime, file.name, file.data)
        return await self._store(
            chat_id, sanitise(caption or ""), markup, file=stored, photo=photo, voice=voice
        )

    async def _unavailable(self, chat_id: int) -> str:
        async with self.sessions() as session:
            person = await people.by_address(session, WEB, chat_id)
        language = person.language if person is not None else self.catalogs.default
        return self.catalogs.plain(language, UNAVAILABLE)

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self._send_file(chat_id, file_id, caption, markup)

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if isinstance(photo, bytes):
            file = ("image/png", "photo.png", photo)
            return await self._store(
                chat_id, sanitise(caption or ""), markup, file=file, photo=True
            )
        return await self._send_file(chat_id, photo, caption, markup, photo=True)

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self._send_file(chat_id, voice, caption, markup, voice=True)

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        # The page draws its menu from the app's command list in the reader's language
        # each time it is served; there is nothing to register with anyone.
        return None
