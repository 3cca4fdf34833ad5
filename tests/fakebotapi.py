"""A local fake Telegram Bot API server that real bot frameworks can talk to in tests."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import copy
import itertools
import json
import mimetypes
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
Files = dict[str, tuple[str, bytes]]

__all__ = [
    "EDITS",
    "REPLIES",
    "SENDS",
    "Call",
    "FakeBotAPI",
    "FakeUser",
    "parse_html",
]

#: Methods that send a new message (rate facts, retry_after and server_error defaults).
SENDS: frozenset[str] = frozenset(
    {"sendMessage", "sendPhoto", "sendVoice", "sendDocument", "copyMessage"}
)
#: The bytes of every voice message a FakeUser sends (an OGG page header, then filler).
VOICE_OGG = b"OggS\x00\x02" + bytes(22) + b"OpusHead" + b"\x01\x01" + bytes(16)
#: Methods that change one of the bot's messages.
EDITS: frozenset[str] = frozenset(
    {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
)
#: Methods whose result is the message a user sees as "the bot's reply" (FakeUser.wait_reply).
REPLIES: frozenset[str] = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "sendDocument",
        "sendPhoto",
        "sendVoice",
        "editMessageCaption",
    }
)
_CHAT_WRITES: frozenset[str] = SENDS | EDITS | {"sendChatAction"}

_METHODS: tuple[str, ...] = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setChatMenuButton",
    "getChatMenuButton",
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "editMessageCaption",
    "answerCallbackQuery",
    "sendDocument",
    "sendPhoto",
    "sendVoice",
    "copyMessage",
    "deleteMessage",
    "deleteMessages",
    "getFile",
    "getChat",
    "close",
    "logOut",
    "sendChatAction",
    "setMyDescription",
    "getMyDescription",
    "setMyShortDescription",
    "getMyShortDescription",
    "setMyName",
    "getMyName",
)
_CANONICAL: dict[str, str] = {name.lower(): name for name in _METHODS}

_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
        "message_ids",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "from_chat_id",
        "message_id",
        "offset",
        "limit",
        "timeout",
        "reply_to_message_id",
        "message_thread_id",
        "user_id",
        "cache_time",
        "max_connections",
        "duration",
        "width",
        "height",
        "until_date",
    }
)
_FLOAT_FIELDS = frozenset({"latitude", "longitude", "horizontal_accuracy", "timeout"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
        "allow_paid_broadcast",
        "revoke_messages",
        "for_channels",
    }
)
_INT_RE = re.compile(r"-?\d+")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_LANG_RE = re.compile(r"(?:[a-z]{2})?")
_INLINE_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_MEDIA_KEYS = ("document", "photo", "video", "audio", "animation", "voice")
_CONTENT_KEYS = (
    "text",
    "entities",
    "caption",
    "caption_entities",
    "document",
    "photo",
    "sticker",
    "location",
    "contact",
    "video",
    "audio",
    "voice",
    "animation",
)
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class Call:
    """One request the fake received, as parsed, with the HTTP status it answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]]
    at: float
    status: int
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the call succeeded."""
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        """The call's chat_id parameter, if any."""
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None


class _ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        """The JSON body Telegram sends for this error."""
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class _Pending(NamedTuple):
    update_id: int
    seq: int
    forced: bool
    update: JSON


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_name: str
    mime_type: str


@dataclass
class _RetryAfter:
    seconds: int
    remaining: int
    methods: frozenset[str]


@dataclass
class _Webhook:
    url: str
    secret: str | None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None
    extra: JSON = field(default_factory=dict)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_HTML_TAGS: dict[str, str] = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACES = " \t\r\n\v\f\0"


def _decode_entity(match: re.Match[str]) -> str | None:
    name = match.group(1)
    if name in _HTML_NAMED:
        return _HTML_NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def _unescape_attribute(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        decoded = _decode_entity(match)
        return match.group(0) if decoded is None else decoded

    return _HTML_ENTITY_RE.sub(repl, value)


def parse_html(text: str) -> tuple[str, list[JSON]]:
    """Parse Telegram-flavoured HTML into plain text and entities, raising ValueError like TDLib."""
    out: list[str] = []
    entities: list[JSON] = []
    stack: list[tuple[str, str, int, bool]] = []
    utf16 = 0
    i = 0
    n = len(text)

    def byte_offset(pos: int) -> int:
        return len(text[:pos].encode())

    while i < n:
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            decoded = _decode_entity(match) if match else None
            if match and decoded is not None:
                out.append(decoded)
                utf16 += _utf16_len(decoded)
                i = match.end()
                continue
        if char != "<":
            out.append(char)
            utf16 += 2 if ord(char) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            j = i + 1
            while j < n and text[j] not in _SPACES and text[j] != ">":
                j += 1
            end_name = text[i + 1 : j].lower()
            while j < n and text[j] in _SPACES:
                j += 1
            if j >= n or text[j] != ">":
                raise ValueError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            name, argument, start, expandable = stack.pop()
            if end_name and end_name != name:
                raise ValueError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{name}>", found "</{end_name}>"'
                )
            i = j + 1
            length = utf16 - start
            if length <= 0:
                continue
            kind = _HTML_TAGS[name]
            entity: JSON = {"type": kind, "offset": start, "length": length}
            if name == "a":
                if not argument:
                    continue
                user = re.fullmatch(r"tg://user\?id=(\d+)", argument)
                if user:
                    entity = {
                        "type": "text_mention",
                        "offset": start,
                        "length": length,
                        "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""},
                    }
                else:
                    entity["url"] = argument
            elif name == "code" and argument and stack and stack[-1][0] == "pre":
                entity["language"] = argument
            elif name == "pre":
                last = entities[-1] if entities else None
                if (
                    last is not None
                    and last["type"] == "code"
                    and last["offset"] == start
                    and last["length"] == length
                ):
                    entities.pop()
                    if "language" in last:
                        entity["language"] = last["language"]
            elif name == "blockquote" and expandable:
                entity["type"] = "expandable_blockquote"
            elif name == "tg-emoji":
                entity["custom_emoji_id"] = argument
            entities.append(entity)
            continue
        j = i
        while j < n and text[j] not in _SPACES and text[j] != ">":
            j += 1
        if j >= n:
            raise ValueError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        name = text[i:j].lower()
        if name not in _HTML_TAGS:
            raise ValueError(f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}')
        i = j
        argument = ""
        expandable = False
        while True:
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise ValueError(f'Unclosed start tag "{name}" at byte offset {byte_offset(begin)}')
            if text[i] == ">":
                i += 1
                break
            attr_begin = i
            while i < n and text[i] not in _SPACES and text[i] not in "=>":
                i += 1
            attr = text[attr_begin:i].lower()
            if not attr:
                raise ValueError(
                    f'Empty attribute name in the tag "{name}" at byte offset {byte_offset(begin)}'
                )
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n or text[i] != "=":
                if name == "blockquote" and attr == "expandable":
                    expandable = True
                continue
            i += 1
            while i < n and text[i] in _SPACES:
                i += 1
            if i >= n:
                raise ValueError(f'Unclosed start tag "{name}" at byte offset {byte_offset(begin)}')
            if text[i] not in "'\"":
                token_begin = i
                while i < n and (text[i].isalnum() or text[i] in ".-"):
                    i += 1
                value = text[token_begin:i].lower()
                if i < n and text[i] not in _SPACES and text[i] != ">":
                    raise ValueError(
                        f"Unexpected end of name token at byte offset {byte_offset(token_begin)}"
                    )
            else:
                quote = text[i]
                end = text.find(quote, i + 1)
                if end < 0:
                    raise ValueError(
                        f'Unclosed start tag "{name}" at byte offset {byte_offset(begin)}'
                    )
                value = _unescape_attribute(text[i + 1 : end])
                i = end + 1
            if name == "a" and attr == "href":
                argument = value
            elif name == "code" and attr == "class" and value.startswith("language-"):
                argument = value[len("language-") :]
            elif name == "span" and attr == "class" and value.startswith("tg-"):
                argument = value[len("tg-") :]
            elif name == "tg-emoji" and attr == "emoji-id":
                argument = value
        if name == "span" and argument != "spoiler":
            raise ValueError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset(begin)}'
            )
        stack.append((name, argument, utf16, expandable))
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Strip surrounding whitespace like Telegram does, clipping the entities to the rest."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = _utf16_len(text[: len(text) - len(text.lstrip())])
    total = _utf16_len(stripped)
    clipped: list[JSON] = []
    for entity in entities:
        start = max(int(entity["offset"]) - shift, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - shift, total)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


def _normalize(key: str, value: Any) -> Any:
    """Decode one form/query value the way Telegram types it."""
    if not isinstance(value, str):
        return value
    if key in _JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            return value
    if key in _INT_FIELDS and _INT_RE.fullmatch(value):
        return int(value)
    if key in _FLOAT_FIELDS:
        try:
            return float(value)
        except ValueError:
            return value
    if key in _BOOL_FIELDS and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


async def _read_multipart(reader: aiohttp.MultipartReader, raw: JSON, files: Files) -> None:
    """Collect the fields and file parts of a multipart body."""
    while True:
        part = await reader.next()
        if part is None:
            return
        if isinstance(part, aiohttp.MultipartReader):
            await _read_multipart(part, raw, files)
            continue
        data = bytes(await part.read(decode=True))
        name = part.name or ""
        if part.filename is not None:
            files[name] = (part.filename, data)
        else:
            raw[name] = data.decode(part.get_charset("utf-8"))


def _finish_params(raw: JSON, files: Files) -> JSON:
    """Type the raw values and move `attach://name` file references onto their field names."""
    params = {key: _normalize(key, value) for key, value in raw.items()}
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            name = value[len("attach://") :]
            if name in files and name != key:
                files[key] = files.pop(name)
                del params[key]
    return params


def _as_int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        return int(value)
    return default


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _labels(markup: Any) -> list[str]:
    """Button labels of an inline or reply keyboard dict, row by row."""
    if not isinstance(markup, dict):
        return []
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    labels: list[str] = []
    for row in rows:
        for button in row:
            labels.append(button if isinstance(button, str) else str(button.get("text", "")))
    return labels


class FakeBotAPI:
    """A fake Telegram Bot API server on 127.0.0.1, run in a background thread."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "outreach_test_bot",
        *,
        record_messages: bool = True,
        first_name: str = "Outreach Test Bot",
        first_update_id: int = 1000,
        port: int = 0,
    ) -> None:
        """Configure the fake; call start() (or use `with`) to serve. Update ids count from
        `first_update_id` (a later fake for the same bot's database starts past the last)."""
        self.token = token
        self.bot_username = bot_username
        self.record_messages = record_messages
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.bot_user: JSON = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": bot_username,
        }
        #: Seconds of delay added to every send* call (and copyMessage).
        self.latency: float = 0.0
        #: HTTP statuses of webhook deliveries made by push_update (0: connection failed).
        self.webhook_statuses: list[int] = []

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        # Simulated people wait on their own chat's condition (sharing the one lock), so a
        # call wakes the person it was for rather than every waiting thread.
        self._chat_conds: dict[int, threading.Condition] = {}
        self._calls: list[Call] = []
        self._counts: dict[tuple[str, int], int] = {}
        self._send_times: list[tuple[float, int, str]] = []
        self._messages: dict[int, dict[int, JSON]] = {}
        self._incoming: dict[int, dict[int, JSON]] = {}
        self._touched: dict[int, dict[int, int]] = {}
        self._touch_seq = itertools.count(1)
        self._next_mid: dict[int, int] = {}
        self._reply_kb: dict[int, list[str]] = {}
        self._users: dict[int, JSON] = {}
        self._files: dict[str, _StoredFile] = {}
        self._paths: dict[str, str] = {}
        self._file_seq = itertools.count(1)
        self._callback_ids: set[str] = set()
        self._answered: set[str] = set()
        self._callback_seq = itertools.count(1)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._menu_buttons: dict[int | None, JSON] = {}
        self._bot_texts: dict[tuple[str, str], str] = {}

        self._blocked: set[int | str] = set()
        self._missing: set[int | str] = set()
        self._retry_after: list[_RetryAfter] = []
        self._server_errors = 0

        self._pending: list[_Pending] = []
        self._pending_seq = itertools.count()
        self._next_update_id = first_update_id
        self._allowed: frozenset[str] | None = None
        self._poll_gen = 0
        self._polls_waiting = 0
        # When the latest getUpdates arrived (monotonic): a call is recorded when it returns,
        # a long poll only at its timeout, so a bot that has just begun to poll shows here.
        self._last_poll_arrived = 0.0
        self._webhook: _Webhook | None = None
        self._stopping = False

        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._poll_event: asyncio.Event | None = None
        self._webhook_queue: asyncio.Queue[JSON] | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        # The port to listen on (0: any free one); known before start() when given.
        self._port = port

        self._handlers: dict[str, Callable[[JSON, Files], Any]] = {
            "getme": self._get_me,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "answercallbackquery": self._answer_callback_query,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendvoice": self._send_voice,
            "copymessage": self._copy_message,
            "deletemessage": self._delete_message,
            "deletemessages": self._delete_messages,
            "getfile": self._get_file,
            "getchat": self._get_chat,
            "close": lambda params, files: True,
            "logout": lambda params, files: True,
            "sendchataction": lambda params, files: self._chat_of(params) is not None,
            "setmydescription": self._bot_text_setter("description"),
            "getmydescription": self._bot_text_getter("description"),
            "setmyshortdescription": self._bot_text_setter("short_description"),
            "getmyshortdescription": self._bot_text_getter("short_description"),
            "setmyname": self._bot_text_setter("name"),
            "getmyname": self._bot_text_getter("name"),
        }

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Start serving in a daemon thread; returns self once the port is bound."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._stopping = False

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # surfaced to start()'s caller
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="FakeBotAPI", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            self._thread.join(5)
            self._thread = None
            loop.close()
            raise RuntimeError("FakeBotAPI failed to start") from failure[0]
        return self

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", r"/bot{token:[^/]+}/{method:[^/]+}", self._http_method)
        app.router.add_route("GET", r"/file/bot{token:[^/]+}/{file_path:.+}", self._http_file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        self._poll_event = asyncio.Event()
        self._webhook_queue = asyncio.Queue()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_worker())

    def stop(self) -> None:
        """Wake long polls, stop the server and join its thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                future.result(10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._thread = None
        self._loop = None

    async def _shutdown(self) -> None:
        self._wake()
        await asyncio.sleep(0)
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    @property
    def base_url(self) -> str:
        """The server's root URL, e.g. http://127.0.0.1:PORT (before start(): if given a port)."""
        if not self._port:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_url(self) -> str:
        """The URL prefix of Bot API methods, ending in /bot{token}."""
        return f"{self.base_url}/bot{self.token}"

    # ------------------------------------------------------------------ HTTP layer

    async def _http_method(self, request: web.Request) -> web.Response:
        raw: JSON = dict(request.query)
        files: Files = {}
        if request.body_exists:
            ctype = request.content_type
            if ctype == "multipart/form-data":
                await _read_multipart(await request.multipart(), raw, files)
            else:
                body = await request.read()
                if ctype == "application/json":
                    try:
                        data = json.loads(body) if body else {}
                    except ValueError:
                        data = {}
                    if isinstance(data, dict):
                        raw.update(data)
                else:
                    raw.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        params = _finish_params(raw, files)
        token_ok = request.match_info["token"] == self.token
        status, payload = await self._execute(request.match_info["method"], params, files, token_ok)
        return web.Response(
            body=json.dumps(payload, ensure_ascii=False).encode(),
            status=status,
            content_type="application/json",
        )

    async def _http_file(self, request: web.Request) -> web.Response:
        stored = None
        if request.match_info["token"] == self.token:
            with self._cond:
                file_id = self._paths.get(request.match_info["file_path"])
                stored = self._files.get(file_id) if file_id else None
        if stored is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return web.json_response(body, status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type)

    async def _execute(
        self, raw_method: str, params: JSON, files: Files, token_ok: bool = True
    ) -> tuple[int, JSON]:
        """Run one API method and record it; returns (HTTP status, JSON body)."""
        # A send counts when it arrives, as Telegram counts it: not when this thread next
        # gets the lock, which a test reading the calls may hold while sends queue up.
        arrived = time.monotonic()
        lower = raw_method.lower()
        name = _CANONICAL.get(lower, raw_method)
        if not token_ok or lower not in _CANONICAL:
            error = _ApiError(401, "Unauthorized") if not token_ok else _ApiError(404, "Not Found")
            with self._cond:
                self._record(name, params, files, error.code, None, error.description)
            return error.code, error.payload()
        if self.latency > 0 and (lower.startswith("send") or name == "copyMessage"):
            await asyncio.sleep(self.latency)
        result: Any
        if lower == "getupdates":
            try:
                result = await self._get_updates(params)
            except _ApiError as exc:
                with self._cond:
                    self._record(name, params, files, exc.code, None, exc.description)
                return exc.code, exc.payload()
            with self._cond:
                self._record(name, params, files, 200, result, None)
            return 200, {"ok": True, "result": result}
        with self._cond:
            try:
                self._inject_failures(name, params)
                result = self._handlers[lower](params, files)
            except _ApiError as exc:
                self._record(name, params, files, exc.code, None, exc.description)
                return exc.code, exc.payload()
            self._record(name, params, files, 200, result, None, arrived)
        return 200, {"ok": True, "result": result}

    def _record(
        self,
        name: str,
        params: JSON,
        files: Files,
        status: int,
        result: Any,
        error: str | None,
        arrived: float | None = None,
    ) -> None:
        """Append a Call and update counters (caller holds the lock)."""
        now = time.monotonic()
        key = (name, status)
        self._counts[key] = self._counts.get(key, 0) + 1
        raw_chat = params.get("chat_id")
        chat = raw_chat if isinstance(raw_chat, int) else 0
        if status == 200 and name in SENDS:
            self._send_times.append((now if arrived is None else arrived, chat, name))
        if self.record_messages or status != 200 or not (name in SENDS or name in EDITS):
            self._calls.append(Call(name, params, files, now, status, result, error))
        self._cond.notify_all()
        chat_cond = self._chat_conds.get(chat)
        if chat_cond is not None:
            chat_cond.notify_all()

    def _inject_failures(self, name: str, params: JSON) -> None:
        """Raise the injected error this call should get, if any (caller holds the lock)."""
        if name in SENDS and self._server_errors > 0:
            self._server_errors -= 1
            raise _ApiError(502, "Bad Gateway")
        for injection in self._retry_after:
            if name in injection.methods:
                injection.remaining -= 1
                if injection.remaining <= 0:
                    self._retry_after.remove(injection)
                raise _ApiError(
                    429,
                    f"Too Many Requests: retry after {injection.seconds}",
                    {"retry_after": injection.seconds},
                )
        chat = params.get("chat_id")
        if chat is not None and chat in self._missing:
            raise _ApiError(400, "Bad Request: chat not found")
        if name in _CHAT_WRITES and chat is not None and chat in self._blocked:
            if isinstance(chat, int) and chat < 0:
                raise _ApiError(403, "Forbidden: bot was kicked from the group chat")
            raise _ApiError(403, "Forbidden: bot was blocked by the user")

    # ------------------------------------------------------------------ updates

    def _wake(self) -> None:
        """Wake every waiting getUpdates (server loop only)."""
        event = self._poll_event
        if event is not None:
            self._poll_event = asyncio.Event()
            event.set()

    def _wake_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._wake)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = _as_int(params.get("offset"), 0)
        limit = min(max(_as_int(params.get("limit"), 100), 1), 100)
        raw_timeout = params.get("timeout") or 0
        timeout = float(raw_timeout) if isinstance(raw_timeout, int | float) else 0.0
        loop = asyncio.get_running_loop()
        with self._cond:
            if self._webhook is not None:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if "allowed_updates" in params:
                allowed = params["allowed_updates"]
                listed = isinstance(allowed, list) and bool(allowed)
                self._allowed = frozenset(allowed) if listed else None
            self._confirm(offset)
            self._poll_gen += 1
            generation = self._poll_gen
            self._last_poll_arrived = time.monotonic()
            self._cond.notify_all()
        self._wake()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            with self._cond:
                if self._stopping:
                    return []
                if self._webhook is not None:
                    raise _ApiError(409, "Conflict: terminated by setWebhook request")
                if generation != self._poll_gen:
                    raise _ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = self._take(limit)
                event = self._poll_event
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0 or event is None:
                return []
            with self._cond:
                self._polls_waiting += 1
                self._cond.notify_all()
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                with self._cond:
                    self._polls_waiting -= 1

    def _confirm(self, offset: int) -> None:
        """Forget updates confirmed by `offset` (caller holds the lock)."""
        if offset > 0:
            if self._pending and self._pending[0].update_id < offset:
                self._pending = [p for p in self._pending if p.update_id >= offset or p.forced]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def _take(self, limit: int) -> list[JSON]:
        """The next batch for getUpdates (caller holds the lock)."""
        allowed = self._allowed
        kept: list[_Pending] = []
        batch: list[JSON] = []
        delivered_forced = False
        for entry in self._pending:
            kind = _update_type(entry.update)
            wanted = (
                kind in allowed if allowed is not None else kind not in _DEFAULT_EXCLUDED_UPDATES
            )
            if wanted:
                kept.append(entry)
                if len(batch) < limit:
                    batch.append(entry.update)
                    delivered_forced = delivered_forced or entry.forced
        if len(kept) != len(self._pending) or delivered_forced:
            delivered = {id(u) for u in batch}
            self._pending = [e for e in kept if not (e.forced and id(e.update) in delivered)]
        return batch

    def push_update(self, update: JSON) -> int:
        """Queue an update for getUpdates (or deliver it to the webhook); returns its update_id."""
        with self._cond:
            update_id = self._assign_update_id(update)
            self._register_update(update)
            if self._webhook is not None:
                self._enqueue_webhook(update)
            else:
                self._insert_pending(update, forced=False)
        self._wake_threadsafe()
        return update_id

    def redeliver(self, update: JSON) -> int:
        """Deliver the same update again with the same update_id, even if already confirmed."""
        if "update_id" not in update:
            raise ValueError("redeliver() needs an update that already has an update_id")
        with self._cond:
            if self._webhook is not None:
                self._enqueue_webhook(update)
            else:
                self._insert_pending(update, forced=True)
        self._wake_threadsafe()
        return int(update["update_id"])

    def wait_polling(self, timeout: float = 10.0) -> None:
        """Block until a getUpdates long poll is waiting (the bot is up and polling)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._polls_waiting == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no getUpdates long poll within {timeout}s")
                self._cond.wait(remaining)

    def wait_poll_after(self, moment: float, timeout: float = 10.0) -> None:
        """Block until a getUpdates arrives after `moment` (time.monotonic(), as Call.at)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._last_poll_arrived <= moment:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no getUpdates within {timeout}s")
                self._cond.wait(remaining)

    def pending(self) -> list[JSON]:
        """Updates queued for getUpdates and not yet confirmed."""
        with self._cond:
            return [entry.update for entry in self._pending]

    def _assign_update_id(self, update: JSON) -> int:
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        update_id = int(update["update_id"])
        self._next_update_id = max(self._next_update_id, update_id + 1)
        return update_id

    def _insert_pending(self, update: JSON, *, forced: bool) -> None:
        entry = _Pending(int(update["update_id"]), next(self._pending_seq), forced, update)
        bisect.insort(self._pending, entry, key=lambda e: (e.update_id, e.seq))

    def _register_update(self, update: JSON) -> None:
        """Remember what an incoming update implies: callback ids, user messages, ids."""
        query = update.get("callback_query")
        if isinstance(query, dict) and "id" in query:
            self._callback_ids.add(str(query["id"]))
        for key in ("message", "edited_message"):
            message = update.get(key)
            if isinstance(message, dict) and isinstance(message.get("chat"), dict):
                chat_id = message["chat"].get("id")
                message_id = message.get("message_id")
                if isinstance(chat_id, int) and isinstance(message_id, int):
                    current = self._next_mid.get(chat_id, 1)
                    self._next_mid[chat_id] = max(current, message_id + 1)
                    if self.record_messages:
                        self._incoming.setdefault(chat_id, {})[message_id] = message

    # ------------------------------------------------------------------ webhook

    def _enqueue_webhook(self, update: JSON) -> None:
        loop, queue = self._loop, self._webhook_queue
        if loop is None or queue is None:
            raise RuntimeError("FakeBotAPI is not started")
        loop.call_soon_threadsafe(queue.put_nowait, update)

    async def _webhook_worker(self) -> None:
        queue = self._webhook_queue
        assert queue is not None
        while True:
            update = await queue.get()
            with self._cond:
                hook = self._webhook
                if hook is None:
                    self._insert_pending(update, forced=False)
            if hook is None:
                self._wake()
                continue
            status = await self._deliver(hook.url, update, hook.secret)
            with self._cond:
                self.webhook_statuses.append(status)
                if not 200 <= status < 300:
                    hook.last_error_date = int(time.time())
                    hook.last_error_message = (
                        f"Wrong response from the webhook: {status}"
                        if status
                        else "Connection refused"
                    )
                self._cond.notify_all()

    async def _deliver(self, url: str, update: JSON, secret: str | None) -> int:
        """POST one update to a webhook; run a method the webhook answers with. 0: no answer."""
        session = self._session
        assert session is not None
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[_SECRET_HEADER] = secret
        try:
            async with session.post(url, data=json.dumps(update), headers=headers) as response:
                status = response.status
                if 200 <= status < 300:
                    await self._run_webhook_reply(response)
                else:
                    await response.read()
                return status
        except (aiohttp.ClientError, OSError, TimeoutError):
            return 0

    async def _run_webhook_reply(self, response: aiohttp.ClientResponse) -> None:
        """Execute a Bot API method sent back in a webhook response, as Telegram does."""
        raw: JSON = {}
        files: Files = {}
        if response.content_type == "multipart/form-data":
            reader = aiohttp.MultipartReader(response.headers, response.content)
            await _read_multipart(reader, raw, files)
        else:
            body = await response.read()
            if response.content_type != "application/json" or not body:
                return
            try:
                data = json.loads(body)
            except ValueError:
                return
            if not isinstance(data, dict):
                return
            raw.update(data)
        method = raw.pop("method", None)
        if isinstance(method, str) and method.lower() != "getupdates":
            await self._execute(method, _finish_params(raw, files), files)

    def post_webhook(self, url: str, update: JSON, secret: str | None = None) -> int:
        """POST an update to `url` now (blocking the caller); returns the HTTP status (0: none)."""
        loop = self._loop
        if loop is None or not loop.is_running():
            raise RuntimeError("FakeBotAPI is not started")
        with self._cond:
            self._assign_update_id(update)
            self._register_update(update)
        future = asyncio.run_coroutine_threadsafe(self._deliver(url, update, secret), loop)
        return future.result(60)

    def wait_webhook(self, count: int = 1, timeout: float = 10.0) -> list[int]:
        """Block until push_update made `count` webhook deliveries; returns their statuses."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.webhook_statuses) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{len(self.webhook_statuses)} webhook deliveries after {timeout}s, "
                        f"wanted {count}: {self.webhook_statuses}"
                    )
                self._cond.wait(remaining)
            return list(self.webhook_statuses)

    @property
    def webhook_url(self) -> str | None:
        """The URL set by setWebhook, or None."""
        with self._cond:
            return self._webhook.url if self._webhook else None

    # ------------------------------------------------------------------ helpers for methods

    def _chat_of(self, params: JSON, key: str = "chat_id") -> int | str:
        chat = params.get(key)
        if chat is None or chat == "":
            raise _ApiError(400, f"Bad Request: {key} is empty")
        if isinstance(chat, int | str):
            return chat
        raise _ApiError(400, "Bad Request: chat not found")

    def _chat_dict(self, chat_id: int | str) -> JSON:
        if isinstance(chat_id, int) and chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "type": kind, "title": "Test group"}
        if isinstance(chat_id, str):
            return {"id": -1001, "type": "channel", "title": chat_id, "username": chat_id[1:]}
        user = self._users.get(chat_id)
        name = user["first_name"] if user else "Test"
        return {"id": chat_id, "type": "private", "first_name": name}

    def _mid(self, chat_id: int | str) -> int:
        key = chat_id if isinstance(chat_id, int) else -1001
        message_id = self._next_mid.get(key, 1)
        self._next_mid[key] = message_id + 1
        return message_id

    def _format(
        self, params: JSON, text_key: str, entities_key: str, limit: int, *, required: bool
    ) -> tuple[str | None, list[JSON]]:
        text = params.get(text_key)
        if text is None or text == "":
            if required:
                raise _ApiError(400, "Bad Request: message text is empty")
            return None, []
        text = str(text)
        parse_mode = str(params.get("parse_mode") or "").lower()
        entities: list[JSON] = []
        if parse_mode == "html":
            try:
                text, entities = parse_html(text)
            except ValueError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif isinstance(params.get(entities_key), list):
            entities = list(params[entities_key])
        text, entities = _trim(text, entities)
        if not text:
            if required:
                raise _ApiError(400, "Bad Request: message text is empty")
            return None, []
        if len(text) > limit:
            raise _ApiError(
                400,
                "Bad Request: message is too long"
                if text_key == "text"
                else "Bad Request: message caption is too long",
            )
        return text, entities

    def _markup(self, params: JSON) -> tuple[JSON | None, list[str] | None]:
        """(inline markup to echo, reply keyboard labels or None if unchanged)."""
        markup = params.get("reply_markup")
        if markup is None or markup == "":
            return None, None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise _ApiError(
                            400,
                            "Bad Request: can't parse inline keyboard button: "
                            "InlineKeyboardButton must be an Object",
                        )
                    if not _INLINE_ACTIONS & button.keys():
                        raise _ApiError(
                            400,
                            "Bad Request: can't parse inline keyboard button: "
                            "Text buttons are unallowed in the inline keyboard",
                        )
                    data = button.get("callback_data")
                    if data is not None and not 1 <= len(str(data).encode()) <= 64:
                        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            return ({"inline_keyboard": rows} if any(rows) else None), None
        if "keyboard" in markup:
            return None, _labels(markup)
        if markup.get("remove_keyboard"):
            return None, []
        return None, None

    def _new_message(
        self, chat_id: int | str, content: JSON, params: JSON, inline: JSON | None
    ) -> JSON:
        """Build, number and store one of the bot's messages (caller holds the lock)."""
        message: JSON = {
            "message_id": self._mid(chat_id),
            "from": self.bot_user,
            "chat": self._chat_dict(chat_id),
            "date": int(time.time()),
        }
        message.update(content)
        if inline is not None:
            message["reply_markup"] = inline
        thread = params.get("message_thread_id")
        if isinstance(thread, int):
            message["message_thread_id"] = thread
        self._store(chat_id, message)
        return message

    def _store(self, chat_id: int | str, message: JSON) -> None:
        if not self.record_messages or not isinstance(chat_id, int):
            return
        message_id = int(message["message_id"])
        self._messages.setdefault(chat_id, {})[message_id] = message
        self._touched.setdefault(chat_id, {})[message_id] = next(self._touch_seq)

    def _find(self, params: JSON, missing: str) -> tuple[int | str, JSON]:
        """The stored message an edit/delete refers to (a stand-in when not recording)."""
        chat_id = self._chat_of(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        if not self.record_messages:
            stand_in: JSON = {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": self._chat_dict(chat_id),
                "date": int(time.time()),
                "text": "",
            }
            return chat_id, stand_in
        chat_messages = self._messages.get(chat_id, {}) if isinstance(chat_id, int) else {}
        found = chat_messages.get(message_id)
        if found is None:
            raise _ApiError(400, missing)
        return chat_id, found

    def _new_file(self, kind: str, name: str, data: bytes, mime: str | None = None) -> _StoredFile:
        """Store bytes under a fresh file_id (caller holds the lock)."""
        number = next(self._file_seq)
        guessed = mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        extension = mimetypes.guess_extension(guessed) or ""
        if kind == "photos":
            extension = ".jpg"
        stored = _StoredFile(
            file_id=f"FAKE-{kind[:3].upper()}-{number:06d}-{self.bot_id}",
            file_unique_id=f"U{number:06d}",
            file_path=f"{kind}/file_{number}{extension}",
            data=data if self.record_messages else b"",
            file_name=name,
            mime_type=guessed,
        )
        if self.record_messages:
            self._files[stored.file_id] = stored
            self._paths[stored.file_path] = stored.file_id
        return stored

    def _input_file(
        self, params: JSON, files: Files, key: str, kind: str
    ) -> tuple[_StoredFile | None, str]:
        """Resolve an uploaded file or a file_id/URL string; returns (stored, file_id)."""
        if key in files:
            name, data = files[key]
            if not data:
                raise _ApiError(400, "Bad Request: file must be non-empty")
            stored = self._new_file(kind, name, data)
            return stored, stored.file_id
        value = params.get(key)
        if not isinstance(value, str) or not value:
            raise _ApiError(400, f"Bad Request: there is no {key} in the request")
        if value.startswith(("http://", "https://")):
            url_name = value.rsplit("/", 1)[-1] or key
            stored = self._new_file(kind, url_name, b"")
            return stored, stored.file_id
        if not self.record_messages:
            return None, value
        existing = self._files.get(value)
        if existing is None:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return existing, value

    def _caption(self, params: JSON) -> JSON:
        caption, entities = self._format(
            params, "caption", "caption_entities", 1024, required=False
        )
        content: JSON = {}
        if caption is not None:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    # ------------------------------------------------------------------ method handlers

    def _get_me(self, params: JSON, files: Files) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, params: JSON, files: Files) -> bool:
        url = params.get("url")
        if not url:
            return self._delete_webhook(params, files)
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed = frozenset(allowed) if allowed else None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = _Webhook(
            url=url,
            secret=str(secret) if secret else None,
            max_connections=_as_int(params.get("max_connections"), 40),
        )
        for entry in self._pending:
            self._enqueue_webhook(entry.update)
        self._pending.clear()
        self._wake()
        return True

    def _delete_webhook(self, params: JSON, files: Files) -> bool:
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    def _get_webhook_info(self, params: JSON, files: Files) -> JSON:
        hook = self._webhook
        queued = self._webhook_queue.qsize() if self._webhook_queue is not None else 0
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": False,
            "pending_update_count": queued if hook else len(self._pending),
        }
        if hook is not None:
            info["max_connections"] = hook.max_connections
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        if self._allowed is not None:
            info["allowed_updates"] = sorted(self._allowed)
        return info

    @staticmethod
    def _scope_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope")
        if not isinstance(scope, dict):
            scope = {"type": "default"}
        parts = [str(scope.get("type", "default"))]
        parts += [str(scope[key]) for key in ("chat_id", "user_id") if key in scope]
        language = str(params.get("language_code") or "")
        if not _LANG_RE.fullmatch(language):
            raise _ApiError(400, "Bad Request: invalid language code specified")
        return ":".join(parts), language

    def _set_my_commands(self, params: JSON, files: Files) -> bool:
        key = self._scope_key(params)
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            if not isinstance(command, dict) or "description" not in command:
                raise _ApiError(
                    400, "Bad Request: can't parse BotCommand: Can't find field \"description\""
                )
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command["description"])) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        if commands:
            self._commands[key] = [
                {"command": str(c["command"]), "description": str(c["description"])}
                for c in commands
            ]
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JSON, files: Files) -> list[JSON]:
        return list(self._commands.get(self._scope_key(params), []))

    def _delete_my_commands(self, params: JSON, files: Files) -> bool:
        self._commands.pop(self._scope_key(params), None)
        return True

    def _set_chat_menu_button(self, params: JSON, files: Files) -> bool:
        chat = params.get("chat_id")
        button = params.get("menu_button")
        key = chat if isinstance(chat, int) else None
        self._menu_buttons[key] = button if isinstance(button, dict) else {"type": "default"}
        return True

    def _get_chat_menu_button(self, params: JSON, files: Files) -> JSON:
        chat = params.get("chat_id")
        if isinstance(chat, int) and chat in self._menu_buttons:
            return self._menu_buttons[chat]
        return self._menu_buttons.get(None, {"type": "default"})

    def _bot_text_setter(self, field_name: str) -> Callable[[JSON, Files], bool]:
        def setter(params: JSON, files: Files) -> bool:
            language = str(params.get("language_code") or "")
            if not _LANG_RE.fullmatch(language):
                raise _ApiError(400, "Bad Request: invalid language code specified")
            self._bot_texts[(field_name, language)] = str(params.get(field_name) or "")
            return True

        return setter

    def _bot_text_getter(self, field_name: str) -> Callable[[JSON, Files], JSON]:
        def getter(params: JSON, files: Files) -> JSON:
            language = str(params.get("language_code") or "")
            value = self._bot_texts.get((field_name, language))
            if value is None:
                value = self._bot_texts.get((field_name, ""), "")
            if field_name == "name" and not value:
                value = str(self.bot_user["first_name"])
            return {field_name: value}

        return getter

    def _send_message(self, params: JSON, files: Files) -> JSON:
        chat_id = self._chat_of(params)
        text, entities = self._format(params, "text", "entities", 4096, required=True)
        inline, reply_labels = self._markup(params)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        message = self._new_message(chat_id, content, params, inline)
        if reply_labels is not None and isinstance(chat_id, int):
            self._reply_kb[chat_id] = reply_labels
        return message

    def _replace(self, chat_id: int | str, old: JSON, changes: JSON, inline: JSON | None) -> JSON:
        new = {key: value for key, value in old.items() if key not in changes}
        new.update({key: value for key, value in changes.items() if value is not None})
        new.pop("reply_markup", None)
        if inline is not None:
            new["reply_markup"] = inline
        new["edit_date"] = int(time.time())
        self._store(chat_id, new)
        return new

    def _edit_message_text(self, params: JSON, files: Files) -> JSON | bool:
        text, entities = self._format(params, "text", "entities", 4096, required=True)
        inline, reply_labels = self._markup(params)
        if reply_labels is not None:
            raise _ApiError(400, "Bad Request: inline keyboard expected")
        if params.get("inline_message_id"):
            return True
        chat_id, old = self._find(params, "Bad Request: message to edit not found")
        if "text" not in old:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        if (
            self.record_messages
            and old.get("text") == text
            and old.get("entities", []) == entities
            and old.get("reply_markup") == inline
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        return self._replace(chat_id, old, {"text": text, "entities": entities or None}, inline)

    def _edit_message_caption(self, params: JSON, files: Files) -> JSON | bool:
        caption, entities = self._format(
            params, "caption", "caption_entities", 1024, required=False
        )
        inline, reply_labels = self._markup(params)
        if reply_labels is not None:
            raise _ApiError(400, "Bad Request: inline keyboard expected")
        if params.get("inline_message_id"):
            return True
        chat_id, old = self._find(params, "Bad Request: message to edit not found")
        if self.record_messages and not any(key in old for key in _MEDIA_KEYS):
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        if (
            self.record_messages
            and old.get("caption") == caption
            and old.get("caption_entities", []) == entities
            and old.get("reply_markup") == inline
        ):
            raise _ApiError(400, _NOT_MODIFIED)
        changes: JSON = {"caption": caption, "caption_entities": entities or None}
        return self._replace(chat_id, old, changes, inline)

    def _edit_message_reply_markup(self, params: JSON, files: Files) -> JSON | bool:
        inline, reply_labels = self._markup(params)
        if reply_labels is not None:
            raise _ApiError(400, "Bad Request: inline keyboard expected")
        if params.get("inline_message_id"):
            return True
        chat_id, old = self._find(params, "Bad Request: message to edit not found")
        if self.record_messages and old.get("reply_markup") == inline:
            raise _ApiError(400, _NOT_MODIFIED)
        return self._replace(chat_id, old, {}, inline)

    def _answer_callback_query(self, params: JSON, files: Files) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._callback_ids or query_id in self._answered:
            raise _ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(str(params.get("text") or "")) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._answered.add(query_id)
        return True

    def _send_document(self, params: JSON, files: Files) -> JSON:
        chat_id = self._chat_of(params)
        stored, file_id = self._input_file(params, files, "document", "documents")
        document: JSON = {"file_id": file_id, "file_unique_id": f"U{file_id[-12:]}"}
        if stored is not None:
            document = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": stored.file_name,
                "mime_type": stored.mime_type,
                "file_size": len(stored.data),
            }
        content: JSON = {"document": document, **self._caption(params)}
        inline, reply_labels = self._markup(params)
        message = self._new_message(chat_id, content, params, inline)
        if reply_labels is not None and isinstance(chat_id, int):
            self._reply_kb[chat_id] = reply_labels
        return message

    def _photo_sizes(self, stored: _StoredFile | None, file_id: str) -> list[JSON]:
        unique = stored.file_unique_id if stored else f"U{file_id[-12:]}"
        size = len(stored.data) if stored else 0
        return [
            {
                "file_id": f"{file_id}-s",
                "file_unique_id": f"{unique}s",
                "width": 90,
                "height": 90,
                "file_size": size,
            },
            {
                "file_id": file_id,
                "file_unique_id": unique,
                "width": 800,
                "height": 800,
                "file_size": size,
            },
        ]

    def _send_photo(self, params: JSON, files: Files) -> JSON:
        chat_id = self._chat_of(params)
        stored, file_id = self._input_file(params, files, "photo", "photos")
        if stored is None and file_id.endswith("-s") and file_id[:-2] in self._files:
            stored = self._files[file_id[:-2]]
        if stored is not None and self.record_messages:
            self._files.setdefault(f"{stored.file_id}-s", stored)
        content: JSON = {"photo": self._photo_sizes(stored, stored.file_id if stored else file_id)}
        content.update(self._caption(params))
        inline, reply_labels = self._markup(params)
        message = self._new_message(chat_id, content, params, inline)
        if reply_labels is not None and isinstance(chat_id, int):
            self._reply_kb[chat_id] = reply_labels
        return message

    def _voice(self, stored: _StoredFile | None, file_id: str, duration: int) -> JSON:
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id if stored else f"U{file_id[-12:]}",
            "duration": duration,
            "mime_type": stored.mime_type if stored else "audio/ogg",
            "file_size": len(stored.data) if stored else 0,
        }

    def _send_voice(self, params: JSON, files: Files) -> JSON:
        chat_id = self._chat_of(params)
        stored, file_id = self._input_file(params, files, "voice", "voice")
        duration = _as_int(params.get("duration"), 1)
        content: JSON = {"voice": self._voice(stored, file_id, duration), **self._caption(params)}
        inline, reply_labels = self._markup(params)
        message = self._new_message(chat_id, content, params, inline)
        if reply_labels is not None and isinstance(chat_id, int):
            self._reply_kb[chat_id] = reply_labels
        return message

    def _copy_message(self, params: JSON, files: Files) -> JSON:
        chat_id = self._chat_of(params)
        from_chat = self._chat_of(params, "from_chat_id")
        message_id = params.get("message_id")
        source: JSON | None = None
        if isinstance(from_chat, int) and isinstance(message_id, int):
            source = self._messages.get(from_chat, {}).get(message_id) or self._incoming.get(
                from_chat, {}
            ).get(message_id)
        if source is None:
            if self.record_messages:
                raise _ApiError(400, "Bad Request: message to copy not found")
            source = {"text": "(copy)"}
        content = {key: source[key] for key in _CONTENT_KEYS if key in source}
        if "caption" in params:
            content.pop("caption", None)
            content.pop("caption_entities", None)
            content.update(self._caption(params))
        inline, reply_labels = self._markup(params)
        message = self._new_message(chat_id, content, params, inline)
        if reply_labels is not None and isinstance(chat_id, int):
            self._reply_kb[chat_id] = reply_labels
        return {"message_id": message["message_id"]}

    def _delete_message(self, params: JSON, files: Files) -> bool:
        chat_id = self._chat_of(params)
        message_id = params.get("message_id")
        if not self.record_messages or not isinstance(chat_id, int):
            return True
        for store in (self._messages, self._incoming):
            if isinstance(message_id, int) and message_id in store.get(chat_id, {}):
                del store[chat_id][message_id]
                self._touched.get(chat_id, {}).pop(message_id, None)
                return True
        raise _ApiError(400, "Bad Request: message to delete not found")

    def _delete_messages(self, params: JSON, files: Files) -> bool:
        chat_id = self._chat_of(params)
        ids = params.get("message_ids")
        if isinstance(chat_id, int) and isinstance(ids, list):
            for message_id in ids:
                for store in (self._messages, self._incoming):
                    store.get(chat_id, {}).pop(message_id, None)
                self._touched.get(chat_id, {}).pop(message_id, None)
        return True

    def _get_file(self, params: JSON, files: Files) -> JSON:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _get_chat(self, params: JSON, files: Files) -> JSON:
        chat = self._chat_dict(self._chat_of(params))
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    # ------------------------------------------------------------------ recording API

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every recorded call, oldest first."""
        with self._cond:
            return list(self._calls)

    def calls_of(self, method: str) -> list[Call]:
        """Recorded calls of one method (case-insensitive)."""
        lower = method.lower()
        with self._cond:
            return [call for call in self._calls if call.method.lower() == lower]

    def mark(self) -> int:
        """The current number of recorded calls, to wait for calls after this point."""
        with self._cond:
            return len(self._calls)

    def reset_calls(self) -> None:
        """Forget recorded calls, counters and send times (not messages or state)."""
        with self._cond:
            self._calls.clear()
            self._counts.clear()
            self._send_times.clear()

    def count(self, method: str, status: int = 200) -> int:
        """How many calls of `method` answered `status` (kept even with record_messages=False)."""
        name = _CANONICAL.get(method.lower(), method)
        with self._cond:
            return self._counts.get((name, status), 0)

    def wait_count(self, method: str, n: int, timeout: float = 10.0, status: int = 200) -> None:
        """Block until count(method, status) reaches n."""
        name = _CANONICAL.get(method.lower(), method)
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._counts.get((name, status), 0) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    have = self._counts.get((name, status), 0)
                    raise AssertionError(f"{name} answered {status} {have} times, wanted {n}")
                self._cond.wait(remaining)

    def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 10.0,
        after: int = 0,
        chat: int | None = None,
    ) -> Call:
        """Block until a call with index >= `after` satisfies `predicate`; return it.

        With `chat`, the predicate only matches calls whose chat_id is that chat, and only
        those calls wake the waiting thread.
        """
        deadline = time.monotonic() + timeout
        index = after
        with self._cond:
            cond = (
                self._cond
                if chat is None
                else self._chat_conds.setdefault(chat, threading.Condition(self._lock))
            )
        while True:
            with self._cond:
                batch = self._calls[index:]
                if not batch:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    cond.wait(remaining)
                    continue
            for call in batch:
                if predicate(call):
                    return call
            index += len(batch)
            if time.monotonic() >= deadline:
                break
        raise AssertionError(
            f"no matching call within {timeout}s after call #{after}; last calls:\n"
            + self.summary(after=max(0, after - 5))
        )

    def summary(self, after: int = 0, limit: int = 20) -> str:
        """A readable listing of recorded calls (index, method, status, chat, text)."""
        with self._cond:
            indexed = list(enumerate(self._calls))[after:][-limit:]
        if not indexed:
            return "  (no calls)"
        lines = []
        for index, call in indexed:
            details = []
            for key in ("chat_id", "message_id", "callback_query_id", "offset"):
                if key in call.params:
                    details.append(f"{key}={call.params[key]!r}")
            text = call.params.get("text") or call.params.get("caption")
            if text is not None:
                shown = str(text) if len(str(text)) <= 60 else str(text)[:57] + "..."
                details.append(f"text={shown!r}")
            if call.files:
                details.append(f"files={sorted(call.files)}")
            error = f" {call.error}" if call.error else ""
            lines.append(f"  #{index} {call.method} -> {call.status}{error} {' '.join(details)}")
        return "\n".join(lines)

    def messages_to(self, chat_id: int) -> list[JSON]:
        """Current state of the bot's messages in a chat (after edits and deletions)."""
        with self._cond:
            stored = self._messages.get(chat_id, {})
            return [copy.deepcopy(stored[key]) for key in sorted(stored)]

    def send_times(self, method_set: Iterable[str] = SENDS) -> list[tuple[float, int]]:
        """(monotonic time, chat_id) of every successful send of the given methods."""
        wanted = frozenset(_CANONICAL.get(m.lower(), m) for m in method_set)
        with self._cond:
            return [(at, chat) for at, chat, method in self._send_times if method in wanted]

    def commands(self, scope: str = "default", language_code: str = "") -> list[JSON]:
        """Commands stored by setMyCommands for a scope key (e.g. "default", "chat:42")."""
        with self._cond:
            return [dict(c) for c in self._commands.get((scope, language_code), [])]

    def bot_text(self, field_name: str, language_code: str = "") -> str:
        """What setMyDescription / setMyShortDescription / setMyName stored for a language."""
        with self._cond:
            return self._bot_texts.get((field_name, language_code), "")

    def menu_button(self, chat_id: int | None = None) -> JSON:
        """The menu button stored by setChatMenuButton for a chat (None: the default)."""
        with self._cond:
            return dict(self._menu_buttons.get(chat_id, {"type": "default"}))

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes stored under a file_id (uploads and document_message)."""
        with self._cond:
            stored = self._files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.data

    # ------------------------------------------------------------------ failure injection

    def block_chat(self, chat_id: int | str) -> None:
        """Make sends/edits to a chat answer 403 "bot was blocked by the user"."""
        with self._cond:
            self._blocked.add(chat_id)

    def unblock_chat(self, chat_id: int | str) -> None:
        """Undo block_chat."""
        with self._cond:
            self._blocked.discard(chat_id)

    def missing_chat(self, chat_id: int | str, missing: bool = True) -> None:
        """Make every call naming this chat answer 400 "chat not found" (missing=False undoes)."""
        with self._cond:
            if missing:
                self._missing.add(chat_id)
            else:
                self._missing.discard(chat_id)

    def retry_after(
        self,
        seconds: int,
        count: int = 1,
        methods: Iterable[str] = ("sendMessage", "sendPhoto", "sendDocument", "copyMessage"),
    ) -> None:
        """Make the next `count` calls of `methods` answer 429 with retry_after=seconds."""
        names = frozenset(_CANONICAL.get(m.lower(), m) for m in methods)
        with self._cond:
            self._retry_after.append(_RetryAfter(int(seconds), int(count), names))

    def server_error(self, count: int = 1) -> None:
        """Make the next `count` send calls answer 502 Bad Gateway."""
        with self._cond:
            self._server_errors += count

    def clear_failures(self) -> None:
        """Remove every injected failure (blocks, missing chats, 429s, 502s, latency)."""
        with self._cond:
            self._blocked.clear()
            self._missing.clear()
            self._retry_after.clear()
            self._server_errors = 0
            self.latency = 0.0

    # ------------------------------------------------------------------ update builders

    def _user(self, user_id: int, language_code: str, first_name: str) -> JSON:
        user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        self._users[user_id] = user
        return user

    def _incoming_message(
        self, user_id: int, language_code: str, first_name: str, content: JSON
    ) -> JSON:
        with self._cond:
            user = self._user(user_id, language_code, first_name)
            message: JSON = {
                "message_id": self._mid(user_id),
                "from": user,
                "chat": {"id": user_id, "type": "private", "first_name": first_name},
                "date": int(time.time()),
            }
        message.update(content)
        return {"message": message}

    def message(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
        entities: list[JSON] | None = None,
    ) -> JSON:
        """A text message update from a user (a "/command" gets its bot_command entity)."""
        content: JSON = {"text": text}
        if entities is None and text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
        if entities:
            content["entities"] = entities
        return self._incoming_message(user_id, language_code, first_name, content)

    def contact_message(
        self,
        user_id: int,
        phone_number: str,
        contact_user_id: int | None = None,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A shared-contact message update."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self._incoming_message(user_id, language_code, first_name, {"contact": contact})

    def photo_message(
        self,
        user_id: int,
        caption: str | None = None,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A photo message update (its file is downloadable)."""
        with self._cond:
            stored = self._new_file("photos", "photo.jpg", b"\xff\xd8\xff\xe0FAKEJPEG\xff\xd9")
            if self.record_messages:
                self._files[f"{stored.file_id}-s"] = stored
        content: JSON = {"photo": self._photo_sizes(stored, stored.file_id)}
        if caption is not None:
            content["caption"] = caption
        return self._incoming_message(user_id, language_code, first_name, content)

    def voice_message(
        self,
        user_id: int,
        duration: int = 3,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A voice message update (OGG/Opus, its file downloadable)."""
        with self._cond:
            stored = self._new_file("voice", "voice.ogg", VOICE_OGG, "audio/ogg")
        content: JSON = {"voice": self._voice(stored, stored.file_id, duration)}
        return self._incoming_message(user_id, language_code, first_name, content)

    def sticker_message(
        self, user_id: int, *, language_code: str = "zh-hans", first_name: str = "Test"
    ) -> JSON:
        """A sticker message update."""
        with self._cond:
            stored = self._new_file("stickers", "sticker.webp", b"RIFF\x00\x00\x00\x00WEBP")
        sticker: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\U0001f44d",
        }
        return self._incoming_message(user_id, language_code, first_name, {"sticker": sticker})

    def document_message(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A document message update; its bytes are served by getFile and /file."""
        with self._cond:
            stored = self._new_file("documents", file_name, data, mime_type)
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        return self._incoming_message(user_id, language_code, first_name, {"document": document})

    def location_message(
        self,
        user_id: int,
        lat: float,
        lon: float,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A location message update."""
        content: JSON = {"location": {"latitude": lat, "longitude": lon}}
        return self._incoming_message(user_id, language_code, first_name, content)

    def callback(
        self,
        user_id: int,
        message: JSON,
        data: str,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A callback_query update: the user pressed a button under `message`."""
        with self._cond:
            user = self._user(user_id, language_code, first_name)
            query_id = f"{user_id}{next(self._callback_seq):08d}"
        return {
            "callback_query": {
                "id": query_id,
                "from": user,
                "message": message,
                "chat_instance": f"-{abs(user_id) * 7 + 1}",
                "data": data,
            }
        }

    def my_chat_member(
        self,
        user_id: int,
        status: Literal["kicked", "member"],
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> JSON:
        """A my_chat_member update: the user blocked ("kicked") or restarted ("member") the bot."""
        with self._cond:
            user = self._user(user_id, language_code, first_name)
        old = "member" if status == "kicked" else "kicked"

        def member(state: str) -> JSON:
            body: JSON = {"status": state, "user": self.bot_user}
            if state == "kicked":
                body["until_date"] = 0
            return body

        return {
            "my_chat_member": {
                "chat": {"id": user_id, "type": "private", "first_name": first_name},
                "from": user,
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(status),
            }
        }

    def user(
        self, user_id: int, *, language_code: str = "zh-hans", first_name: str = "Test"
    ) -> FakeUser:
        """A FakeUser driving a private chat with the bot."""
        return FakeUser(self, user_id, language_code=language_code, first_name=first_name)

    # ------------------------------------------------------------------ chat views (FakeUser)

    def _recent(self, chat_id: int) -> Iterator[JSON]:
        """The chat's stored bot messages, most recently sent/edited first."""
        with self._cond:
            touched = self._touched.get(chat_id, {})
            order = sorted(touched, key=touched.__getitem__, reverse=True)
            stored = self._messages.get(chat_id, {})
            messages = [stored[mid] for mid in order if mid in stored]
        return iter(messages)

    def _reply_keyboard(self, chat_id: int) -> list[str]:
        with self._cond:
            return list(self._reply_kb.get(chat_id, []))


class FakeUser:
    """A Telegram user in a private chat with the bot, driven from test code."""

    def __init__(
        self,
        api: FakeBotAPI,
        user_id: int,
        *,
        language_code: str = "zh-hans",
        first_name: str = "Test",
    ) -> None:
        """Bind a user id (== its private chat id) to a FakeBotAPI."""
        self.api = api
        self.user_id = user_id
        self.language_code = language_code
        self.first_name = first_name
        self._mark = api.mark()

    @property
    def chat_id(self) -> int:
        """The private chat's id (same as the user id)."""
        return self.user_id

    def mark(self) -> int:
        """Set (and return) the point after which wait_reply/wait_text look for replies."""
        self._mark = self.api.mark()
        return self._mark

    def _push(self, update: JSON) -> int:
        self.mark()
        return self.api.push_update(update)

    def _who(self) -> dict[str, str]:
        return {"language_code": self.language_code, "first_name": self.first_name}

    def send(self, text: str) -> int:
        """Send a text message; returns the update_id."""
        update = self.api.message(
            self.user_id, text, language_code=self.language_code, first_name=self.first_name
        )
        return self._push(update)

    def command(self, name: str, arg: str | None = None) -> int:
        """Send "/name" or "/name arg"."""
        text = "/" + name.lstrip("/")
        if arg:
            text += " " + arg
        return self.send(text)

    def share_contact(self, phone: str, own: bool = True) -> int:
        """Share a contact (the user's own when own=True, so contact.user_id == user id)."""
        contact_user = self.user_id if own else None
        update = self.api.contact_message(self.user_id, phone, contact_user, **self._who())
        return self._push(update)

    def send_photo(self, caption: str | None = None) -> int:
        """Send a photo."""
        return self._push(self.api.photo_message(self.user_id, caption, **self._who()))

    def send_voice(self, duration: int = 3) -> int:
        """Send a voice message of `duration` seconds."""
        return self._push(self.api.voice_message(self.user_id, duration, **self._who()))

    def send_sticker(self) -> int:
        """Send a sticker."""
        return self._push(self.api.sticker_message(self.user_id, **self._who()))

    def send_document(self, name: str, data: bytes, mime: str = "application/octet-stream") -> int:
        """Send a file."""
        return self._push(self.api.document_message(self.user_id, name, data, mime, **self._who()))

    def send_location(self, lat: float = 39.9042, lon: float = 116.4074) -> int:
        """Send a location."""
        return self._push(self.api.location_message(self.user_id, lat, lon, **self._who()))

    def block_bot(self) -> int:
        """Block the bot: sends now fail with 403 and a my_chat_member "kicked" update arrives."""
        self.api.block_chat(self.user_id)
        return self._push(self.api.my_chat_member(self.user_id, "kicked", **self._who()))

    def unblock_bot(self) -> int:
        """Unblock the bot (a my_chat_member "member" update arrives)."""
        self.api.unblock_chat(self.user_id)
        return self._push(self.api.my_chat_member(self.user_id, "member", **self._who()))

    def press(self, label: str, *, exact: bool = True) -> int:
        """Press the inline button with this label on the newest message showing it."""
        seen: list[str] = []
        for message in self.api._recent(self.user_id):
            markup = message.get("reply_markup")
            for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
                for button in row:
                    text = str(button.get("text", ""))
                    seen.append(text)
                    if text == label or (not exact and label in text):
                        data = button.get("callback_data")
                        if data is None:
                            raise AssertionError(f"button {text!r} has no callback_data")
                        update = self.api.callback(self.user_id, message, str(data), **self._who())
                        return self._push(update)
        raise AssertionError(
            f"no inline button {label!r} in chat {self.user_id}; available: {seen}"
        )

    def buttons(self) -> list[str]:
        """Labels of the newest inline keyboard in this chat."""
        for message in self.api._recent(self.user_id):
            labels = _labels(message.get("reply_markup"))
            if labels:
                return labels
        return []

    def reply_keyboard(self) -> list[str]:
        """Labels of the latest reply keyboard sent to this chat ([] if none or removed)."""
        return self.api._reply_keyboard(self.user_id)

    def last_text(self) -> str:
        """Text (or caption) of the most recently sent/edited bot message in this chat."""
        for message in self.api._recent(self.user_id):
            return str(message.get("text", message.get("caption", "")))
        raise AssertionError(f"the bot has sent nothing to chat {self.user_id}")

    def _is_reply(self, call: Call) -> bool:
        return call.status == 200 and call.method in REPLIES and call.chat_id == self.user_id

    def wait_reply(self, after: int | None = None, timeout: float = 10.0) -> JSON:
        """Wait for the next message sent/edited to this chat after the mark; returns it."""
        start = self._mark if after is None else after
        call = self.api.wait_for(self._is_reply, timeout=timeout, after=start, chat=self.user_id)
        self._mark = self._index_after(call, start)
        return call.result if isinstance(call.result, dict) else {}

    def wait_text(self, substring: str, timeout: float = 10.0) -> JSON:
        """Wait for a message to this chat containing `substring` (text or caption)."""
        start = self._mark

        def matches(call: Call) -> bool:
            if not self._is_reply(call) or not isinstance(call.result, dict):
                return False
            return substring in str(call.result.get("text", call.result.get("caption", "")))

        try:
            call = self.api.wait_for(matches, timeout=timeout, after=start, chat=self.user_id)
        except AssertionError:
            replies = [
                c.result.get("text", c.result.get("caption"))
                for c in self.api.calls[start:]
                if self._is_reply(c) and isinstance(c.result, dict)
            ]
            raise AssertionError(
                f"no message containing {substring!r} to chat {self.user_id} within {timeout}s;"
                f" got: {replies}"
            ) from None
        self._mark = self._index_after(call, start)
        return call.result if isinstance(call.result, dict) else {}

    def _index_after(self, call: Call, start: int) -> int:
        calls = self.api.calls
        for index in range(start, len(calls)):
            if calls[index] is call:
                return index + 1
        return len(calls)
