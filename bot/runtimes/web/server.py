"""The web runtime: the chat page, and a browser's requests turned into inbound events.

Routes (every answer carries a strict Content-Security-Policy; nothing comes from another
host):
- `GET /` and `GET /j/CODE`: the chat page. `/j/CODE` takes the same invite codes as
  Telegram's `/start CODE`; the page sends `/start CODE` once and drops the code from the
  address. A browser without a session gets a new chat and an HttpOnly cookie.
- `GET /k/KEY`: a personal link (offered with /mydata) opens the chat on another phone.
- `GET /ws`: the page's WebSocket; its first message carries the CSRF token and the last
  sequence number the page holds; every change after it is pushed.
- `GET /api/changes?after=N`: the same changes, for a page whose socket is down.
- `POST /api/send` (text, a command, a button press) and `POST /api/upload` (a photo, or
  a sound recording as a voice message):
  each carries the CSRF token in `X-CSRF-Token` and a nonce; a nonce seen before is a
  replay, refused with nothing written. The answer carries the changes since `after`.
- `GET /f/ID`: a file of the chat (never another chat's).

Who a request is: only the cookie says (the page never names a chat); a web chat's id is
the person's id on channel "web", and the event is the engine's ordinary event with
`channel="web"`. Requests are limited per address and per chat (guard.py). A browser
request is answered once: its nonce is recorded before the engine runs (at most once),
so a page that gets no answer says so and the person sends again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from hmac import compare_digest
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import BodyPartReader, WSMsgType, web

from bot.app import App
from bot.config import ConfigError
from bot.files import web_ref
from bot.messenger import Messenger, MessengerError
from bot.runtimes.common import health
from bot.runtimes.web.guard import RateLimit, audio_type, image_type
from bot.runtimes.web.hub import Fresh, Hub, Page, page_json
from bot.runtimes.web.messenger import AnswerWriter, ButtonAnswers, WebMessenger
from handlers.actions import N_, Msg
from handlers.engine import pick_language
from handlers.events import ButtonPress, Command, Inbound, Media, Text
from models import broadcasts, conversations, people
from models import web as store
from models.people import WEB

if TYPE_CHECKING:
    from bot.scheduler import Background

log = logging.getLogger(__name__)

PAGE_DIR = Path(__file__).parent / "page"
COOKIE = "outreach_chat"
# Chrome keeps a cookie at most 400 days.
COOKIE_MAX_AGE = 400 * 24 * 3600
CSRF_HEADER = "X-CSRF-Token"
CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@\w+)?(?:\s+(.*))?", re.DOTALL)
NONCE_MAX = 2**53 - 1
# A page opened afresh gets the newest this many changes; later ones come this many at once.
CHANGES_AT_ONCE = 100
TEXT_MAX = 4096
JSON_MAX = 16 * 1024
# Button data the web runtime answers itself: the personal link is the web's own.
LINK_NEW = "web:link:new"
LINK_REVOKE = "web:link:revoke"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "media-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# The page chrome's strings, from the catalogs like every other text.
PAGE_STRINGS = {
    "placeholder": N_("web.placeholder"),
    "send": N_("web.send"),
    "photo": N_("web.photo"),
    "menu": N_("web.menu"),
    "close": N_("web.close"),
    "phone_hint": N_("web.phone_hint"),
    "offline": N_("web.offline"),
    "unread": N_("web.unread"),
    "failed": N_("web.failed"),
    "sending": N_("web.sending"),
}


class Refusal(Exception):
    """A request refused: its HTTP status and the catalog key of what to tell the page."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status = status
        self.key = key


# The chat a request's session holds, with the session's CSRF token.
Held = store.Hold


@dataclass(frozen=True)
class Said:
    """What a page's request said, checked before anything is read or written: its nonce,
    and the text (or command) typed, or the button pressed and the message it sits under."""

    nonce: int
    text: str | None = None
    data: str | None = None
    message_id: int | None = None


@dataclass(frozen=True)
class Claimed:
    """A state-changing request let in: its session, what its claim wrote (the person's own
    message, a photo's file) and whether the pressed message is there."""

    held: Held
    written: store.Written | None
    file_id: int | None
    pressed_present: bool


def accept_language(header: str | None) -> str | None:
    """The browser's preferred language tag (the first of Accept-Language), or None."""
    if not header:
        return None
    ranked = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        if tag and tag != "*":
            ranked.append((-weight, index, tag.strip()))
    return min(ranked)[2] if ranked else None


def _asset(name: str) -> tuple[bytes, str]:
    data = (PAGE_DIR / name).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


class WebRuntime:
    """The web channel of one instance: its pages, its messenger, its HTTP application."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings.web
        self.hub = Hub(self.read_changes)
        self.answers = ButtonAnswers()
        self.messenger = WebMessenger(
            app.sessions, app.clock, app.files, app.catalogs, self.hub.changed, self.answers
        )
        # The scheduler and sender this process runs, when the web channel runs alone: its
        # /healthz then reports them, as a webhook instance's does.
        self.service: Background | None = None
        web_settings = self.settings
        self.per_address = RateLimit(web_settings.rate_per_address, web_settings.burst_per_address)
        self.per_chat = RateLimit(web_settings.rate_per_chat, web_settings.burst_per_chat)
        self.new_chats = RateLimit(
            web_settings.new_chats_per_minute / 60.0,
            max(1, int(web_settings.new_chats_per_minute)),
        )
        self.assets = {name: _asset(name) for name in ("chat.js", "chat.css")}
        self.template = (PAGE_DIR / "chat.html").read_text(encoding="utf-8")
        self._chromes: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}

    # The application ---------------------------------------------------------------

    def application(self) -> web.Application:
        """The aiohttp application serving the web channel."""
        application = web.Application(
            middlewares=[self._guard], client_max_size=self.settings.upload_max_bytes + 65536
        )
        routes = application.router
        routes.add_get("/", self.page)
        routes.add_get("/j/{code}", self.page)
        routes.add_get("/k/{key}", self.personal_link)
        routes.add_get("/static/{name}", self.asset)
        routes.add_get("/ws", self.socket)
        routes.add_get("/api/changes", self.changes)
        routes.add_post("/api/send", self.send)
        routes.add_post("/api/upload", self.upload)
        routes.add_get("/f/{file_id}", self.file)
        routes.add_get("/healthz", self.healthz)
        return application

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Per-address rate limit first; security headers on every answer."""
        if request.path != "/healthz" and not self.per_address.allow(self.address(request)):
            response: web.StreamResponse = self._refusal(request, Refusal(429, N_("web.too_many")))
        else:
            try:
                response = await handler(request)
            except Refusal as refusal:
                response = self._refusal(request, refusal)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Cache-Control", "no-store")
        return response

    def _refusal(self, request: web.Request, refusal: Refusal) -> web.Response:
        language = self.browser_language(request)
        text = self.app.catalogs.plain(language, refusal.key)
        if request.path.startswith("/api/"):
            return web.json_response({"error": text}, status=refusal.status)
        return web.Response(status=refusal.status, text=text, content_type="text/plain")

    def address(self, request: web.Request) -> str:
        """The client's address (the proxy's last hop, where the proxy is trusted)."""
        if self.settings.trust_forwarded:
            forwarded = request.headers.get("X-Forwarded-For", "")
            hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
            if hops:
                return hops[-1]
        return request.remote or "?"

    def browser_language(self, request: web.Request) -> str:
        """The page's language from the browser's, zh_Hans when it says nothing we have."""
        i18n = self.app.settings.i18n
        return pick_language(
            accept_language(request.headers.get("Accept-Language")),
            i18n.languages,
            i18n.default_language,
        )

    # Sessions ------------------------------------------------------------------------

    @staticmethod
    def _token(request: web.Request) -> str | None:
        token = request.cookies.get(COOKIE)
        return token if token and len(token) <= 128 else None

    async def held(self, request: web.Request) -> Held | None:
        """The chat the request's cookie holds, if any."""
        token = self._token(request)
        if token is None:
            return None
        async with self.app.sessions() as session:
            return await store.session_for(session, token)

    def _let_in(self, request: web.Request, held: Held | None) -> Held:
        """The chat of a state-changing request: its CSRF token matches, it is in limit."""
        if held is None:
            raise Refusal(403, N_("web.session_gone"))
        given = request.headers.get(CSRF_HEADER, "")
        if not compare_digest(given.encode(), held.csrf.encode()):
            raise Refusal(403, N_("web.session_gone"))
        if not self.per_chat.allow(f"chat:{held.chat_id}"):
            raise Refusal(429, N_("web.too_many"))
        return held

    def _changing(self, request: web.Request) -> str:
        """A state-changing request's first checks, before its body is read: it comes from
        the page's own origin and carries a session cookie; the cookie's token."""
        self._same_origin(request)
        token = self._token(request)
        if token is None:
            raise Refusal(403, N_("web.session_gone"))
        return token

    def _same_origin(self, request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is None:
            return  # an old browser: the CSRF token alone decides
        host = urlsplit(origin).netloc
        public = urlsplit(self.settings.base_url).netloc
        if host not in (request.host, public):
            raise Refusal(403, N_("web.session_gone"))

    def _set_cookie(self, response: web.StreamResponse, token: str) -> None:
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_MAX_AGE,
            path="/",
            httponly=True,
            samesite="Lax",
            secure=self.settings.secure,
        )

    # The page ------------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        """The chat page; a new chat (and cookie) for a browser that holds none."""
        code = request.match_info.get("code")
        if code is not None and not CODE.fullmatch(code):
            raise web.HTTPNotFound()
        held = await self.held(request)
        token = None
        if held is None:
            if not self.new_chats.allow(self.address(request)):
                raise Refusal(429, N_("web.too_many"))
            async with self.app.sessions() as session, session.begin():
                held, token = await store.open_chat(session, self.app.clock())
        # A chat opened just now has no person and no conversation to ask for a language.
        language = (
            self.browser_language(request)
            if token is not None
            else await self.chat_language(held.chat_id, request)
        )
        response = web.Response(
            text=self.render_page(language, held.csrf, code), content_type="text/html"
        )
        if token is not None:
            self._set_cookie(response, token)
        return response

    async def chat_language(self, chat_id: int, request: web.Request) -> str:
        """The person's language (as the engine picks it), else the browser's."""
        languages = self.app.settings.i18n.languages
        async with self.app.sessions() as session:
            person = await people.by_address(session, WEB, chat_id)
            if person is not None and person.language in languages:
                return person.language
            stored = await conversations.load(
                session, chat_id, chat_id, for_update=False, channel=WEB
            )
        if stored is not None and stored.language in languages:
            return stored.language
        return self.browser_language(request)

    def _chrome(self, language: str) -> tuple[dict[str, Any], dict[str, str]]:
        """The page's strings and menu (its data), and its escaped texts, in a language:
        the same for every page, so made once per language."""
        made = self._chromes.get(language)
        if made is not None:
            return made
        catalogs = self.app.catalogs
        strings = {name: catalogs.plain(language, key) for name, key in PAGE_STRINGS.items()}
        data = {"strings": strings, "menu": self.app.menu(language)}
        values = {
            "lang": escape(language.replace("_", "-")),
            "title": escape(self.app.settings.campaign.name),
            "noscript": escape(catalogs.plain(language, N_("web.noscript"))),
            "placeholder": escape(strings["placeholder"]),
            "send": escape(strings["send"]),
            "photo": escape(strings["photo"]),
            "menu": escape(strings["menu"]),
            "tg_label": escape(catalogs.plain(language, N_("web.open_in_telegram"))),
            "css": self.assets["chat.css"][1],
            "js": self.assets["chat.js"][1],
        }
        self._chromes[language] = data, values
        return data, values

    def render_page(self, language: str, csrf: str, code: str | None) -> str:
        """The page's HTML: every text escaped, the strings as JSON data, no inline script."""
        chrome, values = self._chrome(language)
        username = self.app.settings.telegram.bot_username.lstrip("@")
        link = ""
        if username:
            telegram = f"https://t.me/{username}" + (f"?start={code}" if code else "")
            label = values["tg_label"]
            link = f'<a class="tg" href="{escape(telegram)}" rel="noopener">{label}</a>'
        data = {"csrf": csrf, "start": code or "", **chrome}
        # "<" escaped, so no text in the data can end the element it sits in.
        blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
        return self.template.format(**values, telegram=link, data=blob)

    async def asset(self, request: web.Request) -> web.Response:
        """The page's script and style (named by content hash in the page: cached for good)."""
        name = request.match_info["name"]
        if name not in self.assets:
            raise web.HTTPNotFound()
        data, _ = self.assets[name]
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        response = web.Response(body=data, content_type=kind, charset="utf-8")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response

    async def personal_link(self, request: web.Request) -> web.Response:
        """Open the chat of a personal link in this browser, then show it."""
        key = request.match_info["key"]
        chat_id = None
        if len(key) <= 128:
            async with self.app.sessions() as session, session.begin():
                chat_id = await store.chat_by_link(session, key)
                if chat_id is not None:
                    _, token = await store.add_session(session, chat_id, self.app.clock())
        if chat_id is None:
            raise Refusal(404, N_("web.link_invalid"))
        # The key leaves the address bar at once (and no Referer carries it: no-referrer).
        response = web.Response(status=303, headers={"Location": "/"})
        self._set_cookie(response, token)
        return response

    # Reading ---------------------------------------------------------------------------

    async def read_changes(self, chat_id: int, after: int) -> list[dict[str, Any]]:
        """Every change of the chat after `after`, as the page's JSON (all of them)."""
        found: list[dict[str, Any]] = []
        while True:
            async with self.app.sessions() as session:
                batch = await store.changes_after(session, chat_id, after, CHANGES_AT_ONCE)
            found.extend(page_json(m) for m in batch)
            if len(batch) < CHANGES_AT_ONCE or after <= 0:
                return found
            after = batch[-1].seq

    async def changes(self, request: web.Request) -> web.Response:
        """The chat's changes after `after` (for a page whose socket is down)."""
        held = await self.held(request)
        if held is None:
            raise Refusal(403, N_("web.session_gone"))
        after = _int(request.query.get("after"), 0)
        return web.json_response({"messages": await self.read_changes(held.chat_id, after)})

    async def file(self, request: web.Request) -> web.Response:
        """A file of the requesting chat."""
        held = await self.held(request)
        file_id = _int(request.match_info["file_id"], -1)
        if held is None or file_id < 0:
            raise web.HTTPNotFound()
        async with self.app.sessions() as session:
            stored = await store.file_of(session, held.chat_id, file_id)
        if stored is None:
            raise web.HTTPNotFound()
        if stored.mime.startswith(("image/", "audio/")):
            # Shown or played in the page; the type was found from the content, not a name.
            response = web.Response(body=stored.data, content_type=stored.mime)
        else:
            response = web.Response(body=stored.data, content_type="application/octet-stream")
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", stored.name) or "file"
            response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response

    # The socket ------------------------------------------------------------------------

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        """Push the chat's changes to the page as they happen; the page says what it showed."""
        self._same_origin(request)
        held = await self.held(request)
        if held is None:
            raise Refusal(403, N_("web.session_gone"))
        socket = web.WebSocketResponse(heartbeat=30.0, max_msg_size=4096)
        await socket.prepare(request)
        try:
            hello = await socket.receive_json(timeout=15)
        except (TypeError, ValueError, TimeoutError):
            await socket.close(code=4400)
            return socket
        csrf = str(hello.get("csrf", "")) if isinstance(hello, dict) else ""
        if not compare_digest(csrf.encode(), held.csrf.encode()):
            await socket.close(code=4403)
            return socket
        after = max(0, _int(hello.get("after"), 0))
        page = Page(held.chat_id, socket, after)
        self.hub.add(page)
        try:
            async with self.app.sessions() as session:
                unread = await store.unread(session, held.chat_id)
            initial = await self.read_changes(held.chat_id, after)
            if initial:
                page.seq = max(page.seq, initial[-1]["seq"])
            await socket.send_json({"messages": initial, "unread": unread})
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    break
                await self._from_page(page, message.data)
        finally:
            self.hub.remove(page)
        return socket

    async def _from_page(self, page: Page, data: str) -> None:
        try:
            said = json.loads(data)
        except ValueError:
            return
        if not isinstance(said, dict):
            return
        if "read" in said:
            async with self.app.sessions() as session, session.begin():
                if await store.mark_read(session, page.chat_id, _int(said["read"], 0)):
                    # On the web a letter counts as read once the page has shown it.
                    await broadcasts.read_when_shown(
                        session, self.app.clock(), web_chat=page.chat_id
                    )
        else:
            # A ping: catch up, in case a notification was lost with a dropped connection.
            self.hub.changed(page.chat_id)

    # Requests that change something ----------------------------------------------------

    async def send(self, request: web.Request) -> web.Response:
        """A text, a command or a button press from the page."""
        token = self._changing(request)
        if (request.content_length or 0) > JSON_MAX:
            raise Refusal(413, N_("web.failed"))
        try:
            body = await request.json()
        except ValueError:
            raise Refusal(400, N_("web.failed")) from None
        if not isinstance(body, dict):
            raise Refusal(400, N_("web.failed"))
        said = _said(body)
        claimed = await self._claim(request, token, said.nonce, pressed=said.message_id)
        held = claimed.held
        origin: dict[str, Any] = {
            "update_id": None,
            "user_id": held.chat_id,
            "chat_id": held.chat_id,
            "language_code": accept_language(request.headers.get("Accept-Language")),
            "channel": WEB,
        }
        event: Inbound
        # What the person typed leads the answer, written with it.
        mine: list[store.Outgoing] = []
        if said.text is not None:
            mine.append(store.Outgoing(escape(said.text, quote=False), mine=True))
            command = COMMAND.fullmatch(said.text.strip())
            if command:
                name, arg = command.group(1).lower(), (command.group(2) or "").strip()
                event = Command(**origin, name=name, arg=arg)
            else:
                event = Text(**origin, text=said.text)
        else:
            assert said.data is not None and said.message_id is not None
            event = ButtonPress(
                **origin,
                data=said.data,
                callback_id=f"web:{said.nonce}",
                message_id=said.message_id,
            )
        present = (
            [] if said.message_id is None or not claimed.pressed_present else [said.message_id]
        )
        toasts, written = await self._handle(held, event, present, mine)
        return await self._answer(held, body, toasts, [claimed.written, written])

    async def upload(self, request: web.Request) -> web.Response:
        """A photo (taken or chosen on the phone) or a sound recording (sent as a voice
        message) from the page, each checked by its content."""
        token = self._changing(request)
        limit = self.settings.upload_max_bytes
        if (request.content_length or 0) > limit + 65536:
            raise Refusal(413, N_("web.upload_too_big"))
        try:
            fields = await self._form(request, limit)
        except ValueError:
            raise Refusal(400, N_("web.failed")) from None
        photo, audio = fields.get("photo"), fields.get("audio")
        if isinstance(photo, bytes):
            data, mime, kind = photo, image_type(photo), "photo"
        elif isinstance(audio, bytes):
            data, mime, kind = audio, audio_type(audio), "voice"
        else:
            raise Refusal(400, N_("web.failed"))
        if mime is None:
            raise Refusal(415, N_("web.upload_wrong_type"))
        nonce = _nonce(_int(fields.get("nonce"), 0))
        caption = fields.get("caption")
        caption_text = (
            caption.decode("utf-8", "replace")[:1024] if isinstance(caption, bytes) else None
        )
        claimed = await self._claim(request, token, nonce, upload=(kind, mime, data))
        held = claimed.held
        event = Media(
            update_id=None,
            user_id=held.chat_id,
            chat_id=held.chat_id,
            language_code=accept_language(request.headers.get("Accept-Language")),
            channel=WEB,
            kind="voice" if kind == "voice" else "photo",
            file_id=web_ref(claimed.file_id) if claimed.file_id is not None else None,
            mime_type=mime,
            caption=caption_text or None,
            file_size=len(data),
        )
        toasts, written = await self._handle(held, event)
        body = {"after": _int(fields.get("after"), 0)}
        return await self._answer(held, body, toasts, [claimed.written, written])

    async def _form(self, request: web.Request, limit: int) -> dict[str, bytes]:
        """The multipart fields, none larger than the upload limit."""
        fields: dict[str, bytes] = {}
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return fields
            if not isinstance(part, BodyPartReader) or part.name is None:
                raise ValueError("nested multipart")
            data = bytearray()
            while chunk := await part.read_chunk(65536):
                data.extend(chunk)
                if len(data) > limit:
                    raise Refusal(413, N_("web.upload_too_big"))
            fields[part.name] = bytes(data)

    async def _claim(
        self,
        request: web.Request,
        token: str,
        nonce: int,
        upload: tuple[str, str, bytes] | None = None,
        pressed: int | None = None,
    ) -> Claimed:
        """Let the request in and record it, in one transaction: its session (the CSRF token
        and the per-chat limit) and whether the message a button sits under is there, read
        in one statement; its nonce (a replay is refused); an upload it carries (its kind,
        "photo" or "voice", its type and bytes). A refusal writes nothing."""
        now = self.app.clock()
        written = None
        async with self.app.sessions() as session, session.begin():
            if pressed is None:
                found, present = await store.session_for(session, token), False
            else:
                both = await store.session_with_message(session, token, pressed)
                found, present = (None, False) if both is None else both
            held = self._let_in(request, found)
            if not await conversations.mark_processed(session, nonce, now, WEB):
                raise Refusal(409, N_("web.replayed"))
            if upload is not None:
                # Stored before the engine runs: the event names the file.
                kind, mime, data = upload
                mine = store.Outgoing(
                    "",
                    file=(mime, kind, data),
                    photo=kind == "photo",
                    voice=kind == "voice",
                    mine=True,
                )
                written = await store.write(session, held.chat_id, [mine], now)
        file_id = None
        if written is not None and written.messages:
            self.hub.changed(held.chat_id, Fresh.of(written))
            file_id = written.messages[0].file_id
        return Claimed(held, written, file_id, present)

    async def _handle(
        self,
        held: Held,
        event: Inbound,
        present: list[int] | None = None,
        mine: list[store.Outgoing] | None = None,
    ) -> tuple[list[dict[str, Any]], store.Written | None]:
        """Run the event through the engine (or the web's own buttons) and write what the
        person sent (`mine`) and the answer to the chat in one transaction; the toasts to
        show and what was written."""
        writer = AnswerWriter(self.messenger, held.chat_id, present or (), mine or ())
        callback = event.callback_id if isinstance(event, ButtonPress) else None
        if callback is not None:
            self.answers.expect(callback)
        try:
            if isinstance(event, ButtonPress) and event.data in (LINK_NEW, LINK_REVOKE):
                await self._link_button(held, event, writer)
            else:
                await self.app.on_event(event, writer)
                if isinstance(event, Command) and event.name == "mydata":
                    language = await self._language_of(held.chat_id)
                    await self.offer_link(held.chat_id, language, writer)
        finally:
            toasts = self.answers.take(callback) if callback is not None else []
            # Whatever the answer held when it ended is the person's: written even when a
            # later step failed, as each message was when they were written one by one.
            try:
                written: store.Written | None = await writer.commit()
            except MessengerError as error:
                log.warning("could not store the answer for web chat %s: %r", held.chat_id, error)
                written = None
        return [{"text": t.text, "alert": t.alert} for t in toasts], written

    async def _answer(
        self,
        held: Held,
        body: dict[str, Any],
        toasts: list[dict[str, Any]],
        written: list[store.Written | None],
    ) -> web.Response:
        """The changes since the page's `after`: from what this request wrote when that is
        all of them, else read back."""
        after = max(0, _int(body.get("after"), 0))
        messages = changes_from(after, written)
        if messages is None:
            messages = await self.read_changes(held.chat_id, after)
        return web.json_response({"messages": messages, "toasts": toasts})

    # The personal link ----------------------------------------------------------------

    async def _language_of(self, chat_id: int) -> str:
        async with self.app.sessions() as session:
            person = await people.by_address(session, WEB, chat_id)
        return person.language if person is not None else self.app.settings.i18n.default_language

    async def offer_link(self, chat_id: int, language: str, messenger: Messenger) -> None:
        """Under /mydata: the buttons to make (or stop) a link that opens this chat elsewhere."""
        catalogs = self.app.catalogs
        markup = {
            "inline_keyboard": [
                [
                    {
                        "text": catalogs.plain(language, N_("web.link_make")),
                        "callback_data": LINK_NEW,
                    }
                ],
                [
                    {
                        "text": catalogs.plain(language, N_("web.link_stop")),
                        "callback_data": LINK_REVOKE,
                    }
                ],
            ]
        }
        await messenger.send_text(chat_id, catalogs.render(language, Msg("web.link_offer")), markup)

    async def _link_button(self, held: Held, event: ButtonPress, messenger: Messenger) -> None:
        language = await self._language_of(held.chat_id)
        catalogs = self.app.catalogs
        async with self.app.sessions() as session, session.begin():
            if event.data == LINK_NEW:
                key = await store.new_link(session, held.chat_id)
                said = Msg("web.link_made", link=f"{self.settings.base_url}/k/{key}")
            else:
                await store.revoke_link(session, held.chat_id)
                ended = await store.end_other_sessions(session, held.chat_id, held.token_hash)
                said = Msg("web.link_stopped", count=ended)
        await messenger.send_text(held.chat_id, catalogs.render(language, said))

    async def healthz(self, _: web.Request) -> web.Response:
        """For a load balancer: the database answers; how many pages this instance holds."""
        status, body = await health(self.app, self.service)
        return web.json_response({**body, "web_pages": self.hub.count}, status=status)

    # Serving ------------------------------------------------------------------------------

    @asynccontextmanager
    async def serving_listener(self) -> AsyncIterator[None]:
        """Push what other instances write (PostgreSQL's NOTIFY) while in the block."""
        async with store.listening(self.app.db, self.hub.changed) as listens:
            if listens:
                log.info("web channel: listening for other instances' messages")
            yield

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[web.AppRunner]:
        """Listen on the configured address (and for other instances' changes) in the block."""
        runner = web.AppRunner(self.application(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.listen_host, self.settings.listen_port)
        try:
            await site.start()
        except OSError as error:
            await runner.cleanup()
            where = f"{self.settings.listen_host}:{self.settings.listen_port}"
            raise ConfigError(
                f"web.listen_port: cannot listen on {where} ({error.strerror})"
            ) from None
        log.info(
            "web channel listening on %s:%s (public address %s)",
            self.settings.listen_host,
            self.settings.listen_port,
            self.settings.base_url,
        )
        self.app.channels[WEB] = self.messenger
        try:
            async with self.serving_listener():
                yield runner
        finally:
            self.app.channels.pop(WEB, None)
            await self.hub.close()
            await runner.cleanup()


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str | bytes) and value.strip().isdigit() and len(value) <= 18:
        return int(value)
    return default


def _nonce(value: Any) -> int:
    nonce = _int(value, 0)
    if not 1 <= nonce <= NONCE_MAX:
        raise Refusal(400, N_("web.failed"))
    return nonce


def _said(body: dict[str, Any]) -> Said:
    """A send request's body, checked: a text of a sane length or a button under a message."""
    nonce = _nonce(body.get("nonce"))
    kind = body.get("kind")
    if kind == "text":
        text = body.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > TEXT_MAX:
            raise Refusal(400, N_("web.failed"))
        return Said(nonce, text=text)
    if kind == "button":
        data = body.get("data")
        message_id = body.get("message_id")
        if (
            not isinstance(data, str)
            or len(data) > 64
            or not isinstance(message_id, int)
            or isinstance(message_id, bool)
        ):
            raise Refusal(400, N_("web.failed"))
        return Said(nonce, data=data, message_id=message_id)
    raise Refusal(400, N_("web.failed"))


def changes_from(after: int, written: list[store.Written | None]) -> list[dict[str, Any]] | None:
    """The chat's changes after `after`, from what one request wrote, when that is all of
    them: the sequence numbers its writes took run on from `after` with no gap, so no other
    writer's change can lie between. None when it cannot tell (then read them back)."""
    fresh: Fresh | None = None
    for part in written:
        if part is None or not part.last:
            continue
        fresh = Fresh.of(part) if fresh is None else fresh.then(Fresh.of(part))
        if fresh is None:
            return None
    changes = fresh.after(after) if fresh is not None else None
    if changes is None or (after == 0 and len(changes) > CHANGES_AT_ONCE):
        return None
    return changes


async def run(app: App, stop: asyncio.Event | None = None) -> None:
    """Serve the web channel alone (no Telegram token) until `stop` or SIGTERM/SIGINT."""
    from bot.runtimes.common import stop_on_signals
    from bot.scheduler import background

    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    runtime = WebRuntime(app)
    async with runtime.serving(), background(app) as service:
        runtime.service = service
        await stop.wait()
        await app.drain()


def new_nonce() -> int:
    """A nonce as the page makes them (for tests and benchmarks)."""
    return secrets.randbelow(NONCE_MAX) + 1
