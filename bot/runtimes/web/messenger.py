"""The messenger port for the web channel: a message is stored for the page, then pushed.

A send writes the message (sanitised HTML and its keyboard, as the Bot API JSON the
renderer built) in its own transaction and counts as sent once written; the hub pushes it
to the pages open on this instance, and PostgreSQL's NOTIFY to those on every other one.
A page that is closed finds it waiting. Anyone may send (the renderer answering an event,
the outbox's sender from any instance): it needs only the database. The answer to a page's
own request is written whole, in one transaction, before the request is answered
(`AnswerWriter`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.files import Files, FileUnavailable
from bot.i18n import Catalogs
from bot.messenger import ChatNotFound, Markup, Rejected
from bot.runtimes.web.html import sanitise
from bot.runtimes.web.hub import Fresh
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


def text_message(text: str, markup: Markup | None = None) -> web.Outgoing:
    """A text (the renderer's HTML, sanitised) as a message for a chat."""
    return web.Outgoing(sanitise(text), markup)


def document_message(filename: str, data: bytes, caption: str | None) -> web.Outgoing:
    """A file the bot made (an export) as a message for a chat, under its caption."""
    return web.Outgoing(sanitise(caption or ""), file=("application/octet-stream", filename, data))


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
        changed: Callable[[int, Fresh], None] | None = None,
        answers: ButtonAnswers | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.files = files
        self.catalogs = catalogs
        # Called after each commit with the chat's id, so the local pages see it at once.
        self.changed = changed or (lambda _chat, _fresh: None)
        self.answers = answers or ButtonAnswers()

    async def write(self, chat_id: int, changes: list[web.Outgoing | web.Edit]) -> web.Written:
        """Store messages and edits for a chat in one transaction, then push them."""
        async with self.sessions() as session, session.begin():
            written = await web.write(session, chat_id, changes, self.clock())
        if written is None:
            raise ChatNotFound(f"no web chat {chat_id}")
        if changes:
            self.changed(chat_id, Fresh.of(written))
        return written

    async def _store(self, chat_id: int, message: web.Outgoing) -> int:
        written = await self.write(chat_id, [message])
        return written.new_ids[0]

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        return await self._store(chat_id, text_message(text, markup))

    async def _edit(
        self, chat_id: int, message_id: int, html: str | None, markup: Markup | None
    ) -> None:
        try:
            written = await self.write(chat_id, [web.Edit(message_id, html, markup)])
        except ChatNotFound:
            raise Rejected("message to edit not found") from None
        if not written.messages:
            raise Rejected("message to edit not found")

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
        return await self._store(chat_id, document_message(filename, data, caption))

    async def file_message(
        self,
        chat_id: int,
        ref: str,
        caption: str | None,
        markup: Markup | None,
        *,
        photo: bool = False,
        voice: bool = False,
    ) -> web.Outgoing:
        """A file of any channel as a message for the reader's chat (a copy: a page fetches
        only its own chat's files); or the line saying it cannot be had, under the caption,
        so the reader is not left with nothing."""
        try:
            file = await self.files.read(ref)
        except FileUnavailable as error:
            log.info("a file for web chat %s cannot be had: %s", chat_id, error)
            note = await self._unavailable(chat_id)
            text = f"{caption}\n\n{note}" if caption else note
            return text_message(text, markup)
        mime = file.mime
        # Telegram serves files untyped at times: the page needs a picture or sound type.
        if photo and not mime.startswith("image/"):
            mime = "image/jpeg"
        if voice and not mime.startswith("audio/"):
            mime = "audio/ogg"
        stored = (mime, file.name, file.data)
        return web.Outgoing(sanitise(caption or ""), markup, file=stored, photo=photo, voice=voice)

    async def _unavailable(self, chat_id: int) -> str:
        async with self.sessions() as session:
            person = await people.by_address(session, WEB, chat_id)
        language = person.language if person is not None else self.catalogs.default
        return self.catalogs.plain(language, UNAVAILABLE)

    async def photo_message(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None
    ) -> web.Outgoing:
        """A picture the bot drew (bytes) or a file of any channel, as a message."""
        if isinstance(photo, bytes):
            file = ("image/png", "photo.png", photo)
            return web.Outgoing(sanitise(caption or ""), markup, file=file, photo=True)
        return await self.file_message(chat_id, photo, caption, markup, photo=True)

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self._store(
            chat_id, await self.file_message(chat_id, file_id, caption, markup)
        )

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        return await self._store(chat_id, await self.photo_message(chat_id, photo, caption, markup))

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        message = await self.file_message(chat_id, voice, caption, markup, voice=True)
        return await self._store(chat_id, message)

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        # The page draws its menu from the app's command list in the reader's language
        # each time it is served; there is nothing to register with anyone.
        return None


class AnswerWriter:
    """One request's answer to its own chat: what the renderer says there is kept in order
    and written in one transaction once the answer is complete (`commit`), so the request
    pays for one transaction, not one per message, and answers from what was written.

    A message not written yet has no id: a send returns minus its place in the answer,
    which names no message (the renderer keeps no id of what it sends). An edit is checked
    at once (the message must be there, as the renderer's fallback to a new message needs
    to know); the messages in `present` are known to be. What goes to another chat is
    stored at once by the web messenger.
    """

    def __init__(
        self,
        messenger: WebMessenger,
        chat_id: int,
        present: Collection[int] = (),
        leading: Collection[web.Outgoing] = (),
    ) -> None:
        self.messenger = messenger
        self.chat_id = chat_id
        self.present = set(present)
        # What the person sent, shown before the answer (and written even without one).
        self.changes: list[web.Outgoing | web.Edit] = list(leading)

    def _add(self, message: web.Outgoing) -> int:
        self.changes.append(message)
        return -len(self.changes)

    async def commit(self) -> web.Written:
        """Write what the answer holds (one transaction) and push it; what was written."""
        changes, self.changes = self.changes, []
        return await self.messenger.write(self.chat_id, changes)

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_text(chat_id, text, markup)
        return self._add(text_message(text, markup))

    async def _edit(self, message_id: int, html: str | None, markup: Markup | None) -> None:
        if message_id not in self.present:
            async with self.messenger.sessions() as session:
                if not await web.has_message(session, self.chat_id, message_id):
                    raise Rejected("message to edit not found")
            self.present.add(message_id)
        self.changes.append(web.Edit(message_id, html, markup))

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        if chat_id != self.chat_id:
            await self.messenger.edit_text(chat_id, message_id, text, markup)
        else:
            await self._edit(message_id, sanitise(text), markup)

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        if chat_id != self.chat_id:
            await self.messenger.edit_markup(chat_id, message_id, markup)
        else:
            await self._edit(message_id, None, markup)

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        await self.messenger.answer_button(callback_id, text, alert)

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_document(chat_id, filename, data, caption)
        return self._add(document_message(filename, data, caption))

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_stored_document(chat_id, file_id, caption, markup)
        return self._add(await self.messenger.file_message(chat_id, file_id, caption, markup))

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_photo(chat_id, photo, caption, markup)
        return self._add(await self.messenger.photo_message(chat_id, photo, caption, markup))

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_voice(chat_id, voice, caption, markup)
        message = await self.messenger.file_message(chat_id, voice, caption, markup, voice=True)
        return self._add(message)

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        await self.messenger.set_commands(commands, language_code, chat_id)
