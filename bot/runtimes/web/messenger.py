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

from bot.messenger import ChatNotFound, Markup, Rejected
from bot.runtimes.web.html import sanitise
from bot.runtimes.web.hub import Fresh
from models import web

log = logging.getLogger(__name__)
# A file a person uploaded travels through the flows under this prefix and its id.
FILE_PREFIX = "web:"


def file_ref(file_id: int) -> str:
    """The file id the flows keep for an uploaded picture."""
    return f"{FILE_PREFIX}{file_id}"


def parse_file_ref(ref: str) -> int | None:
    """The web file a reference names, or None for another channel's file id."""
    if not ref.startswith(FILE_PREFIX) or not ref[len(FILE_PREFIX) :].isdigit():
        return None
    return int(ref[len(FILE_PREFIX) :])


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
    """Stores messages for web chats' pages; `chat_id` is the web chat's id."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Callable[[], datetime],
        changed: Callable[[int, Fresh], None] | None = None,
        answers: ButtonAnswers | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
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

    async def _store(
        self,
        chat_id: int,
        html: str,
        markup: Markup | None,
        *,
        file: tuple[str, str, bytes] | None = None,
        photo: bool = False,
    ) -> int:
        written = await self.write(chat_id, [web.Outgoing(html, markup, file=file, photo=photo)])
        return written.new_ids[0]

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        return await self._store(chat_id, sanitise(text), markup)

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
        file = ("application/octet-stream", filename, data)
        return await self._store(chat_id, sanitise(caption or ""), None, file=file)

    async def stored_file(self, ref: str) -> tuple[str, str, bytes]:
        """A stored web file's type, name and content, by the reference the flows keep."""
        file_id = parse_file_ref(ref)
        if file_id is None:
            # A Telegram file id: Telegram holds the file, the web cannot show it.
            raise Rejected("a file held by another channel")
        async with self.sessions() as session:
            stored = await session.get(web.WebFile, file_id)
            if stored is None:
                raise Rejected("file not found")
            return stored.mime, stored.name, stored.data

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        # Copied into the reader's chat: a chat's page can only fetch the chat's own files.
        file = await self.stored_file(file_id)
        return await self._store(chat_id, sanitise(caption or ""), markup, file=file)

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if isinstance(photo, bytes):
            file = ("image/png", "photo.png", photo)
        else:
            file = await self.stored_file(photo)
        return await self._store(chat_id, sanitise(caption or ""), markup, file=file, photo=True)

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
        return self._add(web.Outgoing(sanitise(text), markup))

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
        file = ("application/octet-stream", filename, data)
        return self._add(web.Outgoing(sanitise(caption or ""), file=file))

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_stored_document(chat_id, file_id, caption, markup)
        file = await self.messenger.stored_file(file_id)
        return self._add(web.Outgoing(sanitise(caption or ""), markup, file=file))

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        if chat_id != self.chat_id:
            return await self.messenger.send_photo(chat_id, photo, caption, markup)
        if isinstance(photo, bytes):
            file = ("image/png", "photo.png", photo)
        else:
            file = await self.messenger.stored_file(photo)
        return self._add(web.Outgoing(sanitise(caption or ""), markup, file=file, photo=True))

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        await self.messenger.set_commands(commands, language_code, chat_id)
