"""Turns the engine's actions into messenger calls, in the reader's language."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.i18n import Catalogs
from bot.messenger import Markup, Messenger, MessengerError, Rejected, RetryAfter
from handlers.actions import (
    Action,
    AnswerButton,
    EditMarkup,
    EditText,
    Inline,
    Msg,
    RemoveReply,
    Reply,
    SendDocument,
    SendMade,
    SendPhoto,
    SendText,
    SendVoice,
    SetMenu,
)
from handlers.engine import Answer
from handlers.events import ButtonPress, Inbound

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096
TAG = re.compile(r"</?[a-z][a-z-]*(?:\s[^>]*)?>")
CAPTION_LIMIT = 1024
# The largest file a bot may upload through the Bot API.
UPLOAD_LIMIT = 50 * 1000 * 1000
# A reply waits this long at most when Telegram says "retry after"; longer, and it is dropped.
LONGEST_REPLY_WAIT = 30.0


def markup_json(catalogs: Catalogs, language: str, markup: Any) -> Markup | None:
    """A keyboard from the flows as Bot API JSON, labels translated."""
    if isinstance(markup, Inline):
        return {
            "inline_keyboard": [
                [
                    {"text": catalogs.label(language, b.label), "url": b.url}
                    if b.url
                    else {"text": catalogs.label(language, b.label), "callback_data": b.data}
                    for b in row
                ]
                for row in markup.rows
            ]
        }
    if isinstance(markup, Reply):
        keyboard: Markup = {
            "keyboard": [
                [
                    {"text": catalogs.label(language, b.label), "request_contact": True}
                    if b.request_contact
                    else {"text": catalogs.label(language, b.label)}
                    for b in row
                ]
                for row in markup.rows
            ],
            "resize_keyboard": True,
            "one_time_keyboard": False,
        }
        if markup.persistent:
            # Shown even while the phone's own keyboard is open, as a person's own buttons.
            keyboard["is_persistent"] = True
        if markup.placeholder is not None:
            keyboard["input_field_placeholder"] = catalogs.label(language, markup.placeholder)
        return keyboard
    if isinstance(markup, RemoveReply):
        return {"remove_keyboard": True}
    return None


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut a long message at line ends so each part fits Telegram's limit."""
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else _safe_cut(line, limit)
            parts.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current:
        parts.append(current)
    return parts


async def send_long_text(
    messenger: Messenger, chat_id: int, text: str, markup: Markup | None = None
) -> None:
    """A text of any length, cut at line ends into messages; the keys go under the last."""
    parts = split_text(text)
    for index, part in enumerate(parts):
        await messenger.send_text(chat_id, part, markup if index == len(parts) - 1 else None)


def plain_text(text: str) -> str:
    """A message's text without its HTML, for a text file."""
    return html.unescape(TAG.sub("", text))


def _safe_cut(line: str, limit: int) -> int:
    # Never cut inside an HTML entity such as &amp;.
    amp = line.rfind("&", max(0, limit - 8), limit)
    if amp != -1 and ";" not in line[amp:limit]:
        return amp
    return limit


@dataclass(frozen=True)
class Made:
    """A file a maker produced: a picture is sent as a photo, anything else as a document."""

    filename: str
    data: bytes
    photo: bool = False
    caption: Msg | None = None


# Makes a file from the database for SendMade: (parameters, reader's language) -> the file.
Maker = Callable[[Mapping[str, str | int | bool | None], str], Awaitable[Made]]


@dataclass(frozen=True)
class _Ready:
    """A made file, ready to send: made once, so a retried send does not make it again."""

    made: Made


@dataclass(frozen=True)
class _Joined:
    """Rendered text of several actions, sent (or, with `message_id`, edited in) as one."""

    chat_id: int
    text: str
    markup: Markup | None
    message_id: int | None = None


class Renderer:
    """Delivers one answer to the chat the event came from, and to no other: what is said to
    anyone else goes through the outbox (handlers/outbox.py) and the sender.

    A plain message (no keyboard) is joined to the next message or edit of the same chat,
    so a notice and the question after it arrive as one: fewer messages buzz the phone,
    and fewer calls go out over a patchy line.
    """

    def __init__(
        self,
        messenger: Messenger,
        catalogs: Catalogs,
        makers: Mapping[str, Maker] | None = None,
    ) -> None:
        self.messenger = messenger
        self.catalogs = catalogs
        self.makers = dict(makers or {})

    async def deliver(self, event: Inbound, answer: Answer) -> None:
        """Perform every action in order; a failed call is logged and the rest go on."""
        for joined in self._join(event, answer.language, answer.actions):
            action = (
                await self._make(joined, answer.language)
                if isinstance(joined, SendMade)
                else joined
            )
            try:
                await self._with_retry(event, answer.language, action)
            except MessengerError as error:
                log.warning(
                    "could not deliver %s for update %s: %s",
                    type(action).__name__,
                    event.update_id,
                    type(error).__name__,
                )

    async def _make(self, action: SendMade, language: str) -> _Ready | SendText:
        """The file, or what to tell the person when it cannot be made or sent."""
        try:
            made = await self.makers[action.what](action.params, language)
        except Exception:
            # The person was told the file is coming: they must hear that it is not.
            log.exception("could not make %s", action.what)
            return SendText(Msg("made.failed"))
        if len(made.data) > UPLOAD_LIMIT:
            log.warning("%s of %d bytes is over the upload limit", action.what, len(made.data))
            return SendText(Msg("made.too_big", megabytes=len(made.data) // 1_000_000))
        return _Ready(made)

    def _join(
        self, event: Inbound, language: str, actions: Sequence[Action]
    ) -> list[Action | _Joined]:
        joined: list[Action | _Joined] = []
        for action in actions:
            previous = joined[-1] if joined else None
            merged = self._joined(event, language, previous, action) if previous else None
            if merged is None:
                joined.append(action)
            else:
                joined[-1] = merged
        return joined

    def _joined(
        self, event: Inbound, language: str, first: Action | _Joined, then: Action
    ) -> _Joined | None:
        """`first` and `then` as one message, where they can be; else None."""
        if not isinstance(then, SendText):
            return None
        if then.file_name or (isinstance(first, SendText) and first.file_name):
            return None  # sent as a file when long: never joined to another message
        target = event.chat_id
        render = self.catalogs.render
        lead: _Joined | None = None
        if isinstance(first, SendText) and first.markup is None:
            lead = _Joined(target, render(language, first.text), None)
        elif isinstance(first, EditText) and then.markup is None:
            # A plain note after an edit is added to the edited message, which keeps its keys.
            markup = markup_json(self.catalogs, language, first.markup)
            lead = _Joined(event.chat_id, render(language, first.text), markup, first.message_id)
        elif isinstance(first, _Joined):
            # A keyboard stays on the message it belongs to: an edit takes plain notes only,
            # and a message already carrying keys takes nothing more.
            editing = first.message_id is not None
            lead = first if (then.markup is None if editing else first.markup is None) else None
        if lead is None:
            return None
        text = f"{lead.text}\n\n{render(language, then.text)}"
        if len(text) > TEXT_LIMIT:
            return None
        if lead.message_id is not None:
            return _Joined(target, text, lead.markup, lead.message_id)
        return _Joined(target, text, markup_json(self.catalogs, language, then.markup))

    async def _with_retry(
        self, event: Inbound, language: str, action: Action | _Joined | _Ready
    ) -> None:
        try:
            await self._perform(event, language, action)
        except RetryAfter as wait:
            if wait.seconds > LONGEST_REPLY_WAIT:
                raise
            await asyncio.sleep(wait.seconds)
            await self._perform(event, language, action)

    async def _perform(
        self, event: Inbound, language: str, action: Action | _Joined | _Ready
    ) -> None:
        render = self.catalogs.render
        chat_id = event.chat_id
        if isinstance(action, _Joined):
            if action.message_id is not None:
                await self._edit(action.chat_id, action.message_id, action.text, action.markup)
            else:
                await self.messenger.send_text(action.chat_id, action.text, action.markup)
        elif isinstance(action, SendText):
            markup = markup_json(self.catalogs, language, action.markup)
            text = render(language, action.text)
            if action.file_name and action.markup is None and len(text) > TEXT_LIMIT:
                note = render(language, Msg("made.long_text_as_file"))
                data = plain_text(text).encode("utf-8")
                await self.messenger.send_document(chat_id, action.file_name, data, note)
            else:
                await send_long_text(self.messenger, chat_id, text, markup)
        elif isinstance(action, EditText):
            text = render(language, action.text)
            markup = markup_json(self.catalogs, language, action.markup)
            await self._edit(chat_id, action.message_id, text, markup)
        elif isinstance(action, EditMarkup):
            markup = markup_json(self.catalogs, language, action.markup)
            try:
                await self.messenger.edit_markup(chat_id, action.message_id, markup)
            except Rejected:
                log.info("keyboard of message %s could not be changed", action.message_id)
        elif isinstance(action, AnswerButton):
            if isinstance(event, ButtonPress):
                # Toasts and alerts are plain text of at most 200 characters.
                toast = self.catalogs.label(language, action.text)[:200] if action.text else None
                await self.messenger.answer_button(event.callback_id, toast, action.alert)
        elif isinstance(action, SendDocument):
            caption = render(language, action.caption) if action.caption else None
            if isinstance(action.data, str):
                await self.messenger.send_stored_document(chat_id, action.data, caption)
            else:
                await self.messenger.send_document(chat_id, action.filename, action.data, caption)
        elif isinstance(action, _Ready):
            made = action.made
            caption = render(language, made.caption) if made.caption else None
            if made.photo:
                await self.messenger.send_photo(chat_id, made.data, caption)
            else:
                await self.messenger.send_document(chat_id, made.filename, made.data, caption)
        elif isinstance(action, SendPhoto):
            caption = render(language, action.caption) if action.caption else None
            markup = markup_json(self.catalogs, language, action.markup)
            await self.messenger.send_photo(chat_id, action.photo, caption, markup)
        elif isinstance(action, SendVoice):
            caption = render(language, action.caption) if action.caption else None
            await self.messenger.send_voice(chat_id, action.voice, caption)
        elif isinstance(action, SetMenu):
            # This chat's menu, for every language: it is the person's, in their language.
            commands = [
                (name, self.catalogs.label(language, Msg(key))) for name, key in action.commands
            ]
            await self.messenger.set_commands(commands, None, chat_id)

    async def _edit(self, chat_id: int, message_id: int, text: str, markup: Markup | None) -> None:
        if len(text) > TEXT_LIMIT:
            await send_long_text(self.messenger, chat_id, text, markup)
            return
        try:
            await self.messenger.edit_text(chat_id, message_id, text, markup)
        except Rejected as error:
            if "not modified" in str(error):
                return
            # Too old or gone: the person still gets the message, as a new one.
            await send_long_text(self.messenger, chat_id, text, markup)
