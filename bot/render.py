"""Turns the engine's actions into messenger calls, in the reader's language."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
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
)
from handlers.engine import Answer
from handlers.events import ButtonPress, Inbound

log = logging.getLogger(__name__)
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
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


class Renderer:
    """Delivers one answer to the chat the event came from."""

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
        for action in answer.actions:
            try:
                await self._with_retry(event, answer.language, action)
            except MessengerError as error:
                log.warning(
                    "could not deliver %s for update %s: %s",
                    type(action).__name__,
                    event.update_id,
                    type(error).__name__,
                )

    async def _with_retry(self, event: Inbound, language: str, action: Action) -> None:
        try:
            await self._perform(event, language, action)
        except RetryAfter as wait:
            if wait.seconds > LONGEST_REPLY_WAIT:
                raise
            await asyncio.sleep(wait.seconds)
            await self._perform(event, language, action)

    async def _perform(self, event: Inbound, language: str, action: Action) -> None:
        render = self.catalogs.render
        chat_id = event.chat_id
        if isinstance(action, SendText):
            target = action.chat_id if action.chat_id is not None else chat_id
            lang = action.language or language
            markup = markup_json(self.catalogs, lang, action.markup)
            parts = split_text(render(lang, action.text))
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                await self.messenger.send_text(target, part, markup if last else None)
        elif isinstance(action, EditText):
            text = render(language, action.text)
            markup = markup_json(self.catalogs, language, action.markup)
            if len(text) > TEXT_LIMIT:
                await self._send_instead(chat_id, text, markup)
                return
            try:
                await self.messenger.edit_text(chat_id, action.message_id, text, markup)
            except Rejected as error:
                if "not modified" in str(error):
                    return
                # Too old or gone: the person still gets the message, as a new one.
                await self._send_instead(chat_id, text, markup)
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
        elif isinstance(action, SendMade):
            made = await self.makers[action.what](action.params, language)
            caption = render(language, made.caption) if made.caption else None
            if made.photo:
                await self.messenger.send_photo(chat_id, made.data, caption)
            else:
                await self.messenger.send_document(chat_id, made.filename, made.data, caption)
        elif isinstance(action, SendPhoto):
            caption = render(language, action.caption) if action.caption else None
            markup = markup_json(self.catalogs, language, action.markup)
            await self.messenger.send_photo(chat_id, action.photo, caption, markup)

    async def _send_instead(self, chat_id: int, text: str, markup: Markup | None) -> None:
        parts = split_text(text)
        for index, part in enumerate(parts):
            await self.messenger.send_text(
                chat_id, part, markup if index == len(parts) - 1 else None
            )
