"""The messenger port straight over the Bot API's HTTP interface, for sending in bulk.

The broadcast sender sends the same few methods tens of thousands of times. Through a
framework each message costs about a millisecond of building and validating typed
objects (bench/broadcast.py: 448 messages/s through aiogram against a cap of 1,000); here a
message is one JSON POST on aiohttp, which both runtimes already use, and Telegram's answer
is read only for what the sender needs: ok, the message id, the error and retry_after.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.files import (
    FileData,
    Files,
    SentAs,
    photo_source,
    remember_upload,
    shows_as_voice,
    telegram_source,
)
from bot.messenger import Markup, Transient, bot_api_error

TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
CONNECTIONS = 100


class HttpMessenger:
    """Bot API calls as JSON over one pooled aiohttp session."""

    def __init__(self, api_base_url: str, token: str, files: Files | None = None) -> None:
        self._url = f"{api_base_url.rstrip('/')}/bot{token}/"
        # Reads a web upload's bytes, to upload it (bot/files.py).
        self.files = files
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=TIMEOUT,
                connector=aiohttp.TCPConnector(limit=CONNECTIONS),
                json_serialize=lambda value: json.dumps(value, ensure_ascii=False),
            )
        return self._session

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        """One Bot API method; its result, or the messenger's typed error."""
        try:
            async with self._client().post(self._url + method, json=payload) as response:
                status = response.status
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Transient(type(error).__name__) from error
        try:
            answer = json.loads(body)
        except ValueError:
            raise Transient(f"HTTP {status}: not JSON") from None
        if answer.get("ok"):
            return answer.get("result")
        raise bot_api_error(status, answer)

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        payload = _message(chat_id, markup, text=text, parse_mode="HTML")
        payload["link_preview_options"] = {"is_disabled": True}
        return _message_id(await self.call("sendMessage", payload))

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        payload = _message(chat_id, markup, message_id=message_id, text=text, parse_mode="HTML")
        await self.call("editMessageText", payload)

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        await self.call("editMessageReplyMarkup", _message(chat_id, markup, message_id=message_id))

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        payload: dict[str, Any] = {"callback_query_id": callback_id, "show_alert": alert}
        if text:
            payload["text"] = text
        await self.call("answerCallbackQuery", payload)

    async def _upload(
        self, method: str, field: str, chat_id: int, file: FileData, fields: dict[str, Any]
    ) -> Any:
        """A Bot API call that uploads a file (multipart); the message sent."""
        form = aiohttp.FormData()
        form.add_field("chat_id", str(chat_id))
        for name, value in fields.items():
            form.add_field(name, value if isinstance(value, str) else json.dumps(value))
        form.add_field(field, file.data, filename=file.name, content_type=file.mime)
        try:
            async with self._client().post(self._url + method, data=form) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise Transient(type(error).__name__) from error
        try:
            answer = json.loads(body)
        except ValueError:
            raise Transient(f"HTTP {status}: not JSON") from None
        if not answer.get("ok"):
            raise bot_api_error(status, answer)
        return answer.get("result")

    async def _send_file(
        self,
        method: str,
        field: SentAs,
        chat_id: int,
        source: str | FileData,
        caption: str | None,
        markup: Markup | None,
        ref: str | bytes | None = None,
    ) -> int:
        """Send a file Telegram holds (by id) or upload one (the file `ref` names, known
        by Telegram's id for it from then on)."""
        fields: dict[str, Any] = {}
        _caption(fields, caption)
        if markup is not None:
            fields["reply_markup"] = markup
        if not isinstance(source, FileData):
            payload = {"chat_id": chat_id, field: source, **fields}
            return _message_id(await self.call(method, payload))
        sent = await self._upload(method, field, chat_id, source, fields)
        if ref is not None:
            remember_upload(self.files, ref, source, field, sent)
        return _message_id(sent)

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        file = FileData(data, "application/octet-stream", filename)
        return await self._send_file("sendDocument", "document", chat_id, file, caption, None)

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, file_id, "document")
        return await self._send_file(
            "sendDocument", "document", chat_id, source, caption, markup, file_id
        )

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await photo_source(self.files, photo)
        return await self._send_file("sendPhoto", "photo", chat_id, source, caption, markup, photo)

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        source = await telegram_source(self.files, voice, "voice")
        if isinstance(source, FileData) and not shows_as_voice(source.mime):
            # Sent as a document, so not remembered as a voice: each goes up as itself.
            return await self._send_file(
                "sendDocument", "document", chat_id, source, caption, markup
            )
        return await self._send_file("sendVoice", "voice", chat_id, source, caption, markup, voice)

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        payload: dict[str, Any] = {
            "commands": [{"command": name, "description": text} for name, text in commands],
            "scope": {"type": "chat", "chat_id": chat_id} if chat_id else {"type": "default"},
        }
        if language_code:
            payload["language_code"] = language_code
        await self.call("setMyCommands", payload)


def _message(chat_id: int, markup: Markup | None, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"chat_id": chat_id, **fields}
    if markup is not None:
        payload["reply_markup"] = markup
    return payload


def _caption(payload: dict[str, Any], caption: str | None) -> None:
    if caption:
        payload["caption"] = caption
        payload["parse_mode"] = "HTML"


def _message_id(result: Any) -> int:
    return int(result["message_id"]) if isinstance(result, dict) else 0
